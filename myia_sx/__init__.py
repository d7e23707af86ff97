"""myia_sx: a compiled, differentiable language for deep learning, as a Lisp.

Programs are S-expressions; the same S-expressions are the source, the IR at
every stage and the exchange format.  See ``docs/`` and ``../shared/DESIGN.md``.
"""

from .api import Function, Module, dumps, load, load_string, loads, read
from .errors import (SxError, SxGradError, SxInternalError, SxMacroError, SxNameError,
                     SxRuntimeError, SxShapeError, SxSyntaxError, SxTypeError)
from .forms import Form, Keyword, Symbol, Vec

__version__ = "0.1.0"

__all__ = ["load", "load_string", "read", "loads", "dumps", "Module", "Function",
           "SxError", "SxSyntaxError", "SxMacroError", "SxNameError", "SxTypeError",
           "SxShapeError", "SxGradError", "SxRuntimeError", "SxInternalError",
           "Symbol", "Keyword", "Form", "Vec", "__version__"]
