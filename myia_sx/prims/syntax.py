"""Forms as data, for macros: ``list vector gensym unhygienic syntax-error str
symbol name``."""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import SxRuntimeError, SxSyntaxError, SxTypeError
from ..forms import Form, Keyword, Symbol, Vec
from ..printer import dump_atom
from ..values import _f32_text, type_name
from .table import CALL_SITE_MARKS, MacroSyntaxError, prim

@prim("list", 0, None, differentiable=False)
def _list(*xs):
    """A parenthesised form of the arguments."""
    return Form(xs)


@prim("vector", 0, None, differentiable=False)
def _vector(*xs):
    """A bracket form of the arguments."""
    return Vec(xs)


_gensym_counter = itertools.count(1)


@prim("gensym", 0, 1, differentiable=False)
def _gensym(base="g"):
    """A fresh symbol, base%gN (names with % are the compiler's: do not write them)."""
    if isinstance(base, Symbol):
        base = base.name
    if type(base) is not str:
        raise SxTypeError(f"gensym expects a string or symbol, got {type_name(base)}")
    return Symbol(f"{base}%g{next(_gensym_counter)}")


@prim("unhygienic", 1, differentiable=False)
def _unhygienic(s):
    """Inside a macro: symbol s as if the user wrote it at the call site, so it
    binds and refers in the user's code (anaphoric macros, e.g. loop's recur)."""
    if type(s) is not Symbol:
        raise SxTypeError(f"unhygienic expects a symbol, got {type_name(s)}")
    marks = CALL_SITE_MARKS.get()
    if marks is None:
        raise SxRuntimeError("unhygienic is only meaningful while a macro expands")
    return Symbol(s.name, s.span, marks)


@prim("syntax-error", 1, 2, differentiable=False)
def _syntax_error(message, form=None):
    """Inside a macro: report a syntax error at form (else at the macro call)."""
    if type(message) is not str:
        raise SxTypeError(f"syntax-error expects a message string, got {type_name(message)}")
    span = getattr(form, "span", None)
    if CALL_SITE_MARKS.get() is None:
        raise SxSyntaxError(message, span)   # called outside a macro: located at the call
    raise MacroSyntaxError(message, span)


@prim("str", 0, None, differentiable=False)
def _str(*xs):
    """Concatenate strings, names of symbols and keywords, and numbers as text."""
    out = []
    for x in xs:
        t = type(x)
        if t is str:
            out.append(x)
        elif t is Symbol or t is Keyword:
            out.append(x.name)
        elif t in (int, float, bool) or x is None:
            out.append(dump_atom(x))
        elif t is np.float32:
            out.append(_f32_text(x, dump_atom))   # as the REPL writes an f32
        else:
            raise SxTypeError(f"str expects strings, symbols, keywords or numbers, "
                              f"got {type_name(x)}")
    return "".join(out)


@prim("symbol", 1, differentiable=False)
def _symbol(name):
    """The symbol with the given name (a string)."""
    if type(name) is not str or not name:
        raise SxTypeError(f"symbol expects a non-empty string, got {type_name(name)}")
    return Symbol(name)


@prim("name", 1, differentiable=False)
def _name(x):
    """The name of a symbol or keyword, as a string."""
    if type(x) in (Symbol, Keyword):
        return x.name
    raise SxTypeError(f"name expects a symbol or keyword, got {type_name(x)}")


def _form_pred(name, test, doc):
    def impl(x):
        return test(x)
    impl.__doc__ = doc
    prim(name, 1, differentiable=False)(impl)


_form_pred("symbol?", lambda x: type(x) is Symbol, "True for a symbol.")
_form_pred("keyword?", lambda x: type(x) is Keyword, "True for a keyword.")
_form_pred("string?", lambda x: type(x) is str, "True for a string.")
_form_pred("list?", lambda x: type(x) is Form, "True for a parenthesised form.")
_form_pred("vector?", lambda x: type(x) is Vec, "True for a bracket form.")
