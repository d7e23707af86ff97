"Hy functions used as sx macros (sx.module :macros ...), hygienically; sx.defn
 required under another name."

(require myia_sx.sx :as sx)
(require myia_sx.sx [defn :as sx-defn])
(import hy_helpers [add-hundred swap-call])

(setv m (sx.module :macros {"add-hundred" add-hundred "swap" swap-call}
  (defn f [tmp] (add-hundred tmp))
  (defn g [x] (let [tmp x] (add-hundred (* tmp 2))))
  (defn h [a b] (swap - a b))))

(sx-defn twice [x] (* 2 x))
