"""The LLVM backend: Lmono -> native code for the CPU, through llvmlite.

Input language: Lmono, the program :mod:`myia_sx.passes.specialize` writes
(``docs/types.md``, "The specialized program"): versions ``(def f@sig (%the
(-> [T ...] T) (fn [p ...] body)))`` whose every ``let`` value is typed.
This part compiles the programs whose values are numbers (``i64``, ``f64``,
``bool``), ``None``, the zero sensitivity, and tuples and records of them
(a closure is already the tuple of what it captured there); the primitives
of :data:`PRIMITIVES`.  Anything else is an :class:`SxError` naming what
the backend does not compile yet, at the form that needs it; nothing falls
back to the interpreter.

Output: a :class:`Native`, the module compiled to machine code, whose
``call`` takes and gives Python values.

Representation and invariants:

- ``i64`` is ``i64``, ``f64`` is ``double``, ``bool`` is ``i1``; ``None``,
  the zero sensitivity and ``[]`` are the empty struct; a tuple or record
  is a struct of its items, passed and returned by value.
- Each version is one LLVM function.  A call of the version itself in tail
  position is a jump to its start (a loop); any other call is a call.
- A run-time error (an integer divided by zero, a conversion of a NaN to an
  integer) stores the number of its site in the global ``sx.error`` and
  returns; every call is followed by a test of that global, so the error
  unwinds to the entry, which raises it in Python as an
  :class:`SxRuntimeError` at the source of the site.
- Recursion runs on the native stack, counted in ``sx.depth``: past
  ``sx.limit`` frames (:data:`MAX_DEPTH`, half the thread's stack) the call
  stops as an error would, and runs again from the start on a thread with a
  stack of 1 GiB (the program is pure, so running it again is safe), where
  the limit is :data:`MAX_DEPTH_BIG` (10^6 frames); past that it is an
  :class:`SxRuntimeError`, never a crash.
- The arithmetic is the interpreter's: integers wrap around, ``//`` and
  ``%`` round toward minus infinity (``%`` takes the sign of the divisor),
  floats follow IEEE 754 (a float divided by zero is an infinity or NaN).
"""

from __future__ import annotations

import ctypes
import math
import resource
import struct
import threading

import llvmlite.binding as llvm
from llvmlite import ir

from .. import core, types
from ..errors import SxRuntimeError, SxTypeError
from ..forms import Form, Keyword, Symbol, Vec, head_name
from ..values import ZERO, RecordType

I64, F64, I1, I8 = ir.IntType(64), ir.DoubleType(), ir.IntType(1), ir.IntType(8)
UNIT = ir.LiteralStructType([])


FRAME_BYTES = 512          # a generous bound on a compiled frame
BIG_STACK = 1 << 30        # the stack of the thread a deep recursion runs again on


def _main_depth():
    """Frames of compiled code allowed on the calling thread's stack: half
    the stack limit, at FRAME_BYTES a frame."""
    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    size = soft if soft != resource.RLIM_INFINITY and soft > 0 else 8 << 20
    return max(1000, size // 2 // FRAME_BYTES)


MAX_DEPTH = _main_depth()
MAX_DEPTH_BIG = BIG_STACK // 2 // FRAME_BYTES
DEEP = "recursion deeper than {} calls in compiled code"


class Unsupported(SxTypeError):
    """A program outside what the LLVM backend compiles (so far)."""


def _unsupported(what, form):
    return Unsupported(f"the LLVM backend does not compile {what} yet",
                       getattr(form, "span", None))


# -- types ------------------------------------------------------------------------------------

def ltype(t, form=None):
    """The LLVM type of values of type ``t``."""
    c = type(t)
    if c is types.Scalar:
        if t.kind == "i64":
            return I64
        if t.kind == "f64":
            return F64
        if t.kind == "bool":
            return I1
        if t.kind == "none":
            return UNIT
    elif t is types.ZeroT:
        return UNIT
    elif c is types.TupleT or c is types.RecordT:
        return ir.LiteralStructType([ltype(i, form) for i in t.items])
    raise _unsupported(f"values of type {types.describe(t)}", form)


def leaves(t):
    """The scalar types of ``t``'s parts, depth first (how the entry passes it)."""
    if type(t) in (types.TupleT, types.RecordT):
        return [x for i in t.items for x in leaves(i)]
    if type(t) is types.Scalar and t.kind in ("i64", "f64", "bool"):
        return [t.kind]
    return []


# -- compiling a program ----------------------------------------------------------------------

class _Version:
    __slots__ = ("name", "fn", "params", "arrow", "llfn")

    def __init__(self, name, fn, arrow, llfn):
        self.name, self.fn, self.arrow, self.llfn = name, fn, arrow, llfn
        self.params = fn.items[1].items


class _Compiler:
    """Writes the LLVM module of one Lmono program."""

    def __init__(self, program, globals_):
        self.globals = globals_
        self.sites = []           # (message, span) of each run-time error site
        self.module = ir.Module(name="sx")
        self.module.triple = llvm.get_process_triple()
        self.err = ir.GlobalVariable(self.module, I64, "sx.error")
        self.err.initializer = I64(0)
        self.depth = ir.GlobalVariable(self.module, I64, "sx.depth")
        self.depth.initializer = I64(0)
        self.limit = ir.GlobalVariable(self.module, I64, "sx.limit")
        self.limit.initializer = I64(MAX_DEPTH)
        self.sites.append((DEEP, None))   # site 1: too deep, wherever it happens
        self.externs = {}
        self.versions = {}
        for k, d in enumerate(program):
            name = core.top_level_name(d).name
            arrow, fn = self.typed(d.items[2])
            fnty = ir.FunctionType(ltype(arrow.result, d),
                                   [ltype(p, d) for p in arrow.params])
            llfn = ir.Function(self.module, fnty, f"v{k}")
            llfn.linkage = "internal"
            self.versions[name] = _Version(name, fn, arrow, llfn)

    def typed(self, x):
        """``(%the T e)`` -> (T, e)."""
        t, e = core.the_parts(x)
        return types.read(t, self.lookup), e

    def lookup(self, kind, name):
        return self.globals.get(name, name) if kind == "record" else name

    def compile(self):
        for v in self.versions.values():
            _Body(self, v).run()
        return self.module

    def site(self, message, form):
        self.sites.append((message, getattr(form, "span", None)))
        return I64(len(self.sites))

    def extern(self, name, n=1):
        f = self.externs.get(name)
        if f is None:
            f = self.externs[name] = ir.Function(self.module,
                                                 ir.FunctionType(F64, [F64] * n), name)
        return f

    def intrinsic(self, name, n=1):
        return self.module.declare_intrinsic(name, [F64] * n, ir.FunctionType(F64, [F64] * n))

    def entry(self, version):
        """``void sx_entry(leaf ..., i64* out)``: the entry version called with
        the leaves of its arguments, the leaves of its result stored in out."""
        arrow = version.arrow
        kinds = [k for p in arrow.params for k in leaves(p)]
        lt = {"i64": I64, "f64": F64, "bool": I8}
        fnty = ir.FunctionType(ir.VoidType(), [lt[k] for k in kinds] + [I64.as_pointer()])
        fn = ir.Function(self.module, fnty, "sx_entry")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        args = iter(fn.args[:-1])

        def build(t):
            if type(t) in (types.TupleT, types.RecordT):
                value = ir.Constant(ltype(t), ir.Undefined)
                for i, item in enumerate(t.items):
                    value = b.insert_value(value, build(item), i)
                return value
            kind = leaves(t)
            if not kind:
                return ir.Constant(ltype(t), None)
            a = next(args)
            return b.trunc(a, I1) if kind[0] == "bool" else a
        result = b.call(version.llfn, [build(p) for p in arrow.params])
        out = fn.args[-1]
        slot = 0

        def store(t, v):
            nonlocal slot
            if type(t) in (types.TupleT, types.RecordT):
                for i, item in enumerate(t.items):
                    store(item, b.extract_value(v, i))
                return
            kind = leaves(t)
            if not kind:
                return
            word = {"i64": lambda: v, "f64": lambda: b.bitcast(v, I64),
                    "bool": lambda: b.zext(v, I64)}[kind[0]]()
            b.store(word, b.gep(out, [I64(slot)]))
            slot += 1
        store(arrow.result, result)
        b.ret_void()
        return kinds


class _Body:
    """The LLVM code of one version."""

    def __init__(self, compiler, version):
        self.c = compiler
        self.v = version
        self.fn = version.llfn
        entry = self.fn.append_basic_block("entry")
        self.b = ir.IRBuilder(entry)

    def run(self):
        b, v = self.b, self.v
        depth = b.add(b.load(self.c.depth), I64(1))
        b.store(depth, self.c.depth)
        with b.if_then(b.icmp_signed(">", depth, b.load(self.c.limit)), likely=False):
            b.store(I64(1), self.c.err)
            b.store(b.sub(b.load(self.c.depth), I64(1)), self.c.depth)
            b.ret(ir.Constant(self.fn.ftype.return_type, ir.Undefined))
        # parameters live in slots, so that a self tail call stores and jumps
        self.slots = []
        for p, t, a in zip(v.params, v.arrow.params, self.fn.args):
            slot = b.alloca(a.type)
            b.store(a, slot)
            self.slots.append(slot)
        self.top = self.fn.append_basic_block("top")
        b.branch(self.top)
        b.position_at_end(self.top)
        env = {}
        for p, t, slot in zip(v.params, v.arrow.params, self.slots):
            self.bind(p, t, b.load(slot), env)
        self.body(v.fn.items[2], env, True, v.arrow.result)

    # -- control
    def ret(self, value):
        b = self.b
        b.store(b.sub(b.load(self.c.depth), I64(1)), self.c.depth)
        b.ret(value)

    def fail(self, message, form):
        """Record a run-time error at ``form`` and return."""
        b = self.b
        b.store(self.c.site(message, form), self.c.err)
        b.store(b.sub(b.load(self.c.depth), I64(1)), self.c.depth)
        b.ret(ir.Constant(self.fn.ftype.return_type, ir.Undefined))

    def check(self, cond, message, form):
        with self.b.if_then(cond, likely=False):
            self.fail(message, form)

    def bind(self, p, t, value, env):
        if type(p) is Symbol:
            env[p.name] = (t, value)
            return
        if type(t) is not types.TupleT or len(t.items) != len(p.items):
            raise _unsupported(f"taking {types.describe(t)} apart", p)
        for i, (q, u) in enumerate(zip(p.items, t.items)):
            self.bind(q, u, self.b.extract_value(value, i), env)

    def body(self, x, env, tail, want):
        """Compile body ``x``, whose value has type ``want``; in tail
        position, return its value (and give None), else give (type, value)."""
        while head_name(x) == "let":
            env = dict(env)
            items = x.items[1].items
            for i in range(0, len(items), 2):
                t, e = self.c.typed(items[i + 1])
                self.bind(items[i], t, self.expr(e, t, env), env)
            x = x.items[2]
        if head_name(x) == "if":
            return self.branch(x, env, tail, want)
        if tail and type(x) is Form and self.is_self_call(x):
            self.self_call(x, env)
            return None
        if type(x) is Symbol and x.name in env:
            value = env[x.name][1]
        else:
            value = self.expr(x, want, env)
        if tail:
            self.ret(value)
            return None
        return want, value

    def is_self_call(self, x):
        h = x.items[0]
        return type(h) is Symbol and h.name == self.v.name

    def self_call(self, x, env):
        values = [self.atom(a, env)[1] for a in x.items[1:]]
        for slot, value in zip(self.slots, values):
            self.b.store(value, slot)
        self.b.branch(self.top)

    def branch(self, x, env, tail, want):
        b = self.b
        _, cond, yes, no = x.items
        ct, cv = self.atom(cond, env)
        if ct.kind != "bool":
            raise _unsupported(f"an if on {types.describe(ct)}", x)
        then, other = self.fn.append_basic_block("then"), self.fn.append_basic_block("else")
        b.cbranch(cv, then, other)
        results = []
        for block, arm in ((then, yes), (other, no)):
            b.position_at_end(block)
            got = self.body(arm, env, tail, want)
            if not tail:
                results.append((got, b.block))
        if tail:
            return None
        (t, a), a_end = results[0]
        (_, c), c_end = results[1]
        join = self.fn.append_basic_block("join")
        for end in (a_end, c_end):
            b.position_at_end(end)
            b.branch(join)
        b.position_at_end(join)
        phi = b.phi(a.type)
        phi.add_incoming(a, a_end)
        phi.add_incoming(c, c_end)
        return t, phi

    # -- expressions
    def atom(self, a, env):
        """(type, value) of an atom."""
        if type(a) is Symbol:
            if a.name in env:
                return env[a.name]
            if a.name == "%zero":
                return types.ZeroT, ir.Constant(UNIT, None)
            v = self.c.globals.get(a.name)
            if type(v) in (int, float, bool):
                return self.constant(v, a)
            raise _unsupported(f"the global {a.name} as a value", a)
        if type(a) in (int, float, bool) or a is None:
            return self.constant(a, a)
        if head_name(a) == "quote" and type(a.items[1]) is Symbol:
            # a field name, for the primitives that take one; no value
            return types.Scalar("sym", a.items[1].name), None
        raise _unsupported(f"the constant {a}", a)

    def constant(self, v, form):
        if v is None:
            return types.NoneT, ir.Constant(UNIT, None)
        if type(v) is bool:
            return types.Scalar("bool", v), I1(int(v))
        if type(v) is int:
            return types.Scalar("i64", v), I64(v)
        return types.Scalar("f64", v), F64(v)

    def expr(self, e, t, env):
        """The value of ``e`` (a ``c`` of Lmono) of type ``t``."""
        if type(e) is Vec:
            value = ir.Constant(ltype(t, e), ir.Undefined)
            for i, a in enumerate(e.items):
                value = self.b.insert_value(value, self.atom(a, env)[1], i)
            return value if e.items else ir.Constant(ltype(t, e), None)
        if type(e) is not Form:
            if type(t) is types.Scalar and t.known() and t.kind in ("i64", "f64", "bool"):
                return self.constant(t.value, e)[1]
            return self.atom(e, env)[1]
        h = head_name(e)
        if h == "if":
            return self.branch(e, env, False, t)[1]
        if h == ".":
            rt, rv = self.atom(e.items[1], env)
            if type(rt) is not types.RecordT:
                raise _unsupported(f"a field of {types.describe(rt)}", e)
            return self.b.extract_value(rv, rt.rtype.fields.index(e.items[2].name))
        if h == "quote":
            raise _unsupported("quoted data", e)
        if any(type(a) is Keyword for a in e.items[1:]):
            raise _unsupported(f"the keyword arguments of {h}", e)
        args = [self.atom(a, env) for a in e.items[1:]]
        if h in self.c.versions:
            return self.call(self.c.versions[h], [v for _, v in args], t)
        g = self.c.globals.get(h)
        if type(g) is RecordType:
            return self.expr(Vec(e.items[1:]), t, env)
        emit = PRIMITIVES.get(h)
        if emit is None:
            raise _unsupported(f"the primitive {h}", e)
        return emit(self, e, t, args)

    def call(self, version, values, t):
        b = self.b
        result = b.call(version.llfn, values)
        failed = b.icmp_signed("!=", b.load(self.c.err), I64(0))
        with b.if_then(failed, likely=False):
            b.store(b.sub(b.load(self.c.depth), I64(1)), self.c.depth)
            b.ret(ir.Constant(self.fn.ftype.return_type, ir.Undefined))
        return result


# -- primitives -------------------------------------------------------------------------------
# Each takes the body, the call form, the result type and the (type, value)
# of each argument, and gives the result's value.

PRIMITIVES = {}


def _prim(*names):
    def register(fn):
        for n in names:
            PRIMITIVES[n] = fn
        return fn
    return register


def _kind(t):
    return t.kind if type(t) is types.Scalar else None


def _as(body, tv, kind, form):
    """Argument ``tv`` converted to ``kind`` (``f64`` from ``i64``)."""
    t, v = tv
    k = _kind(t)
    if k == kind:
        return v
    if k == "i64" and kind == "f64":
        return body.b.sitofp(v, F64)
    raise _unsupported(f"{head_name(form)} of {types.describe(t)}", form)


def _numeric(body, form, t, args):
    """The kind the arithmetic of ``form`` works in: its result's."""
    k = _kind(t)
    if k not in ("i64", "f64") or any(_kind(a) not in ("i64", "f64") for a, _ in args):
        raise _unsupported(f"{head_name(form)} of "
                           + ", ".join(types.describe(a) for a, _ in args), form)
    return k


@_prim("+", "-", "*")
def _arith(body, form, t, args):
    k, b = _numeric(body, form, t, args), body.b
    x, y = (_as(body, a, k, form) for a in args)
    op = head_name(form)
    if k == "i64":
        return {"+": b.add, "-": b.sub, "*": b.mul}[op](x, y)
    return {"+": b.fadd, "-": b.fsub, "*": b.fmul}[op](x, y)


@_prim("/")
def _divide(body, form, t, args):
    b = body.b
    if all(_kind(a) == "i64" for a, _ in args):
        body.check(b.icmp_signed("==", args[1][1], I64(0)), "integer division by zero", form)
    _numeric(body, form, types.Scalar("f64"), args)
    return b.fdiv(*(_as(body, a, "f64", form) for a in args))


@_prim("//", "%")
def _floor_div(body, form, t, args):
    k, b, op = _numeric(body, form, t, args), body.b, head_name(form)
    x, y = (_as(body, a, k, form) for a in args)
    if k == "f64":
        return _float_floor_div(body, x, y, op)
    body.check(b.icmp_signed("==", y, I64(0)), f"integer division by zero in {op}", form)
    # x // -1 is -x, wrapping (sdiv would trap on the smallest i64)
    minus1 = b.icmp_signed("==", y, I64(-1))
    safe = b.select(minus1, I64(1), y)
    q, r = b.sdiv(x, safe), b.srem(x, safe)
    fix = b.and_(b.icmp_signed("!=", r, I64(0)),
                 b.xor(b.icmp_signed("<", r, I64(0)), b.icmp_signed("<", safe, I64(0))))
    if op == "%":
        return b.select(minus1, I64(0), b.select(fix, b.add(r, safe), r))
    return b.select(minus1, b.sub(I64(0), x), b.select(fix, b.sub(q, I64(1)), q))


def _float_floor_div(body, x, y, op):
    """Python's float // and % (its algorithm, so that the results are the
    same to the last bit); by zero, numpy's (an infinity or NaN)."""
    b, zero = body.b, F64(0.0)

    def call(name, *xs):
        return b.call(body.c.module.declare_intrinsic(name, [F64], ir.FunctionType(
            F64, [F64] * len(xs))), list(xs))
    mod = b.frem(x, y)
    div = b.fdiv(b.fsub(x, mod), y)
    nonzero = b.fcmp_unordered("!=", mod, zero)
    fix = b.and_(b.fcmp_ordered("!=", mod, zero),
                 b.xor(b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero)))
    div = b.select(fix, b.fsub(div, F64(1.0)), div)
    if op == "%":
        mod = b.select(fix, b.fadd(mod, y), mod)
        return b.select(nonzero, mod, call("llvm.copysign", zero, y))
    floor = call("llvm.floor", div)
    floor = b.select(b.fcmp_ordered(">", b.fsub(div, floor), F64(0.5)),
                     b.fadd(floor, F64(1.0)), floor)
    q = b.select(b.fcmp_unordered("!=", div, zero), floor,
                 call("llvm.copysign", zero, b.fdiv(x, y)))
    return b.select(b.fcmp_ordered("==", y, zero), b.fdiv(x, y), q)


@_prim("**")
def _power(body, form, t, args):
    k, b = _numeric(body, form, t, args), body.b
    x, y = (_as(body, a, k, form) for a in args)
    if k == "f64":
        return b.call(body.c.intrinsic("llvm.pow", 2), [x, y])
    body.check(b.icmp_signed("<", y, I64(0)), "integer to a negative integer power", form)
    # square and multiply, wrapping
    start, loop, done = b.block, body.fn.append_basic_block("pow"), \
        body.fn.append_basic_block("pow.done")
    b.branch(loop)
    b.position_at_end(loop)
    acc, base, e = b.phi(I64), b.phi(I64), b.phi(I64)
    odd = b.icmp_signed("!=", b.and_(e, I64(1)), I64(0))
    acc2 = b.select(odd, b.mul(acc, base), acc)
    base2, e2 = b.mul(base, base), b.ashr(e, I64(1))
    for phi, first, nxt in ((acc, I64(1), acc2), (base, x, base2), (e, y, e2)):
        phi.add_incoming(first, start)
        phi.add_incoming(nxt, loop)
    b.cbranch(b.icmp_signed("==", e2, I64(0)), done, loop)
    b.position_at_end(done)
    return acc2


_COMPARE = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "==", "!=": "!="}


@_prim(*_COMPARE)
def _compare(body, form, t, args):
    b, op = body.b, _COMPARE[head_name(form)]
    kinds = {_kind(a) for a, _ in args}
    if kinds == {"bool"} and op in ("==", "!="):
        return b.icmp_unsigned(op, args[0][1], args[1][1])
    if not kinds <= {"i64", "f64"}:
        raise _unsupported(f"{head_name(form)} of "
                           + ", ".join(types.describe(a) for a, _ in args), form)
    if kinds == {"i64"}:
        return b.icmp_signed(op, args[0][1], args[1][1])
    x, y = (_as(body, a, "f64", form) for a in args)
    # NaN is unequal to everything, and not ordered
    return b.fcmp_unordered(op, x, y) if op == "!=" else b.fcmp_ordered(op, x, y)


@_prim("not")
def _not(body, form, t, args):
    if _kind(args[0][0]) != "bool":
        raise _unsupported(f"not of {types.describe(args[0][0])}", form)
    return body.b.xor(args[0][1], I1(1))


@_prim("neg")
def _neg(body, form, t, args):
    k = _numeric(body, form, t, args)
    return body.b.sub(I64(0), args[0][1]) if k == "i64" else body.b.fneg(args[0][1])


@_prim("abs")
def _abs(body, form, t, args):
    k, b = _numeric(body, form, t, args), body.b
    x = args[0][1]
    if k == "i64":
        return b.select(b.icmp_signed("<", x, I64(0)), b.sub(I64(0), x), x)
    return b.call(body.c.intrinsic("llvm.fabs"), [x])


@_prim("max", "min")
def _minmax(body, form, t, args):
    if len(args) != 2:
        raise _unsupported(f"{head_name(form)} of one value (a reduction)", form)
    k, b = _numeric(body, form, t, args), body.b
    x, y = (_as(body, a, k, form) for a in args)
    op = ">" if head_name(form) == "max" else "<"
    if k == "i64":
        return b.select(b.icmp_signed(op, y, x), y, x)
    # the first unless the second is larger (smaller); NaN if either is NaN
    pick = b.select(b.fcmp_ordered(op, y, x), y, x)
    nan = b.fcmp_unordered("uno", x, y)
    return b.select(nan, F64(math.nan), pick)


_INTRINSIC = {"sin": "llvm.sin", "cos": "llvm.cos", "exp": "llvm.exp", "log": "llvm.log",
              "sqrt": "llvm.sqrt"}
_LIBM = {"tan": "tan", "tanh": "tanh"}


@_prim(*_INTRINSIC, *_LIBM)
def _math(body, form, t, args):
    h = head_name(form)
    if _kind(t) != "f64" or _kind(args[0][0]) not in ("i64", "f64"):
        raise _unsupported(f"{h} of {types.describe(args[0][0])}", form)
    x = _as(body, args[0], "f64", form)
    f = body.c.intrinsic(_INTRINSIC[h]) if h in _INTRINSIC else body.c.extern(_LIBM[h])
    return body.b.call(f, [x])


@_prim("float")
def _float(body, form, t, args):
    if _kind(t) != "f64":
        raise _unsupported(f"float of {types.describe(args[0][0])}", form)
    return _as(body, args[0], "f64", form)


@_prim("int")
def _int(body, form, t, args):
    a, x = args[0]
    if _kind(a) == "i64":
        return x
    if _kind(a) != "f64":
        raise _unsupported(f"int of {types.describe(a)}", form)
    b = body.b
    finite = b.fcmp_ordered("<", b.call(body.c.intrinsic("llvm.fabs"), [x]), F64(math.inf))
    body.check(b.not_(finite), "cannot convert a NaN or an infinity to an integer", form)
    # truncate toward zero, then wrap around 2^64 as Python's int and i64 do
    two64 = F64(2.0 ** 64)
    r = b.frem(b.call(body.c.intrinsic("llvm.trunc"), [x]), two64)
    r = b.select(b.fcmp_ordered(">=", r, F64(2.0 ** 63)), b.fsub(r, two64), r)
    r = b.select(b.fcmp_ordered("<", r, F64(-2.0 ** 63)), b.fadd(r, two64), r)
    return b.fptosi(r, I64)


@_prim("get")
def _get(body, form, t, args):
    (tt, tv), (it, _) = args
    if type(tt) not in (types.TupleT, types.RecordT) or not (_kind(it) == "i64" and it.known()):
        raise _unsupported(f"get of {types.describe(tt)} at an index known only when it runs",
                           form)
    n = len(tt.items)
    i = it.value + n if it.value < 0 else it.value
    return body.b.extract_value(tv, i)


@_prim("%sens+")
def _sens_add(body, form, t, args):
    return _add(body, form, t, *args)


def _add(body, form, t, a, c):
    """Sensitivities ``a`` and ``c`` (type, value) added, part by part."""
    (at, x), (ct, y) = a, c
    if at is types.ZeroT:
        return _sensitivity(body, form, t, c)
    if ct is types.ZeroT:
        return _sensitivity(body, form, t, a)
    if _kind(at) == _kind(ct) == "f64":
        return body.b.fadd(x, y)
    if type(at) in (types.TupleT, types.RecordT) and type(ct) is type(at) \
            and len(at.items) == len(ct.items) == len(t.items):
        out, b = ir.Constant(ltype(t, form), ir.Undefined), body.b
        for i, (part, ap, cp) in enumerate(zip(t.items, at.items, ct.items)):
            got = _add(body, form, part, (ap, b.extract_value(x, i)), (cp, b.extract_value(y, i)))
            out = b.insert_value(out, got, i)
        return out
    raise _unsupported(f"%sens+ of {types.describe(at)} and {types.describe(ct)}", form)


def _sensitivity(body, form, t, d):
    """Sensitivity ``d`` (type, value) as a value of type ``t`` (a number, or
    a tuple or record of them): itself where it is a number, the zero of
    ``t``'s part where it is the zero sensitivity or an integer's."""
    dt, v = d
    if dt is types.ZeroT or _kind(t) in ("i64", "bool") or ltype(t, form) == UNIT:
        return ir.Constant(ltype(t, form), None)
    if _kind(dt) == _kind(t) == "f64":
        return v
    if type(t) in (types.TupleT, types.RecordT) and type(dt) is type(t) \
            and len(dt.items) == len(t.items):
        out = ir.Constant(ltype(t, form), ir.Undefined)
        for i, (part, dpart) in enumerate(zip(t.items, dt.items)):
            got = _sensitivity(body, form, part, (dpart, body.b.extract_value(v, i)))
            out = body.b.insert_value(out, got, i)
        return out
    raise _unsupported(f"{head_name(form)} of {types.describe(dt)}", form)


@_prim("%sens-fill")
def _sens_fill(body, form, t, args):
    return _sensitivity(body, form, t, args[0])


@_prim("%sens-out")
def _sens_out(body, form, t, args):
    return _sensitivity(body, form, t, args[1])


def _field_index(form, rt, name):
    if type(rt) is not types.RecordT or _kind(name) != "sym":
        raise _unsupported(f"{head_name(form)} of {types.describe(rt)}", form)
    return rt.rtype.fields.index(name.value)


@_prim("%field-sens")
def _field_sens(body, form, t, args):
    """The record sensitivity with v in one field, zeros elsewhere."""
    (rt, _), (name, _), v = args
    if ltype(t, form) == UNIT:
        return ir.Constant(UNIT, None)
    i = _field_index(form, rt, name)
    if type(t) is not types.RecordT:
        raise _unsupported(f"%field-sens giving {types.describe(t)}", form)
    zero = ir.Constant(ltype(t, form), None)
    return body.b.insert_value(zero, _sensitivity(body, form, t.items[i], v), i)


@_prim("%sens-field")
def _sens_field(body, form, t, args):
    (dt, d), (name, _) = args
    if dt is types.ZeroT or ltype(t, form) == UNIT:
        return ir.Constant(ltype(t, form), None)
    i = _field_index(form, dt, name)
    return _sensitivity(body, form, t, (dt.items[i], body.b.extract_value(d, i)))


@_prim("unbroadcast")
def _unbroadcast(body, form, t, args):
    (d, v), (x, _) = args
    if _kind(d) == _kind(x) == "f64":
        return v
    if _kind(t) is None and ltype(t, form) == UNIT:
        return ir.Constant(UNIT, None)
    raise _unsupported(f"unbroadcast of {types.describe(d)} to {types.describe(x)}", form)


@_prim("%grad-seed")
def _grad_seed(body, form, t, args):
    if _kind(t) == "f64":
        return F64(1.0)
    if t is types.ZeroT:
        return ir.Constant(UNIT, None)
    raise _unsupported(f"the gradient of a {types.describe(args[0][0])}", form)


@_prim("%zeros-like")
def _zeros_like(body, form, t, args):
    return ir.Constant(ltype(t, form), None)


# -- running ----------------------------------------------------------------------------------

_TARGET = None


def _target_machine():
    global _TARGET
    if _TARGET is None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _TARGET = llvm.Target.from_default_triple().create_target_machine(opt=3)
    return _TARGET


class Native:
    """A specialized program compiled to machine code: ``call(args)`` runs
    its entry on Python values (as :meth:`myia_sx.pipeline.Specialized.run`
    takes them) and gives a Python value; ``ir`` is the LLVM IR as
    optimized."""

    def __init__(self, specialized, globals_):
        sp = specialized
        compiler = _Compiler(sp.program, globals_)
        entry = compiler.versions[sp.entry]
        module = compiler.compile()
        kinds = compiler.entry(entry)
        self.sites = compiler.sites
        self.result = entry.arrow.result
        self.params = entry.arrow.params
        self.kinds = kinds
        self.unoptimized = str(module)
        tm = _target_machine()
        mod = llvm.parse_assembly(self.unoptimized)
        mod.verify()
        pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=3))
        pb.getModulePassManager().run(mod, pb)
        self.ir = str(mod)
        self.engine = llvm.create_mcjit_compiler(mod, tm)
        self.engine.finalize_object()
        self.n_out = len(leaves(self.result))
        ct = {"i64": ctypes.c_int64, "f64": ctypes.c_double, "bool": ctypes.c_int8}
        proto = ctypes.CFUNCTYPE(None, *[ct[k] for k in kinds], ctypes.POINTER(ctypes.c_int64))
        self.fn = proto(self.engine.get_function_address("sx_entry"))
        self.err = ctypes.c_int64.from_address(self.engine.get_global_value_address("sx.error"))
        self.depth = ctypes.c_int64.from_address(
            self.engine.get_global_value_address("sx.depth"))
        self.out_format = "<" + "".join("d" if k == "f64" else "q" for k in
                                        leaves(self.result))

    def call(self, args):
        flat = []
        for t, a in zip(self.params, args):
            _flatten(t, a, flat)
        out = (ctypes.c_int64 * max(1, self.n_out))()
        self.fn(*flat, out)
        if self.err.value == 1:
            # too deep for this thread: again on a thread with a large stack
            self.err.value = self.depth.value = 0
            self._run_deep(flat, out)
        if self.err.value:
            message, span = self.sites[self.err.value - 1]
            if self.err.value == 1:
                message = message.format(MAX_DEPTH_BIG)
            self.err.value = self.depth.value = 0
            raise SxRuntimeError(message, span)
        words = iter(struct.unpack(self.out_format, bytes(out)[:8 * self.n_out]))
        return _rebuild(self.result, words)

    def _run_deep(self, flat, out):
        limit = ctypes.c_int64.from_address(self.engine.get_global_value_address("sx.limit"))
        old_size = threading.stack_size(BIG_STACK)
        try:
            limit.value = MAX_DEPTH_BIG
            worker = threading.Thread(target=self.fn, args=(*flat, out))
            worker.start()
            worker.join()
        finally:
            threading.stack_size(old_size)
            limit.value = MAX_DEPTH


def _flatten(t, v, out):
    c = type(t)
    if c is types.TupleT:
        for item, x in zip(t.items, v):
            _flatten(item, x, out)
    elif c is types.RecordT:
        for item, x in zip(t.items, v._values):
            _flatten(item, x, out)
    elif c is types.Scalar and t.kind in ("i64", "f64", "bool"):
        out.append(v)


def _rebuild(t, words):
    c = type(t)
    if c is types.TupleT:
        return tuple(_rebuild(i, words) for i in t.items)
    if c is types.RecordT:
        return t.rtype.make(tuple(_rebuild(i, words) for i in t.items))
    if t is types.ZeroT:
        return ZERO
    if c is types.Scalar:
        if t.kind == "none":
            return None
        w = next(words)
        return bool(w) if t.kind == "bool" else w
    raise SxTypeError(f"cannot return a {types.describe(t)} from compiled code")


def compile_specialized(specialized, globals_):
    """The :class:`Native` code of a specialized program (``globals_``: the
    environment it reads global values and record types from)."""
    return Native(specialized, globals_)


__all__ = ["Native", "compile_specialized", "Unsupported", "PRIMITIVES", "MAX_DEPTH"]
