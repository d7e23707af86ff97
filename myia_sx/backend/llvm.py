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
from ..prims import PRIMS, Prim
from ..values import ZERO, Record, RecordType

I64, F64, I1, I8 = ir.IntType(64), ir.DoubleType(), ir.IntType(1), ir.IntType(8)
UNIT = ir.LiteralStructType([])
PTR = I8.as_pointer()
# A buffer's storage: elements used, capacity, the elements, the next storage
# of the call (all are freed when the entry returns).
STORE = ir.global_context.get_identified_type("sx.store")
STORE.set_body(I64, I64, PTR, STORE.as_pointer())
# A buffer: its storage (null: none yet), its length, its zero prefix.
BUFFER = ir.LiteralStructType([STORE.as_pointer(), I64, I64])


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
    elif c is types.BufferT:
        return BUFFER
    elif c is types.PrimT or c is types.CtorT:
        return UNIT          # known from the type: nothing to hold
    elif c is types.TaggedT:
        # the tag, and words enough for the largest member
        size = max((ltype(m, form).get_abi_size(_target_data()) for m in t.members),
                   default=0)
        return ir.LiteralStructType([I64, ir.ArrayType(I64, (size + 7) // 8)])
    if c is types.Scalar and t.kind in ("sym", "str") and t.known():
        return UNIT          # a name or a message: known from the type
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
        self.stores = ir.GlobalVariable(self.module, STORE.as_pointer(), "sx.stores")
        self.stores.initializer = ir.Constant(STORE.as_pointer(), None)
        self.malloc = ir.Function(self.module, ir.FunctionType(PTR, [I64]), "malloc")
        self.realloc = ir.Function(self.module, ir.FunctionType(PTR, [PTR, I64]), "realloc")
        self.free = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [PTR]), "free")
        self.free_all()
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

    def free_all(self):
        """``void sx_free_all()``: free every storage of buffers made since
        the last time."""
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), []), "sx_free_all")
        entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
        b = ir.IRBuilder(entry)
        b.branch(loop)
        b.position_at_end(loop)
        head = b.load(self.stores)
        with b.if_then(b.icmp_unsigned("==", head, ir.Constant(head.type, None))):
            b.ret_void()
        b.store(b.load(b.gep(head, [I64(0), ir.IntType(32)(3)])), self.stores)
        b.call(self.free, [b.load(b.gep(head, [I64(0), ir.IntType(32)(2)]))])
        b.call(self.free, [b.bitcast(head, PTR)])
        b.branch(loop)
        b.position_at_end(done)
        b.unreachable()

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
        if t is types.ZeroT:    # the zero of a tuple: zeros
            for q in p.items:
                self.bind(q, t, ir.Constant(UNIT, None), env)
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
            v = self.c.globals.get(a.name, PRIMS.get(a.name))
            if type(v) is Prim:
                return types.PrimT(v), ir.Constant(UNIT, None)
            if type(v) is RecordType:
                return types.CtorT(v), ir.Constant(UNIT, None)
            got = _py_constant(v)
            if got is None:
                raise _unsupported(f"the global {a.name} as a value", a)
            return got
        if type(a) in (int, float, bool) or a is None:
            return self.constant(a, a)
        if type(a) is str:
            # a message, for the primitives that take one; no value
            return types.Scalar("str", a), None
        if head_name(a) == "quote" and type(a.items[1]) is Symbol:
            # a field name, for the primitives that take one; no value
            return types.Scalar("sym", a.items[1].name), None
        raise _unsupported(f"the constant {a}", a)

    def constant(self, v, form):
        return _py_constant(v)

    def expr(self, e, t, env):
        """The value of ``e`` (a ``c`` of Lmono) of type ``t``."""
        if type(e) is Vec and type(t) is types.TaggedT:
            return self.tagged(e, t, env)
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
        g = self.c.globals.get(h)
        if type(g) is RecordType:
            return self.record(g, e, t, env)
        if any(type(a) is Keyword for a in e.items[1:]):
            raise _unsupported(f"the keyword arguments of {h}", e)
        args = [self.atom(a, env) for a in e.items[1:]]
        if h in self.c.versions:
            return self.call(self.c.versions[h], [v for _, v in args], t)
        emit = PRIMITIVES.get(h)
        if emit is None:
            raise _unsupported(f"the primitive {h}", e)
        return emit(self, e, t, args)

    def tagged(self, e, t, env):
        """``[k v]`` of a tagged type: the tag, and v stored in the words."""
        b = self.b
        (_, tag), (_, v) = (self.atom(a, env) for a in e.items)
        with b.goto_entry_block():
            slot = b.alloca(ltype(t, e))
        b.store(tag, b.gep(slot, [I64(0), ir.IntType(32)(0)]))
        words = b.gep(slot, [I64(0), ir.IntType(32)(1)])
        b.store(v, b.bitcast(words, v.type.as_pointer()))
        return b.load(slot)

    def member(self, tv, t):
        """The value of type ``t`` a tagged value holds."""
        b = self.b
        with b.goto_entry_block():
            slot = b.alloca(tv.type)
        b.store(tv, slot)
        words = b.gep(slot, [I64(0), ir.IntType(32)(1)])
        return b.load(b.bitcast(words, ltype(t).as_pointer()))

    def record(self, rtype, e, t, env):
        """A record built by its constructor, fields by position or keyword."""
        values, items = {}, e.items[1:]
        k = 0
        while k < len(items):
            if type(items[k]) is Keyword:
                values[items[k].name] = self.atom(items[k + 1], env)[1]
                k += 2
            else:
                values[rtype.fields[len(values)]] = self.atom(items[k], env)[1]
                k += 1
        return _build(self, t, [values[f] for f in rtype.fields])

    def call(self, version, values, t):
        b = self.b
        result = b.call(version.llfn, values)
        failed = b.icmp_signed("!=", b.load(self.c.err), I64(0))
        with b.if_then(failed, likely=False):
            b.store(b.sub(b.load(self.c.depth), I64(1)), self.c.depth)
            b.ret(ir.Constant(self.fn.ftype.return_type, ir.Undefined))
        return result


def _py_constant(v):
    """(type, constant) of a Python value made of numbers, None, tuples and
    records; None for anything else."""
    if v is None:
        return types.NoneT, ir.Constant(UNIT, None)
    t = type(v)
    if t is bool:
        return types.Scalar("bool", v), I1(int(v))
    if t is int:
        return types.Scalar("i64", v), I64(v)
    if t is float:
        return types.Scalar("f64", v), F64(v)
    if t is tuple or isinstance(v, Record):
        parts = [_py_constant(x) for x in (v if t is tuple else v._values)]
        if any(p is None for p in parts):
            return None
        items = [types.forget(pt) for pt, _ in parts]
        rt = types.TupleT(items) if t is tuple else types.RecordT(t._sx_type, items)
        return rt, ir.Constant(ltype(rt), [c for _, c in parts])
    return None


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
    if _kind(args[0][0]) == "bool":
        return body.b.uitofp(args[0][1], F64)
    return _as(body, args[0], "f64", form)


@_prim("where")
def _where(body, form, t, args):
    """Of numbers: one or the other."""
    (ct, c), x, y = args
    k = _kind(t)
    if _kind(ct) != "bool" or k not in ("i64", "f64", "bool"):
        raise _unsupported(f"where of {types.describe(ct)}", form)
    if k == "bool":
        return body.b.select(c, x[1], y[1])
    return body.b.select(c, _as(body, x, k, form), _as(body, y, k, form))


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
    (tt, tv), (it, iv) = args
    if type(tt) is types.TaggedT and it.known():
        return body.b.extract_value(tv, 0) if it.value == 0 else body.member(tv, t)
    if type(tt) not in (types.TupleT, types.RecordT) or _kind(it) != "i64":
        raise _unsupported(f"get of {types.describe(tt)}", form)
    n = len(tt.items)
    if it.known():
        return body.b.extract_value(tv, it.value + n if it.value < 0 else it.value)
    return body.b.load(_slot_at(body, form, tt, tv, iv, n)[1])


@_prim("%check-tuple", "%check-data")
def _checked(body, form, t, args):
    """Checks inference decided: the value itself."""
    return args[0][1]


@_prim("%check-like")
def _checked_like(body, form, t, args):
    return args[1][1]


def _tuple_type(tt, form):
    if type(tt) is not types.TupleT:
        raise _unsupported(f"{head_name(form)} of {types.describe(tt)}", form)
    return tt


def _build(body, t, values):
    out = ir.Constant(ltype(t), ir.Undefined)
    for i, v in enumerate(values):
        out = body.b.insert_value(out, v, i)
    return out if values else ir.Constant(ltype(t), None)


@_prim("tuple")
def _tuple(body, form, t, args):
    return _build(body, t, [v for _, v in args])


@_prim("first")
def _first(body, form, t, args):
    tt = _tuple_type(args[0][0], form)
    if not tt.items:
        raise _unsupported("first of an empty tuple", form)
    return body.b.extract_value(args[0][1], 0)


@_prim("rest")
def _rest(body, form, t, args):
    tt, v = args[0]
    n = len(_tuple_type(tt, form).items)
    return _build(body, t, [body.b.extract_value(v, i) for i in range(1, n)])


@_prim("cons")
def _cons(body, form, t, args):
    (_, x), (tt, v) = args
    n = len(_tuple_type(tt, form).items)
    return _build(body, t, [x] + [body.b.extract_value(v, i) for i in range(n)])


@_prim("len")
def _len(body, form, t, args):
    tt, v = args[0]
    if type(tt) is types.BufferT:
        return body.b.extract_value(v, 1)
    return I64(len(_tuple_type(tt, form).items))


def _slot_at(body, form, tt, tv, iv, n):
    """The tuple ``tv`` of ``n`` items of one type spilled to the stack:
    (its address, the address of item ``iv``, an index known when it runs,
    negative from the end); an index out of range is a run-time error."""
    if len({i.key() for i in tt.items}) > 1:
        raise _unsupported(f"an index known only when it runs into {types.describe(tt)}, "
                           "whose items have different types", form)
    b = body.b
    i = b.select(b.icmp_signed("<", iv, I64(0)), b.add(iv, I64(n)), iv)
    body.check(b.icmp_unsigned(">=", i, I64(n)), f"index out of range for a tuple of {n}",
               form)
    with b.goto_entry_block():
        slot = b.alloca(tv.type)
    b.store(tv, slot)
    elem = ltype(tt.items[0], form)
    return slot, b.gep(b.bitcast(slot, ir.ArrayType(elem, n).as_pointer()), [I64(0), i])


def _index(body, form, it, n):
    if not (_kind(it) == "i64" and it.known()):
        raise _unsupported(f"{head_name(form)} at an index known only when it runs", form)
    return it.value + n if it.value < 0 else it.value


@_prim("%sens-get")
def _sens_get(body, form, t, args):
    (dt, d), (it, iv) = args
    if dt is types.ZeroT or ltype(t, form) == UNIT:
        return ir.Constant(ltype(t, form), None)
    n = len(_tuple_type(dt, form).items)
    if not it.known():
        item = body.b.load(_slot_at(body, form, dt, d, iv, n)[1])
        return _sensitivity(body, form, t, (dt.items[0], item))
    i = _index(body, form, it, n)
    return _sensitivity(body, form, t, (dt.items[i], body.b.extract_value(d, i)))


@_prim("%sens-at")
def _sens_at(body, form, t, args):
    """The sensitivity of a tuple with v at index i, zeros elsewhere."""
    (lt, lv), (it, _), v = args
    if ltype(t, form) == UNIT:
        return ir.Constant(UNIT, None)
    tt = _tuple_type(t, form)
    n = len(tt.items)
    if not it.known():
        # zeros, then v at an index known when it runs
        zeros = _build(body, t, [_zero(body, form, part, (lt.items[k],
                                                          body.b.extract_value(lv, k)))
                                 for k, part in enumerate(tt.items)])
        whole, slot = _slot_at(body, form, tt, zeros, args[1][1], n)
        like = (lt.items[0], body.b.load(_slot_at(body, form, lt, lv, args[1][1], n)[1]))
        body.b.store(_sensitivity(body, form, tt.items[0], v, like), slot)
        return body.b.load(whole)
    i = _index(body, form, it, n)
    parts = []
    for k, part in enumerate(tt.items):
        like = (lt.items[k], body.b.extract_value(lv, k))
        parts.append(_sensitivity(body, form, part, v, like) if k == i
                     else _zero(body, form, part, like))
    return _build(body, t, parts)


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
    if type(at) is type(ct) is type(t) is types.BufferT:
        return _add_buffers(body, form, t, a, c)
    if type(at) in (types.TupleT, types.RecordT) and type(ct) is type(at) \
            and len(at.items) == len(ct.items) == len(t.items):
        out, b = ir.Constant(ltype(t, form), ir.Undefined), body.b
        for i, (part, ap, cp) in enumerate(zip(t.items, at.items, ct.items)):
            got = _add(body, form, part, (ap, b.extract_value(x, i)), (cp, b.extract_value(y, i)))
            out = b.insert_value(out, got, i)
        return out
    raise _unsupported(f"%sens+ of {types.describe(at)} and {types.describe(ct)}", form)


def _zero(body, form, t, like):
    """The zero of type ``t`` shaped like ``like`` (type, value): a buffer's
    zero has the length of ``like``'s, all of it a zero prefix."""
    c, b = type(t), body.b
    if c is types.BufferT:
        if type(like[0]) is not types.BufferT:
            raise _unsupported(f"the zero of {types.describe(t)}", form)
        n = b.extract_value(like[1], 1)
        return b.insert_value(b.insert_value(ir.Constant(BUFFER, None), n, 1), n, 2)
    if c in (types.TupleT, types.RecordT) and _holds_buffer(t):
        lt, lv = like
        if type(lt) is not c or len(lt.items) != len(t.items):
            raise _unsupported(f"the zero of {types.describe(t)}", form)
        return _build(body, t, [_zero(body, form, part, (lt.items[i], b.extract_value(lv, i)))
                                for i, part in enumerate(t.items)])
    return ir.Constant(ltype(t, form), None)


def _holds_buffer(t):
    if type(t) is types.BufferT:
        return True
    return type(t) in (types.TupleT, types.RecordT) and any(map(_holds_buffer, t.items))


def _sensitivity(body, form, t, d, like=None):
    """Sensitivity ``d`` (type, value) as a value of type ``t``: itself
    where it is a number or a buffer, the zero of ``t``'s part (shaped like
    ``like``'s) where it is the zero sensitivity or an integer's."""
    dt, v = d
    if dt is types.ZeroT or _kind(t) in ("i64", "bool") or ltype(t, form) == UNIT:
        if _holds_buffer(t):
            if like is None:
                raise _unsupported(f"{head_name(form)} of a zero to {types.describe(t)}", form)
            return _zero(body, form, t, like)
        return ir.Constant(ltype(t, form), None)
    if _kind(dt) == _kind(t) == "f64":
        return v
    if type(t) is types.BufferT and type(dt) is types.BufferT:
        return v
    if type(t) in (types.TupleT, types.RecordT) and type(dt) is type(t) \
            and len(dt.items) == len(t.items):
        out = ir.Constant(ltype(t, form), ir.Undefined)
        for i, (part, dpart) in enumerate(zip(t.items, dt.items)):
            sub = None if like is None else (like[0].items[i],
                                             body.b.extract_value(like[1], i))
            got = _sensitivity(body, form, part, (dpart, body.b.extract_value(v, i)), sub)
            out = body.b.insert_value(out, got, i)
        return out
    raise _unsupported(f"{head_name(form)} of {types.describe(dt)}", form)


@_prim("%sens-fill")
def _sens_fill(body, form, t, args):
    return _sensitivity(body, form, t, args[0], args[1])


@_prim("%sens-out")
def _sens_out(body, form, t, args):
    return _sensitivity(body, form, t, args[1], args[0])


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
    return _zero(body, form, t, args[0])


def _sizeof(b, t):
    """The size in bytes of LLVM type ``t``, as an i64 value."""
    return b.ptrtoint(b.gep(ir.Constant(t.as_pointer(), None), [I64(1)]), I64)


@_prim("%buf-new")
def _buf_new(body, form, t, args):
    return ir.Constant(BUFFER, None)


@_prim("%buf-len")
def _buf_len(body, form, t, args):
    return body.b.extract_value(args[0][1], 1)


def _element_type(bt, form):
    if type(bt) is not types.BufferT or bt.elem is types.BOTTOM:
        raise _unsupported(f"a buffer of {types.describe(bt)}", form)
    return ltype(bt.elem, form)


def _new_store(body, used, cap, size):
    """A new storage for cap elements of size bytes, used of them said to
    be in use, on the list of the call's storages: (storage, its data)."""
    b, c = body.b, body.c
    new = b.bitcast(b.call(c.malloc, [_sizeof(b, STORE)]), STORE.as_pointer())
    data = b.call(c.malloc, [b.mul(cap, size)])
    for i, v in enumerate((used, cap, data, b.load(c.stores))):
        b.store(v, b.gep(new, [I64(0), ir.IntType(32)(i)]))
    b.store(new, c.stores)
    return new, data


def _add_buffers(body, form, t, a, c):
    """Buffers of sensitivities of the same length added element by
    element: a buffer of zeros only is the other; otherwise a new buffer
    whose zero prefix is the shorter of the two."""
    b = body.b
    (at, x), (ct, y) = a, c
    elem, ea_t, ec_t = (_element_type(u, form) for u in (t, at, ct))
    n, ba, bc = b.extract_value(x, 1), b.extract_value(x, 2), b.extract_value(y, 2)
    with b.goto_entry_block():
        result = b.alloca(BUFFER)
        k_slot = b.alloca(I64)
        ea_slot, ec_slot = b.alloca(ea_t), b.alloca(ec_t)
    a_zero, c_zero = b.icmp_signed("==", ba, n), b.icmp_signed("==", bc, n)
    with b.if_else(a_zero) as (then, other):
        with then:
            b.store(y, result)
        with other:
            with b.if_else(c_zero) as (then2, other2):
                with then2:
                    b.store(x, result)
                with other2:
                    base = b.select(b.icmp_signed("<", ba, bc), ba, bc)
                    count = b.sub(n, base)
                    store, raw = _new_store(body, count, b.add(count, I64(1)),
                                            _sizeof(b, elem))
                    data = b.bitcast(raw, elem.as_pointer())
                    b.store(base, k_slot)
                    loop = body.fn.append_basic_block("add.loop")
                    step = body.fn.append_basic_block("add.step")
                    end = body.fn.append_basic_block("add.end")
                    b.branch(loop)
                    b.position_at_end(loop)
                    k = b.load(k_slot)
                    b.cbranch(b.icmp_signed("<", k, n), step, end)
                    b.position_at_end(step)
                    for slot, buf, bs, et in ((ea_slot, x, ba, ea_t), (ec_slot, y, bc, ec_t)):
                        b.store(ir.Constant(et, None), slot)
                        with b.if_then(b.icmp_signed(">=", k, bs)):
                            src = b.bitcast(b.load(b.gep(b.extract_value(buf, 0),
                                                         [I64(0), ir.IntType(32)(2)])),
                                            et.as_pointer())
                            b.store(b.load(b.gep(src, [b.sub(k, bs)])), slot)
                    got = _add(body, form, t.elem, (at.elem, b.load(ea_slot)),
                               (ct.elem, b.load(ec_slot)))
                    b.store(got, b.gep(data, [b.sub(k, base)]))
                    b.store(b.add(k, I64(1)), k_slot)
                    b.branch(loop)
                    b.position_at_end(end)
                    out = b.insert_value(ir.Constant(BUFFER, None), store, 0)
                    out = b.insert_value(b.insert_value(out, n, 1), base, 2)
                    b.store(out, result)
    return b.load(result)


@_prim("%buf-push")
def _buf_push(body, form, t, args):
    """A buffer that owns the end of its storage appends in place (growing
    it by doubling); any other copies its elements to a new storage first,
    so that every buffer value keeps its elements."""
    b, c = body.b, body.c
    (_, buf), (_, x) = args
    elem = _element_type(t, form)
    size = _sizeof(b, elem)
    store, n, base = (b.extract_value(buf, i) for i in range(3))
    count = b.sub(n, base)               # elements held in the storage
    null = ir.Constant(store.type, None)
    has = b.icmp_unsigned("!=", store, null)
    check = body.fn.append_basic_block("push.check")
    fresh = body.fn.append_basic_block("push.fresh")
    own = body.fn.append_basic_block("push.own")
    grow = body.fn.append_basic_block("push.grow")
    put = body.fn.append_basic_block("push.put")
    b.cbranch(has, check, fresh)
    b.position_at_end(check)
    used_ptr = b.gep(store, [I64(0), ir.IntType(32)(0)])
    owns = b.icmp_signed("==", b.load(used_ptr), count)
    b.cbranch(owns, own, fresh)
    # a new storage of twice the elements (at least 16), the old ones copied
    b.position_at_end(fresh)
    cap = b.select(b.icmp_signed("<", count, I64(8)), I64(16), b.mul(count, I64(2)))
    new, data = _new_store(body, count, cap, size)
    with b.if_then(has):
        old = b.load(b.gep(store, [I64(0), ir.IntType(32)(2)]))
        b.call(c.module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64]),
               [data, old, b.mul(count, size), I1(0)])
    fresh_end = b.block
    b.branch(put)
    # the storage is this buffer's: grow it when full
    b.position_at_end(own)
    cap_ptr = b.gep(store, [I64(0), ir.IntType(32)(1)])
    data_ptr = b.gep(store, [I64(0), ir.IntType(32)(2)])
    full = b.icmp_signed("==", count, b.load(cap_ptr))
    b.cbranch(full, grow, put)
    b.position_at_end(grow)
    cap2 = b.mul(b.load(cap_ptr), I64(2))
    b.store(b.call(c.realloc, [b.load(data_ptr), b.mul(cap2, size)]), data_ptr)
    b.store(cap2, cap_ptr)
    b.branch(put)
    b.position_at_end(put)
    target = b.phi(store.type)
    target.add_incoming(new, fresh_end)
    target.add_incoming(store, own)
    target.add_incoming(store, grow)
    data = b.bitcast(b.load(b.gep(target, [I64(0), ir.IntType(32)(2)])), elem.as_pointer())
    b.store(x, b.gep(data, [count]))
    b.store(b.add(count, I64(1)), b.gep(target, [I64(0), ir.IntType(32)(0)]))
    out = b.insert_value(ir.Constant(BUFFER, ir.Undefined), target, 0)
    out = b.insert_value(out, b.add(n, I64(1)), 1)
    return b.insert_value(out, base, 2)


@_prim("%buf-pop")
def _buf_pop(body, form, t, args):
    """[rest last]: an element of the zero prefix is the zero of the
    element type."""
    b = body.b
    (bt, buf), = args
    elem = _element_type(bt, form)
    store, n, base = (b.extract_value(buf, i) for i in range(3))
    body.check(b.icmp_signed("==", n, I64(0)), "%buf-pop of an empty buffer", form)
    n1 = b.sub(n, I64(1))
    in_prefix = b.icmp_signed("<", n1, base)
    zero, read = body.fn.append_basic_block("pop.zero"), body.fn.append_basic_block("pop.read")
    done = body.fn.append_basic_block("pop.done")
    b.cbranch(in_prefix, zero, read)
    b.position_at_end(read)
    data = b.bitcast(b.load(b.gep(store, [I64(0), ir.IntType(32)(2)])), elem.as_pointer())
    got = b.load(b.gep(data, [b.sub(n1, base)]))
    b.branch(done)
    b.position_at_end(zero)
    b.branch(done)
    b.position_at_end(done)
    last = b.phi(elem)
    last.add_incoming(got, read)
    last.add_incoming(ir.Constant(elem, None), zero)
    rest = b.insert_value(buf, n1, 1)
    rest = b.insert_value(rest, b.select(in_prefix, n1, base), 2)
    out = b.insert_value(ir.Constant(ltype(t, form), ir.Undefined), rest, 0)
    return b.insert_value(out, last, 1)


# -- running ----------------------------------------------------------------------------------

_TARGET = None


def _target_machine():
    """A new target machine for this CPU (an execution engine owns the one it
    is given, and frees it with itself)."""
    global _TARGET
    if _TARGET is None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _TARGET = llvm.Target.from_default_triple()
    return _TARGET.create_target_machine(opt=3)


_DATA = None


def _target_data():
    """The layout of the machine's data (sizes of types)."""
    global _DATA
    if _DATA is None:
        _DATA = llvm.create_target_data(str(_target_machine().target_data))
    return _DATA


def _check_entry(arrow, form):
    """Arguments and results cross to Python as numbers, tuples and records."""
    for t in (*arrow.params, arrow.result):
        if _holds(t, lambda u: type(u) in (types.TaggedT, types.BufferT, types.PrimT,
                                            types.CtorT)):
            raise _unsupported(f"returning {types.describe(t)} to Python"
                               if t is arrow.result else
                               f"passing {types.describe(t)} from Python", form)


def _holds(t, pred):
    if pred(t):
        return True
    return type(t) in (types.TupleT, types.RecordT) and any(_holds(i, pred) for i in t.items)


class Native:
    """A specialized program compiled to machine code: ``call(args)`` runs
    its entry on Python values (as :meth:`myia_sx.pipeline.Specialized.run`
    takes them) and gives a Python value; ``ir`` is the LLVM IR as
    optimized."""

    def __init__(self, specialized, globals_):
        sp = specialized
        compiler = _Compiler(sp.program, globals_)
        entry = compiler.versions[sp.entry]
        _check_entry(entry.arrow, entry.fn)
        module = compiler.compile()
        kinds = compiler.entry(entry)
        self.sites = compiler.sites
        self.result = entry.arrow.result
        self.params = entry.arrow.params
        self.kinds = kinds
        self.unoptimized = str(module)
        mod = llvm.parse_assembly(self.unoptimized)
        mod.verify()
        pb = llvm.create_pass_builder(_target_machine(),
                                      llvm.create_pipeline_tuning_options(speed_level=3))
        pb.getModulePassManager().run(mod, pb)
        self.ir = str(mod)
        self.engine = llvm.create_mcjit_compiler(mod, _target_machine())
        self.engine.finalize_object()
        self.n_out = len(leaves(self.result))
        ct = {"i64": ctypes.c_int64, "f64": ctypes.c_double, "bool": ctypes.c_int8}
        proto = ctypes.CFUNCTYPE(None, *[ct[k] for k in kinds], ctypes.POINTER(ctypes.c_int64))
        self.fn = proto(self.engine.get_function_address("sx_entry"))
        self.free_all = ctypes.CFUNCTYPE(None)(self.engine.get_function_address("sx_free_all"))
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
        try:
            self.fn(*flat, out)
        finally:
            self.free_all()
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
            self.free_all()
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
