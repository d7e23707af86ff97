"""Type inference on random well-typed programs (the grammar of
test_grad_random.py: let, if, closures, loops, tuples, records, arrays,
helpers taking functions): each program and its gradients, first and second
order, are specialized; the typed program passes the Lmono checker, and the
interpreter runs it checking every value against its inferred type, to the
same result as the untyped program.  A second-order gradient may instead
meet one of the documented limits (:data:`LIMITS`): a located error, never
an internal one or a wrong value."""

import numpy as np
from hypothesis import HealthCheck, given, settings

import myia_sx
from myia_sx import interp, pipeline
from myia_sx.errors import SxTypeError
from test_grad_random import (FIRST_ORDER, FIRST_ORDER_GRAD, SECOND_ORDER, SECOND_ORDER_GRAD,
                              generic_values, programs, rebuild)


def same(a, b):
    if isinstance(a, tuple) or hasattr(a, "_values"):
        a = a if isinstance(a, tuple) else a._values
        b = b if isinstance(b, tuple) else b._values
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-12, atol=1e-14)
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def agree(m, name, args):
    """``name`` specialized to ``args`` runs (checked) to the interpreter's result."""
    fn = m._env.globals[name]
    sp = pipeline.specialize(fn, args, env=m._env, verify=True)
    assert same(sp.run(m._env, args), interp.run(fn, list(args))), name
    return sp


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(programs(FIRST_ORDER, depth=4), generic_values(15))
def test_random_programs_and_their_gradients(src, values):
    m = myia_sx.load_string(src + FIRST_ORDER_GRAD)
    template = (0.0, 0.0, (0.0, 0.0), m.P(0.0, 0.0), np.zeros(3), np.zeros((2, 3)))
    args = rebuild(template, iter(values))
    agree(m, "f", args)
    sp = agree(m, "df", args)
    # the gradient has the structure and types of the arguments
    assert [str(t) for t in sp.result.items] == [str(t) for t in sp.arg_types]


# What inference cannot type yet in a second-order gradient (docs/types.md,
# "Limits"): the results of the members of a union of functions that are
# neither joined nor told apart by their length (a sum of two tuples of the
# same length), and a buffer of a differentiated loop whose elements change
# type from one iteration to the next.
LIMITS = ("the functions this call may reach return values of types that cannot be joined",
          "cannot destructure",   # the same, seen where a member's result is taken apart
          "a buffer holds values of one type")


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(programs(SECOND_ORDER, depth=3), generic_values(2))
def test_random_programs_second_order(src, values):
    m = myia_sx.load_string(src + SECOND_ORDER_GRAD)
    agree(m, "dx", tuple(values))
    for name in ("ddx", "ddy"):
        try:
            agree(m, name, tuple(values))
        except SxTypeError as e:
            assert any(limit in e.message for limit in LIMITS), e
            assert e.span is not None
