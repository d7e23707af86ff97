(require myia_sx.sx :as sx)

(sx.defn h [x]
     (let [a] x))
