"Hy macros that write sx code, required by hy_layers.hy under a prefix."

(defmacro relu-layer [name]
  "(relu-layer NAME): an sx layer (defn NAME [W b x] (relu (+ (@ W x) b)))."
  `(defn ~name [W b x] (relu (+ (@ W x) b))))

(defn swap-call [f a b]
  "A Hy function over models, to be used as an sx macro: (f a b) -> (f b a)."
  `(~f ~b ~a))

(defn add-hundred [x]
  "A Hy function over models, to be used as an sx macro: its `tmp` never
  captures the caller's."
  `(let [tmp 100] (+ tmp ~x)))
