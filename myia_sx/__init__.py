"""myia_sx: a compiled, differentiable language for deep learning, as a Lisp.

Programs are S-expressions; the same S-expressions are the source, the IR at
every stage and the exchange format.  See ``docs/``.
"""

from .api import (Function, Module, Session, dumps, grad, jvp, load, load_string, loads, read,
                  register_macro, value_and_grad, vjp)
from .errors import (SxError, SxGradError, SxInternalError, SxMacroError, SxNameError,
                     SxRuntimeError, SxShapeError, SxSyntaxError, SxTypeError)
from .forms import Form, Keyword, Symbol, Vec
from .params import save_params
from .train import fit, plot_history
from .version import __version__


def install_import_hook():
    """Let ``import model`` load ``model.sx`` from ``sys.path`` (idempotent).

    Appends the ``.sx`` finder to ``sys.meta_path`` and returns it; see
    ``docs/import.md``.  ``import myia_sx`` alone installs nothing.
    """
    from .importer import install

    return install()


__all__ = ["load", "load_string", "read", "loads", "dumps", "Module", "Function", "Session",
           "register_macro", "save_params", "fit", "plot_history", "grad", "value_and_grad", "vjp", "jvp",
           "SxError", "SxSyntaxError", "SxMacroError", "SxNameError", "SxTypeError",
           "SxShapeError", "SxGradError", "SxRuntimeError", "SxInternalError",
           "Symbol", "Keyword", "Form", "Vec", "install_import_hook", "__version__"]
