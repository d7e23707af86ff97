(require myia_sx.sx :as sx)

(sx.defn g [x]
  (+ x #{1 2}))
