"sx functions whose errors happen when they run."

(require myia_sx.sx :as sx)
(require hy_helpers :as helpers)

(setv m (sx.module
  (defn safe-div [a b] (// a b))
  (defn mm [a b]
    (@ a b))
  (helpers.relu-layer layer)))
