"""Parameter trees in ``.npz`` files: a trained model's parameters saved by
one process and loaded by another (with the model's code, as source or as
serialized IR from ``Module.export``).

A tree is tuples, records, numpy arrays and numbers.  The file holds each
array as an entry ``a0``, ``a1`` ... and the tree's structure as sx text under
``__tree__``: a tuple as ``[...]``, a record as ``(Name field ...)``, an array
as ``(%array k)``, a number as itself.  Loading rebuilds the records with the
record types of the module that loads it (:meth:`myia_sx.api.Module.load_params`).
"""

from __future__ import annotations

import numpy as np

from .errors import SxTypeError, entry_point
from .forms import Form, Symbol, Vec, head_name
from .printer import dumps
from .reader import read_one
from .values import Record, RecordType, type_name

STRUCTURE = "__tree__"


@entry_point
def save_params(path, tree) -> None:
    """Write the parameter tree ``tree`` to the ``.npz`` file ``path``."""
    arrays = []

    def form(v):
        if type(v) is tuple:
            return Vec([form(x) for x in v])
        if isinstance(v, Record):
            return Form([Symbol(type(v)._sx_type.name), *map(form, v._values)])
        if type(v) is np.ndarray:
            arrays.append(v)
            return Form([Symbol("%array"), len(arrays) - 1])
        if type(v) in (float, int, bool):
            return v
        raise SxTypeError(f"save_params: cannot save a {type_name(v)} (a parameter tree holds "
                          "tuples, records, arrays and numbers)")
    text = dumps(form(tree))
    np.savez(path, **{STRUCTURE: np.array(text)}, **{f"a{k}": a for k, a in enumerate(arrays)})


def load_params(path, globals_) -> object:
    """The parameter tree in the ``.npz`` file ``path``, its records made with
    the record types named in ``globals_`` (a module's global values)."""
    with np.load(path, allow_pickle=False) as f:
        if STRUCTURE not in f.files:
            raise SxTypeError(f"{path} holds no parameter tree (no {STRUCTURE} entry: not "
                              "written by save_params)")
        text = str(f[STRUCTURE])
        arrays = {name: f[name] for name in f.files if name != STRUCTURE}

    def build(x):
        if type(x) is Vec:
            return tuple(map(build, x.items))
        if type(x) is Form and head_name(x) == "%array":
            return arrays[f"a{x.items[1]}"]
        if type(x) is Form:
            name = head_name(x)
            rt = globals_.get(name)
            if type(rt) is not RecordType:
                raise SxTypeError(f"{path}: the module defines no record type {name}")
            if len(x.items) - 1 != len(rt.fields):
                raise SxTypeError(f"{path}: a record {name} of {len(x.items) - 1} fields, where "
                                  f"the module's has {len(rt.fields)}")
            return rt.make(tuple(build(v) for v in x.items[1:]))
        return x
    return build(read_one(text))
