"""Sequences: tuples, arrays along their first axis and forms (``tuple get len
cut concat first rest cons``), and the type predicates."""

from __future__ import annotations

import itertools

import numpy as np

from ..dtypes import NUMPY, dtype_of, promote
from ..errors import SxRuntimeError, SxTypeError
from ..forms import Seq
from ..values import Closure, Record, RecordType, flat_closures, type_name
from .table import Prim, PrimShapeError, check_axis, check_index, num_or_array, prim, scalar, shape_text

@prim("tuple", 0, None)
def _tuple(*xs):
    """A tuple of the arguments."""
    return xs



@prim("get", 2, None)
def get_item(x, *idx):
    """Element i of a tuple or form; (get a i j ...) indexes an array."""
    t = type(x)
    if t is tuple:
        if len(idx) != 1:
            raise SxTypeError("get on a tuple takes one index")
        return x[check_index("get", len(x), idx[0], "tuple")]
    if t is np.ndarray:
        if len(idx) > x.ndim:
            raise PrimShapeError(f"{len(idx)} indices for an array of rank {x.ndim}")
        for k, i in enumerate(idx):
            check_index("get", x.shape[k], i, f"axis {k} of an array")
        return scalar(x[idx])
    if isinstance(x, Seq):
        if len(idx) != 1:
            raise SxTypeError("get on a form takes one index")
        return x.items[check_index("get", len(x.items), idx[0], "form")]
    raise SxTypeError(f"get expects a tuple, array or form, got {type_name(x)}")


@prim("len", 1)
def _len(x):
    """Length of a tuple, form, string, or first axis of an array."""
    t = type(x)
    if t is tuple or t is str:
        return len(x)
    if isinstance(x, Seq):
        return len(x.items)
    if t is np.ndarray:
        if x.ndim == 0:
            raise PrimShapeError("len of a rank-0 array")
        return int(x.shape[0])
    raise SxTypeError(f"len expects a tuple, array or form, got {type_name(x)}")


@prim("cut", 1, 3)
def _cut(x, start=None, end=None):
    """Slice [start, end) of a tuple, form or array (first axis)."""
    for v in (start, end):
        if v is not None and type(v) is not int:
            raise SxTypeError(f"cut bounds must be integers or None, got {type_name(v)}")
    t = type(x)
    if t is np.ndarray and x.ndim == 0:
        raise PrimShapeError("cut of a rank-0 array")
    if t is tuple or t is np.ndarray or isinstance(x, Seq):
        return x[start:end]
    raise SxTypeError(f"cut expects a tuple, array or form, got {type_name(x)}")


@prim("concat", 1, None, {"axis": 0})
def _concat(*xs, axis=0):
    """Join arrays along :axis (default 0), or join tuples, or join forms (tuples
    of forms may follow a first form)."""
    if all(type(x) is np.ndarray for x in xs):
        for k, x in enumerate(xs, 1):
            num_or_array("concat", x, k)
            if x.ndim == 0:
                raise PrimShapeError("concat of a rank-0 array")
        if type(axis) is not int:
            raise SxTypeError(f":axis of concat must be an integer, got {type_name(axis)}")
        check_axis(axis, xs[0].ndim, "concat")
        try:
            return np.concatenate(xs, axis=axis, dtype=NUMPY[promote(*map(dtype_of, xs))])
        except ValueError:
            raise PrimShapeError(" ++ ".join(shape_text(x) for x in xs)) from None
    if all(type(x) is tuple for x in xs):
        return tuple(itertools.chain.from_iterable(xs))
    if isinstance(xs[0], Seq) and all(isinstance(x, Seq) or type(x) is tuple for x in xs):
        return type(xs[0])(itertools.chain.from_iterable(
            x if type(x) is tuple else x.items for x in xs), xs[0].span)
    raise SxTypeError("concat expects all arrays, all tuples or all forms, got "
                      + ", ".join(type_name(x) for x in xs))


@prim("first", 1)
def _first(x):
    """First element of a form or tuple."""
    items = x.items if isinstance(x, Seq) else x if type(x) is tuple else None
    if items is None:
        raise SxTypeError(f"first expects a form or tuple, got {type_name(x)}")
    if not items:
        raise SxRuntimeError("first of an empty sequence")
    return items[0]


@prim("rest", 1)
def _rest(x):
    """All but the first element of a form or tuple (same kind)."""
    if isinstance(x, Seq):
        return type(x)(x.items[1:], x.span)
    if type(x) is tuple:
        return x[1:]
    raise SxTypeError(f"rest expects a form or tuple, got {type_name(x)}")


@prim("cons", 2)
def _cons(x, seq):
    """seq with x in front (same kind)."""
    if isinstance(seq, Seq):
        return type(seq)((x,) + seq.items, seq.span)
    if type(seq) is tuple:
        return (x,) + seq
    raise SxTypeError(f"cons expects a form or tuple as argument 2, got {type_name(seq)}")


@prim("%closure-tuple", 1, differentiable=False)
def _closure_tuple(x):
    """x with each closure in it written as the tuple of what it captured: a
    closure that a specialized program reads from a global
    (myia_sx/passes/specialize.py)."""
    return flat_closures(x)



# -- predicates --------------------------------------------------------------------

@prim("record-values", 1)
def record_values(r):
    """The tuple of the field values of record r, in field order."""
    if not isinstance(r, Record):
        raise SxTypeError(f"record-values expects a record, got {type_name(r)}")
    return r._values


@prim("record-like", 2)
def record_like(r, values):
    """A record of r's type holding values, a tuple of one value per field."""
    if not isinstance(r, Record):
        raise SxTypeError(f"record-like expects a record as argument 1, got {type_name(r)}")
    rt = type(r)._sx_type
    if type(values) is not tuple or len(values) != len(rt.fields):
        raise SxTypeError(f"record-like expects a tuple of {len(rt.fields)} values (the fields "
                          f"of {rt.name}) as argument 2, got {type_name(values)}")
    return rt.make(values)


def _pred(name, test, doc):
    def impl(x):
        return test(x)
    impl.__doc__ = doc
    prim(name, 1)(impl)


_pred("tuple?", lambda x: type(x) is tuple, "True for a tuple.")
_pred("record?", lambda x: isinstance(x, Record), "True for a record.")
_pred("array?", lambda x: type(x) is np.ndarray, "True for an array.")
_pred("number?", lambda x: type(x) in (int, float, np.float32), "True for a number.")
_pred("bool?", lambda x: type(x) is bool, "True for a bool.")
_pred("none?", lambda x: x is None, "True for None.")
_pred("function?", lambda x: type(x) in (Closure, Prim, RecordType), "True for a function.")

