"Hy macros for writing myia_sx code in a Hy file.

  (require myia_sx.sx :as sx)
  (sx.defn square [x] (* x x))        ; defines the Hy name `square`
  (setv m (sx.module (defn f [x] ...) (defn g [x] (f x))))

The arguments are sx code, not Hy code.  They are converted to forms when the
macro expands, with their positions in this file, and rebuilt when the code
runs (see `myia_sx.hy_bridge.expand`), so every error in them points into the
.hy file.  Calls of Hy macros defined or required in the calling module are
expanded by Hy first, so a Hy macro can write sx code."

(pragma :warn-on-core-shadow False)

(defmacro defn [_hy_compiler #* args]
  "(sx.defn name [params] body): compile the sx function `name`, bind it to
  the Hy name `name` as a Python callable (`myia_sx.api.Function`), and
  evaluate to it."
  (import myia_sx.hy_bridge [expand])
  (expand _hy_compiler "defn"))

(defmacro module [_hy_compiler #* forms]
  "(sx.module form ...): compile the sx top-level forms (defn, def,
  defrecord, defmacro, require ...) as one module and evaluate to it
  (a `myia_sx.api.Module`).  (sx.module :macros {\"name\" f} form ...)
  also makes each Hy function `f` over models an sx macro of the module."
  (import myia_sx.hy_bridge [expand])
  (expand _hy_compiler "module"))
