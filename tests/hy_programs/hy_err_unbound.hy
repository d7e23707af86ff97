(require myia_sx.sx :as sx)

(setv m (sx.module
  (defn f [x]
    (+ x undefined-name))))
