"""The primitive table: one row per primitive.

Each :class:`Prim` row holds the name, the arity (positional minimum and
maximum, ``None`` for variadic), the keyword arguments it declares with their
defaults, the Python implementation used by the reference interpreter, and
slots that later stages fill in: the type/shape rule, the derivative rule
(written in ``.sx``) and the backend emitters.  Nothing outside this package
lists primitives.  The rows are defined by family, one module each:
:mod:`.numeric` (arithmetic, math, comparisons, reductions), :mod:`.arrays`,
:mod:`.sequences` (tuples, indexing, predicates), :mod:`.syntax` (forms as
data, for macros) and :mod:`.sens` (what differentiation generates).

Implementations raise :class:`SxError` subclasses without a span; the
interpreter attaches the span of the calling form.  Scalars follow Python
(``i64`` wraps around at 64 bits, mixed ``i64``/``f64`` promotes to ``f64``,
``/`` is true division), floats follow IEEE (``(/ 1.0 0.0)`` is ``Inf``,
``(log -1.0)`` is ``NaN``), arrays follow numpy broadcasting.
"""

from . import arrays, numeric, sens, sequences, syntax  # noqa: F401  (they fill the table)
from . import type_rules  # noqa: F401,E402  (the type rules of the rows)
from .table import (CALL_SITE_MARKS, PRIMS, MacroSyntaxError, Prim, PrimConst, PrimShapeError,
                    prim, rule_name, scalar)

__all__ = ["PRIMS", "Prim", "PrimConst", "PrimShapeError", "MacroSyntaxError", "CALL_SITE_MARKS",
           "prim", "rule_name", "scalar"]
