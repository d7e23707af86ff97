"""Differentiation support: ``%J``, the makers of ``grad`` and friends, and the
operations on sensitivities that the J transform generates."""

from __future__ import annotations

from .. import ad as _ad_module
from ..errors import SxTypeError
from ..forms import Keyword
from ..values import type_name
from .table import prim

def _ad():
    return _ad_module


@prim("%J", 1)
def _J(f):
    """The J-transform of a value: a function returning [value backpropagator]."""
    return _ad().J(f)


@prim("%J-shallow", 1)
def _J_shallow(c):
    """The J-transform of a closure whose captured values are J-values already."""
    return _ad().J_shallow(c)


def _maker_prim(name, kind, kwargs, doc):
    def impl(jf, **kw):
        return _ad().make(kind, jf, **kw)
    impl.__doc__ = doc
    prim(name, 1, 1, kwargs)(impl)


_maker_prim("%grad", "grad", {"wrt": 0},
            "(%grad (%J f) :wrt w): the gradient function of f (what grad expands to).")
_maker_prim("%value-and-grad", "value-and-grad", {"wrt": 0},
            "(%value-and-grad (%J f) :wrt w): f's [value gradient] function.")
_maker_prim("%vjp", "vjp", None,
            "(%vjp (%J f)): the function of x ... giving [(f x ...) back].")
_maker_prim("%jvp", "jvp", None,
            "(%jvp (%J f)): the function of [x ...] [dx ...] giving [value tangent].")


@prim("%param-index", 2)
def _param_index(f, k):
    """1 + the position of the parameter named by keyword k in function f's
    parameters (where a backpropagator puts its sensitivity)."""
    code = getattr(f, "code", None)
    names = code.param_names if code is not None else ()
    if type(k) is not Keyword or k.name not in names:
        raise SxTypeError(f"{getattr(f, 'name', type_name(f))} has no parameter named "
                          f"{getattr(k, 'name', k)}")
    return 1 + names.index(k.name)


@prim("%zero?", 1)
def _sens_zero(s):
    """True for the zero sensitivity (None): a backpropagator skips its work then."""
    return s is None


@prim("%sens+", 2)
def _sens_add(a, b):
    """Add two sensitivities (None is zero; tuples, records and closure sensitivities by part)."""
    return _ad().sens_add(a, b)


@prim("%sens-out", 2)
def _sens_out(x, s):
    """The gradient for x from its sensitivity s: x's structure, zeros where None."""
    return _ad().sens_out(x, s)


@prim("%sens-get", 2)
def _sens_get(d, i):
    """Element i of a tuple sensitivity (None stays None)."""
    return _ad().sens_get(d, i)


@prim("%sens-at", 3)
def _sens_at(like, i, v):
    """A tuple sensitivity shaped like tuple like: v at i, None elsewhere."""
    return _ad().sens_at(like, i, v)


@prim("%env-sens", 0, None)
def _env_sens(*kv):
    """(%env-sens 'x dx ...): the sensitivity of a closure's captured variables."""
    return _ad().env_sens(*kv)


@prim("%env-get", 2)
def _env_get(e, k):
    """The sensitivity of captured variable k in a closure sensitivity (None if none)."""
    return _ad().env_get(e, k)


@prim("%field-sens", 3)
def _field_sens(r, name, v):
    """A record sensitivity of r's type: v in field name, None elsewhere."""
    return _ad().field_sens(r, name, v)


@prim("%sens-field", 2)
def _sens_field(d, name):
    """Field name of a record sensitivity (None stays None)."""
    return _ad().sens_field(d, name)


@prim("%check-like", 3)
def _check_like(like, v, what):
    """v, if it has the structure of like (an SxGradError naming what otherwise)."""
    return _ad().check_like(like, v, what)


@prim("%check-tuple", 3)
def _check_tuple(v, n, what):
    """v, if it is a tuple of n elements (an SxGradError naming what otherwise)."""
    return _ad().check_tuple(v, n, what)


@prim("%grad-seed", 1, 2)
def _grad_seed(y, f=None):
    """1 of the type of scalar y (an error for a non-scalar output of function f): where grad starts."""
    return _ad().grad_seed(y, f)


@prim("unbroadcast", 2)
def _unbroadcast(d, x):
    """Sum sensitivity d down to the shape of x (undo broadcasting)."""
    return _ad().unbroadcast(d, x)


@prim("unreduce", 4)
def _unreduce(d, x, axis, keepdims):
    """Broadcast the sensitivity d of a reduction over axis back to x's shape."""
    return _ad().unreduce(d, x, axis, keepdims)


@prim("%zeros-like", 1)
def _zeros_like(x):
    """The zero of x's type and structure (tuples and records by part)."""
    return _ad().zeros_like(x)



@prim("split-like", 3)
def _split_like(d, xs, axis):
    """Cut d (a concatenation along axis) into pieces shaped like the tuple xs."""
    return _ad().split_like(d, xs, axis)


@prim("join-like", 3)
def _join_like(ds, xs, axis):
    """Concatenate pieces ds (None: zeros shaped like the piece of xs) along axis."""
    return _ad().join_like(ds, xs, axis)

