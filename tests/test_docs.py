"""docs/language.md: every example runs and shows what it says, and every
core form, macro and prelude function is documented with a checked example.

The formats (described at the top of docs/language.md):

- a fenced block marked ``sx`` is a module.  A line ending in ``; => VALUE``
  checks the top-level form that ends on that line: it is evaluated (wrapped
  in a function of no arguments, in the module made of the block's other
  forms) and compared with VALUE, an sx literal.  A line ending in
  ``; !! TEXT`` checks that the form fails with an error whose message (or a note)
  contains TEXT; a
  form whose head starts with ``def`` or is ``do``/``require`` stays a
  top-level form for that.
- ``sx-expand``: a module, a line ``;; ==>``, then the module after
  ``expand_macros`` as ``myia-sx show`` prints it.
- ``sx-error``: a module, a line ``;; ==>``, then the error text that loading
  the module and calling its ``main`` gives (``myia-sx run``).
- ``python``: a doctest.
"""

from __future__ import annotations

import doctest
import io
import math
import re
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import ROOT

from myia_sx import api, core, library, pipeline
from myia_sx.errors import SxError
from myia_sx.forms import Form, Keyword, Seq, Symbol, Vec, head_name
from myia_sx.printer import pretty
from myia_sx.reader import read, read_one
from myia_sx.values import Record, show_value, values_equal

DOC = ROOT / "docs" / "language.md"
EXAMPLE_FILE = "example.sx"
SEPARATOR = ";; ==>"
CHECK = re.compile(r"\s;\s*(=>|!!)\s*(.*?)\s*$")
FENCE = re.compile(r"^```(.*)$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
KNOWN_TAGS = {"sx", "sx-expand", "sx-error", "python", ""}
REL_TOL, ABS_TOL = 1e-6, 1e-9


# -- reading the document --------------------------------------------------------

@dataclass
class Block:
    tag: str
    text: str
    line: int        # line of the document where the block's text starts
    section: tuple   # indices of the headings the block is under

    def __repr__(self):
        return f"{self.tag} block at docs/language.md:{self.line}"


def parse_doc(text):
    """(blocks, headings); a heading is (level, title, line index)."""
    blocks, headings, stack = [], [], []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if m:
            tag = m.group(1).strip()
            start = i + 1
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
            assert i < len(lines), f"unclosed code fence at docs/language.md:{start}"
            indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
            body = "\n".join(ln[indent:] if ln[:indent].isspace() else ln
                             for ln in lines[start:i])
            blocks.append(Block(tag, body + "\n", start + 1, tuple(stack)))
        else:
            h = HEADING.match(lines[i])
            if h:
                level = len(h.group(1))
                stack = [k for k in stack if headings[k][0] < level]
                stack.append(len(headings))
                headings.append((level, h.group(2), i))
        i += 1
    return blocks, headings


DOC_TEXT = DOC.read_text(encoding="utf-8")
BLOCKS, HEADINGS = parse_doc(DOC_TEXT)


def blocks_tagged(tag):
    return [b for b in BLOCKS if b.tag == tag]


def split_output(block):
    """The module text and the expected text of an sx-expand / sx-error block."""
    lines = block.text.split("\n")
    marks = [i for i, ln in enumerate(lines) if ln.strip() == SEPARATOR]
    assert len(marks) == 1, f"{block}: needs exactly one {SEPARATOR!r} line"
    k = marks[0]
    source = "\n".join(lines[:k]) + "\n"
    expected = "\n".join(ln.rstrip() for ln in lines[k + 1:]).strip("\n")
    return source, expected


# -- sx blocks: the checks -------------------------------------------------------

@dataclass
class Check:
    kind: str        # "=>" or "!!"
    want: str
    form: object
    line: int        # line in the document


def sx_checks(block):
    """(forms of the block, {form index: Check})."""
    forms = read(block.text, EXAMPLE_FILE)
    lines = block.text.split("\n")
    checks = {}
    for n, ln in enumerate(lines, 1):
        m = CHECK.search(ln)
        if m is None:
            continue
        where = f"docs/language.md:{block.line + n - 1}"
        # the checked form is the last one complete by the end of line n
        try:
            i = len(read("\n".join(lines[:n]), EXAMPLE_FILE)) - 1
        except SxError:
            i = -1
        assert i >= 0 and i not in checks, \
            f"{where}: the check comment does not follow a complete top-level form"
        assert m.group(2), f"{where}: empty check"
        checks[i] = Check(m.group(1), m.group(2), forms[i], block.line + n - 1)
    return forms, checks


def stays_top_level(form):
    h = head_name(form)
    return h is not None and (h.startswith("def") or h in ("do", "require"))


def wrapped(form, name):
    """``(def name (fn [] form))``, with the form's span."""
    sp = getattr(form, "span", None)
    return Form([Symbol("def", sp), Symbol(name, sp),
                 Form([Symbol("fn", sp), Vec([], sp), form], sp)], sp)


def load_forms(forms):
    env = api.new_env()
    final = api.compile_forms(tuple(forms), env)
    with pipeline.deep_recursion():
        library.load_module(env, final)
    return env


def call(env, name):
    return api.Function(env.globals[name])()


@dataclass
class Quoted:
    datum: object


@dataclass
class RecordLiteral:
    name: str
    fields: tuple


def expected_value(form):
    """The Python value that the sx literal ``form`` shows."""
    t = type(form)
    if t in (int, float, bool, str) or form is None or t is Keyword:
        return form
    if t is Vec:
        return tuple(expected_value(x) for x in form.items)
    if t is Form and form.items and type(form.items[0]) is Symbol:
        h, args = form.items[0].name, form.items[1:]
        if h == "quote" and len(args) == 1:
            return Quoted(args[0])
        if h == "f32" and len(args) == 1:
            return np.float32(expected_value(args[0]))
        if h == "array":
            data = np.array(expected_value(args[0]))
            if len(args) == 3 and args[1] == Keyword("dtype"):
                data = data.astype({"f32": np.float32, "f64": np.float64,
                                    "i64": np.int64, "bool": np.bool_}[args[2].name])
            else:
                assert len(args) == 1, f"bad array literal {form}"
            return data
        return RecordLiteral(h, tuple(expected_value(x) for x in args))
    raise AssertionError(f"not a literal: {form}")


def same_value(got, want):
    """Does the sx value ``got`` match the literal value ``want``?"""
    if type(want) is Quoted:
        return values_equal(got, want.datum)
    if type(want) is RecordLiteral:
        return (isinstance(got, Record) and type(got)._sx_type.name == want.name
                and len(got._values) == len(want.fields)
                and all(same_value(g, w) for g, w in zip(got._values, want.fields)))
    if type(want) is tuple:
        return (type(got) is tuple and len(got) == len(want)
                and all(same_value(g, w) for g, w in zip(got, want)))
    if isinstance(want, np.ndarray):
        if not isinstance(got, np.ndarray) or got.shape != want.shape:
            return False
        if want.dtype.kind == "f":
            return got.dtype.kind == "f" and bool(
                np.allclose(got, want, rtol=REL_TOL, atol=ABS_TOL, equal_nan=True))
        return got.dtype == want.dtype and bool(np.array_equal(got, want))
    if type(want) is np.float32:
        return type(got) is np.float32 and math.isclose(got, want, rel_tol=REL_TOL)
    if type(want) is float:
        if type(got) is not float:
            return False
        if math.isnan(want):
            return math.isnan(got)
        return math.isclose(got, want, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if type(want) is bool or type(got) is bool or want is None:
        return type(got) is type(want) and got == want
    if type(want) is int:
        return type(got) is int and got == want
    return values_equal(got, want)


def fail(message):
    raise AssertionError(message)


def error_text(e):
    return e.format() if e.span is not None else e.message


def run_sx_block(block):
    """Run every check of an sx block; the number of checks."""
    forms, checks = sx_checks(block)
    assert checks, f"{block}: an sx example needs at least one '; =>' or '; !!' check"
    values = {i: c for i, c in checks.items() if c.kind == "=>"}
    module = [wrapped(f, f"doc-example-{i}") if i in values else f
              for i, f in enumerate(forms) if i not in checks or i in values]
    env = load_forms(module)
    for i, c in values.items():
        want = expected_value(read_one(c.want))
        try:
            got = call(env, f"doc-example-{i}")
        except SxError as e:
            fail(f"docs/language.md:{c.line}: expected {c.want}, got an error:\n"
                        f"{error_text(e)}")
        got = getattr(got, "closure", got)
        assert same_value(got, want), \
            f"docs/language.md:{c.line}: expected {c.want}, got {show_value(got)}"
    for i, c in checks.items():
        if c.kind != "!!":
            continue
        form = c.form if stays_top_level(c.form) else wrapped(c.form, "doc-example-error")
        module = [form if j == i else f for j, f in enumerate(forms)
                  if j == i or j not in checks]
        try:
            env = load_forms(module)
            if not stays_top_level(c.form):
                got = call(env, "doc-example-error")
                fail(f"docs/language.md:{c.line}: expected an error containing "
                            f"{c.want!r}, got {show_value(getattr(got, 'closure', got))}")
        except SxError as e:
            # the message and notes only: the source excerpt would show the check itself
            text = "\n".join([e.message] + [note for note, _ in e.notes])
            assert c.want in text, \
                f"docs/language.md:{c.line}: expected an error containing {c.want!r}, got:\n{text}"
        else:
            if stays_top_level(c.form):
                fail(f"docs/language.md:{c.line}: expected an error containing "
                            f"{c.want!r}, but the module loaded")
    return len(checks)


# -- the examples ------------------------------------------------------------------

def ids(blocks):
    return [f"line{b.line}" for b in blocks]


@pytest.mark.parametrize("block", blocks_tagged("sx"), ids=ids(blocks_tagged("sx")))
def test_sx_example(block):
    run_sx_block(block)


def expansion(source):
    out = pipeline.compile_module(read(source, EXAMPLE_FILE), library.context(),
                                  "expand_macros")
    return "\n".join(pretty(f) for f in out)


@pytest.mark.parametrize("block", blocks_tagged("sx-expand"), ids=ids(blocks_tagged("sx-expand")))
def test_expansion_example(block):
    source, expected = split_output(block)
    got = expansion(source)
    assert got == expected, f"{block}: expand_macros gives\n{got}"


def error_output(source):
    try:
        m = api.load_string(source, filename=EXAMPLE_FILE)
        if "main" in m:
            m["main"]()
    except SxError as e:
        return "\n".join(ln.rstrip() for ln in error_text(e).split("\n"))
    return None


@pytest.mark.parametrize("block", blocks_tagged("sx-error"), ids=ids(blocks_tagged("sx-error")))
def test_error_example(block):
    source, expected = split_output(block)
    got = error_output(source)
    assert got is not None, f"{block}: the example runs without an error"
    assert got == expected, f"{block}: the error is\n{got}"


def run_doctest(block):
    """Run a python block as a doctest; (failures, report)."""
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block.text, {}, repr(block), str(DOC), block.line - 1)
    runner = doctest.DocTestRunner(
        verbose=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    saved = dict(api._registered_macros)   # register_macro is process-wide
    try:
        result = runner.run(test, out=out.write)
    finally:
        api._registered_macros.clear()
        api._registered_macros.update(saved)
    return result, len(test.examples), out.getvalue()


@pytest.mark.parametrize("block", blocks_tagged("python"), ids=ids(blocks_tagged("python")))
def test_python_example(block):
    result, n, report = run_doctest(block)
    assert n > 0, f"{block}: a python example must be a doctest (>>> lines)"
    assert result.failed == 0, report


def test_every_block_has_a_known_format():
    bad = [b for b in BLOCKS if b.tag not in KNOWN_TAGS]
    assert not bad, f"unknown code block tags (use sx, sx-expand, sx-error, python): {bad}"
    for b in blocks_tagged("sx-expand") + blocks_tagged("sx-error"):
        split_output(b)


# -- coverage: forms, macros and functions are documented with examples --------------

def code_symbols(form):
    """Names used as code in ``form`` (quoted data left out)."""
    out, stack = set(), [form]
    while stack:
        x = stack.pop()
        if type(x) is Symbol:
            out.add(x.name)
        elif isinstance(x, Seq):
            if type(x) is Form and head_name(x) == "quote":
                out.add("quote")
                continue
            stack.extend(x.items)
    return out


def block_forms(block):
    """The forms of a checked block that are run or expanded."""
    if block.tag == "sx":
        return read(block.text, EXAMPLE_FILE)
    if block.tag in ("sx-expand", "sx-error"):
        return read(split_output(block)[0], EXAMPLE_FILE)
    return ()


def symbols_of(block):
    out = set()
    for f in block_forms(block):
        out |= code_symbols(f)
    return out


def defined_names(path):
    """The functions and macros the .sx file at ``path`` defines at the top level."""
    functions, macros = [], []
    for f in read(path.read_text(encoding="utf-8"), str(path)):
        h = head_name(f)
        if h in ("def", "defn"):
            functions.append(f.items[1].name)
        elif h == "defmacro":
            macros.append(f.items[1].name)
    return functions, macros


def nn_macros():
    env = library.new_env()
    library.require(env, read_one("(require macros.nn)"))
    return sorted(set(env.macros) - set(library.base_env().macros))


def library_functions():
    root = library.library_root()
    names = []
    # the derivative rules (prelude/derivatives.sx) are documented in docs/grad.md
    prelude = [p for p in sorted((root / "prelude").glob("*.sx")) if p.name != "derivatives.sx"]
    for path in prelude + sorted((root / "macros").glob("*.sx")):
        names += defined_names(path)[0]
    return names


def heading_index(name):
    """The index of the heading that documents ``name`` (its title starts with `name`)."""
    for k, (_, title, _) in enumerate(HEADINGS):
        if title.startswith(f"`{name}`"):
            return k
    return None


def undocumented(names):
    """The names without a heading whose section holds a checked example using them."""
    missing = []
    for name in names:
        k = heading_index(name)
        if k is None:
            missing.append(f"{name} (no heading)")
            continue
        if not any(k in b.section and name in symbols_of(b) for b in BLOCKS):
            missing.append(f"{name} (no checked example under its heading)")
    return missing


def test_base_macros_are_documented():
    # names that start with % are the compiler's (%defrule, for prelude/derivatives.sx)
    names = sorted(n for n in library.base_env().macros if not n.startswith("%"))
    assert {"defn", "cond", "loop", "for-fold"} <= set(names)
    missing = undocumented(names)
    assert not missing, f"macros not documented in docs/language.md: {missing}"


def test_nn_macros_are_documented():
    names = nn_macros()
    assert {"deflayer", "defmodel"} <= set(names)
    missing = undocumented(names)
    assert not missing, f"macros of macros/nn.sx not documented: {missing}"


def test_library_functions_are_documented():
    names = library_functions()
    assert {"sigmoid", "tree-map", "linear", "binding-names", "chain"} <= set(names)
    missing = undocumented(names)
    assert not missing, f"prelude and macro-library functions not documented: {missing}"


def test_core_forms_are_documented():
    names = sorted(core.SPECIAL_FORMS)
    missing = undocumented(names)
    assert not missing, f"core forms not documented in docs/language.md: {missing}"


def test_every_documented_entry_exists():
    """A `name` heading in the reference sections names a real form, macro or function."""
    known = (set(core.SPECIAL_FORMS) | set(library.base_env().macros) | set(nn_macros())
             | set(library_functions()) | {"defmacro", "do", "gensym", "syntax-error",
                                           "unhygienic", "require"})
    stale = []
    for _, title, _ in HEADINGS:
        m = re.match(r"`([^`]+)`", title)
        if m and m.group(1) not in known:
            stale.append(m.group(1))
    assert not stale, f"headings for things that do not exist: {stale}"


def test_example_count():
    """Every example is checked; report how many there are (pytest -s)."""
    n_sx = sum(run_sx_block(b) for b in blocks_tagged("sx"))
    n_expand = len(blocks_tagged("sx-expand"))
    n_error = len(blocks_tagged("sx-error"))
    n_py = sum(run_doctest(b)[1] for b in blocks_tagged("python"))
    print(f"\ndocs/language.md: {n_sx} sx checks, {n_expand} expansions, "
          f"{n_error} error outputs, {n_py} doctest examples")
    assert n_sx >= 100 and n_expand >= 5 and n_error >= 3 and n_py >= 10


# -- the checker itself --------------------------------------------------------------

def test_value_comparison():
    assert same_value(2, expected_value(read_one("2")))
    assert not same_value(2.0, expected_value(read_one("2")))
    assert not same_value(True, expected_value(read_one("1")))
    assert same_value(0.88079707797, expected_value(read_one("0.8807971")))
    assert not same_value(0.8808, expected_value(read_one("0.8807971")))
    assert same_value(np.array([1.0, 2.0]), expected_value(read_one("(array [1.0 2.0000001])")))
    assert not same_value(np.array([1, 2]), expected_value(read_one("(array [1.0 2.0])")))
    assert not same_value(np.array([1.0, 2.0]), expected_value(read_one("(array [[1.0 2.0]])")))
    assert same_value((1, Symbol("a")), expected_value(read_one("[1 'a]")))
    assert same_value(read_one("(a [b])"), expected_value(read_one("'(a [b])")))
    assert not same_value(read_one("(a (b))"), expected_value(read_one("'(a [b])")))


def test_a_wrong_example_fails():
    block = Block("sx", "(defn f [x] (* x 2))\n(f 2)  ; => 5\n", 1, ())
    with pytest.raises(AssertionError, match="expected 5, got 4"):
        run_sx_block(block)
    block = Block("sx", "(// 1 1)  ; !! integer division by zero\n", 1, ())
    with pytest.raises(AssertionError, match="expected an error"):
        run_sx_block(block)
    block = Block("sx", "(defn f [x] x)\n(f 1 2)  ; !! no such message\n", 1, ())
    with pytest.raises(AssertionError, match="no such message"):
        run_sx_block(block)
    block = Block("python", ">>> 1 + 1\n3\n", 1, ())
    assert run_doctest(block)[0].failed == 1
