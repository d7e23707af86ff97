"A two-layer network written in sx inside Hy.

An sx macro (`deflayer`) and Hy macros (`hy-dense` here, `relu-layer` from
hy_helpers.hy) write layers; the module's `mlp` and `relu-net` use them, and
Hy calls them on numpy arrays."

(require myia_sx.sx :as sx)
(require hy_helpers :as helpers)
(import numpy :as np)

(sx.defn cube [x] "x to the third." (* x (* x x)))

(defmacro hy-dense [name activation]
  "A Hy macro writing an sx layer: (defn NAME [W b x] (ACTIVATION (+ (@ W x) b)))."
  `(defn ~name [W b x] (~activation (+ (@ W x) b))))

(setv net (sx.module
  (defmacro deflayer [name params inputs body]
    `(defn ~name [~@params ~@inputs] ~body))
  (deflayer dense [W b] [x] (tanh (+ (@ W x) b)))
  (hy-dense out-layer sigmoid)
  (helpers.relu-layer hidden-relu)
  (defrecord Params [W1 b1 W2 b2])
  (defn mlp [p x] (out-layer p.W2 p.b2 (dense p.W1 p.b1 x)))
  (defn relu-net [p x] (out-layer p.W2 p.b2 (hidden-relu p.W1 p.b1 x)))
  (defn quoted [] '(hy-dense not expanded))))

(defn make-params [seed]
  "Random parameters for a 3 -> 4 -> 2 network."
  (setv rng (np.random.default-rng seed))
  (net.Params (rng.normal :size #(4 3)) (rng.normal :size 4)
              (rng.normal :size #(2 4)) (rng.normal :size 2)))

(defn mlp-numpy [p x [hidden np.tanh]]
  "The same network in numpy (with `hidden` as the first activation)."
  (setv h (hidden (+ (@ p.W1 x) p.b1)))
  (/ 1.0 (+ 1.0 (np.exp (- (+ (@ p.W2 h) p.b2))))))
