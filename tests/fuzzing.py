"""Fuzzing the front door of myia_sx: random text, mutated programs, random
programs and random forms (used by tests/test_fuzz.py, a few seconds with fixed
seeds, and bench/fuzz.py, long runs).

Each input text goes through :func:`check_text`: ``myia_sx.read`` and
``myia_sx.loads`` on it, ``loads(dumps(f)) == f`` for every form read, then
``myia_sx.load_string`` and, if the module defines ``main``, a call of it
(with arguments made up for its parameters, its calls of functions bounded by
:class:`myia_sx.interp.Budget` so that a program that loops forever is an
error, not a hang).  Every step runs under a wall-clock budget.  The outcome
counts as a failure when anything but an :class:`myia_sx.errors.SxError`
escapes, when a step runs past its budget (a hang), when a form does not
print and read back as itself, or when an error's report is not short.

Generators take a :class:`random.Random`, so a seed replays an input:

  - :func:`random_text`: tokens of the language and junk (deep brackets,
    huge and malformed numbers, escapes, invisible and look-alike
    characters, every line break);
  - :func:`mutant`: a test program or example with a few edits (a token
    replaced, deleted or doubled, a span cut or copied, junk inserted,
    numbers made huge, code wrapped in macro calls or nested deep);
  - :func:`random_program`: ``main`` made of calls of primitives, macros and
    special forms on random arguments, to reach run-time checks;
  - :func:`random_form`: a form built in Python, for the printer;
  - ``ir``: a mutant of serialized IR (a test program compiled and written
    by ``Module.export``, ``(%stage lanf)`` first), which loads with no pass
    run, so its checker is the front door.

:func:`replay` makes input number ``index`` of a kind in a run with a seed.
"""

from __future__ import annotations

import math
import random
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import myia_sx
from myia_sx import interp
from myia_sx.errors import SxError
from myia_sx.forms import Form, Keyword, Symbol, Vec, form_eq
from myia_sx.prims import PRIMS, Prim

ROOT = Path(__file__).resolve().parent.parent
PROGRAM_FILES = sorted((ROOT / "tests" / "programs").glob("*.sx")) + sorted(
    (ROOT / "examples").glob("*.sx"))

# Calls of sx functions one run of main may make.
MAIN_CALLS = 20_000
# The longest report (str of an error) that counts as short.
MAX_REPORT = 4_000


class Hang(BaseException):
    """Raised in the fuzzed code when its time is up (a BaseException, so no
    ``except Exception`` of the code under test turns it into something else)."""


@contextmanager
def time_limit(seconds: float):
    """Raise :class:`Hang` in the code inside after ``seconds`` of wall time."""
    def alarm(signum, frame):
        raise Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Outcome:
    """What checking one input found: ``failures`` lists ``(step, what)``."""

    text: str
    errors: int = 0          # SxErrors (expected: most inputs are wrong)
    ran: bool = False        # main ran to a value
    hang: bool = False
    failures: list = field(default_factory=list)
    seconds: float = 0.0


def _step(out: Outcome, step: str, budget: float, fn, *args):
    """``fn(*args)`` under ``budget`` seconds; its value, or None if it failed."""
    try:
        with time_limit(budget):
            return fn(*args)
    except SxError as e:
        out.errors += 1
        try:
            report = str(e)
        except Exception as bad:  # noqa: BLE001 - the report itself must not fail
            out.failures.append((step, f"str(error) raised {type(bad).__name__}: {bad}"))
            return None
        if len(report) > MAX_REPORT:
            out.failures.append((step, f"a report of {len(report)} characters: "
                                       f"{report[:200]!r}..."))
        return None
    except Hang:
        out.hang = True
        out.failures.append((step, f"hang: still running after {budget} s"))
        return None
    except RecursionError as e:
        out.failures.append((step, f"RecursionError: {e}"))
        return None
    except Exception as e:  # noqa: BLE001 - the fuzzer reports every escape
        out.failures.append((step, f"{type(e).__name__}: {str(e)[:300]}"))
        return None


def _round_trip(forms):
    """Raise AssertionError unless every form prints and reads back as itself."""
    for f in forms:
        text = myia_sx.dumps(f)
        back = myia_sx.loads(text)
        if not form_eq(back, f) or myia_sx.dumps(back) != text:
            raise AssertionError(f"round trip changed {text[:200]!r}")


def _arguments(fn):
    """Made-up arguments for an sx function: one per parameter."""
    names = getattr(fn, "param_names", ()) or ()
    return [2 if i % 2 == 0 else 0.5 for i in range(len(names))]


def _run_main(m):
    if "main" not in m:
        return None
    main = m["main"]
    if not isinstance(main, myia_sx.api.Function):
        return main
    with interp.limited(interp.Budget(MAIN_CALLS, "main made more than {calls} calls "
                                                  "(the fuzzer's budget)")):
        return main(*_arguments(main))


def check_text(text: str, budget: float = 2.0, run: bool = True) -> Outcome:
    """Check one input text (see the module docstring)."""
    out = Outcome(text)
    t0 = time.perf_counter()
    forms = _step(out, "read", budget, myia_sx.read, text)
    _step(out, "loads", budget, myia_sx.loads, text)
    if forms is not None:
        try:
            with time_limit(budget):
                _round_trip(forms)
        except Hang:
            out.hang = True
            out.failures.append(("round trip", f"hang: still running after {budget} s"))
        except (AssertionError, ValueError) as e:
            out.failures.append(("round trip", f"{type(e).__name__}: {str(e)[:300]}"))
        m = _step(out, "load_string", budget, myia_sx.load_string, text)
        if m is not None and run:
            value = _step(out, "main", budget, _run_main, m)
            out.ran = value is not None
    out.seconds = time.perf_counter() - t0
    return out


def check_form(x) -> list:
    """The failures of printing random form ``x``: it prints and reads back
    as itself, or printing it is a ValueError."""
    try:
        text = myia_sx.dumps(x)
    except ValueError:
        return []
    except Exception as e:  # noqa: BLE001
        return [("dumps", f"{type(e).__name__}: {e}")]
    try:
        back = myia_sx.loads(text)
    except SxError as e:
        return [("loads(dumps(x))", f"{e.message} for {text[:200]!r}")]
    if not form_eq(back, x) or myia_sx.dumps(back) != text:
        return [("round trip", f"{text[:200]!r} read back as something else")]
    return []


# -- generators ---------------------------------------------------------------------

_SPECIAL = ["fn", "let", "letrec", "if", "quote", ".", "def", "defrecord", "require",
            "defn", "defmacro", "when", "unless", "cond", "and", "or", "->", "->>", "let*",
            "loop", "recur", "while", "dotimes", "for-fold", "grad", "value-and-grad", "vjp",
            "jvp", "do", "quasiquote", "unquote", "gensym", "symbol", "list", "vector",
            "deflayer", "defmodel", "unhygienic", "syntax-error"]
_NAMES = sorted(PRIMS) + _SPECIAL + ["x", "y", "f", "g", "main", "p.x", "a.b.c", "&rest",
                                     "sigmoid", "relu", "softmax", "tree-map", "mse"]
_NUMBERS = ["0", "1", "-1", "42", "3.5", "-0.0", "1e300", "1e400", "Inf", "-Inf", "NaN",
            "9223372036854775807", "-9223372036854775808", "9223372036854775808",
            "0x7fffffffffffffff", "0xffffffffffffffff", "1" * 40, "0b" + "1" * 70, "1_000",
            "007", "1f", "1.0.0", "1e", "1,000", "1j", "-_1", "\u0663", "\uff11", "0x",
            "5e-324", "1" * 5000]
_STRINGS = ['""', '"a b"', r'"\n\t\\\""', r'"\x41\u00e9\U0001F600"', r'"\N{EM DASH}"',
            '"\\', r'"\q"', r'"\U0011FFFF"', '"unterminated', r'"\0\777"',
            '"' + r"\n" * 300 + '"', '"a\nb"']
_JUNK = ["\u200b", "\u200d", "\u202e", "\u2066", "\u00ad", "\ufeff", "\x00", "\x1b", "\x7f",
         "\x85", "\u2028", "\u00a0", "\u3000", "\uff08", "\uff09", "\u037e", "\u0301",
         "e\u0301", "\u00e9", "\u5909", "\U0001F600", "\ue000", "\ud800", "\u3164",
         "\t", "\r", "\r\n", "\n", "\f", "\v", "#", "#{", "#(", "{", "}", "#_", "#!", ";",
         "~@", "~", "`", "'", ",", "\\", ":", "::", ".", "..", "f\"", "b\"x\""]
_OPEN = ["(", "[", "("]
_CLOSE = [")", "]", ")"]


def random_token(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.4:
        return rng.choice(_NAMES)
    if r < 0.55:
        return rng.choice(_NUMBERS)
    if r < 0.62:
        return rng.choice(_STRINGS)
    if r < 0.7:
        return ":" + rng.choice(["axis", "keepdims", "dtype", "wrt", "else", "f32", "x", ""])
    if r < 0.85:
        return rng.choice(_OPEN + _CLOSE)
    return rng.choice(_JUNK)


def random_text(rng: random.Random) -> str:
    """Tokens of the language and junk, mostly balanced, sometimes nested deep."""
    parts = []
    depth = 0
    for _ in range(rng.randint(1, 40)):
        r = rng.random()
        if r < 0.2:
            parts.append(rng.choice(_OPEN))
            depth += 1
        elif r < 0.35 and depth:
            parts.append(rng.choice(_CLOSE))
            depth -= 1
        else:
            parts.append(random_token(rng))
        parts.append(rng.choice([" ", " ", " ", "\n", "\t", "", "\r\n", " ; c\n"]))
    if rng.random() < 0.1:
        n = rng.choice([100, 1000, 5000, 20000])
        opener = rng.choice(["(", "[", "'", "(f ", "(- 1 ", "[1 "])
        parts = [opener * n] + parts + [")" * n if opener != "'" else ""]
    if rng.random() < 0.7:
        parts.append(")" * depth)
    return "".join(parts)


# (opening, closing) text put around a token, once or many times
_WRAPPERS = [("(when True ", ")"), ("(do ", ")"), ("(let [q 1] ", ")"), ("(-> ", ")"),
             ("((fn [] ", "))"), ("(if True ", " 1)"), ("[", "]"), ("(unless False ", ")"),
             ("(cond False 0 :else ", ")"), ("'", "")]
_PROGRAM_TEXTS: list = []


def program_texts() -> list:
    """The texts of the test programs and examples (read once)."""
    if not _PROGRAM_TEXTS:
        _PROGRAM_TEXTS.extend(f.read_text(encoding="utf-8") for f in PROGRAM_FILES)
    return _PROGRAM_TEXTS


_EXPORTED_TEXTS: list = []


def exported_texts() -> list:
    """The test programs and examples compiled and exported as serialized IR
    (those that load; made once)."""
    if not _EXPORTED_TEXTS:
        for f in PROGRAM_FILES:
            try:
                m = myia_sx.load(f)
            except SxError:
                continue
            _EXPORTED_TEXTS.append(m.export())
    return _EXPORTED_TEXTS


KINDS = ("text", "mutant", "program", "ir", "form")


def make(kind: str, rng: random.Random):
    """An input of ``kind`` (a text; a form for ``form``)."""
    if kind == "text":
        return random_text(rng)
    if kind == "mutant":
        return mutant(rng)
    if kind == "program":
        return random_program(rng)
    if kind == "ir":
        return mutant(rng, rng.choice(exported_texts()))
    return random_form(rng)


def replay(kind: str, seed, index: int):
    """The input number ``index`` of ``kind`` in a run with ``seed``."""
    return make(kind, random.Random(f"{seed}:{kind}:{index}"))


def _token_spans(text: str) -> list:
    """(start, end) of each maximal run of non-space, non-bracket characters."""
    spans = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in " \t\n()[]":
            i += 1
            continue
        j = i
        while j < n and text[j] not in " \t\n()[]":
            j += 1
        spans.append((i, j))
        i = j
    return spans


def mutant(rng: random.Random, text: str | None = None) -> str:
    """A program text (a random test program or example unless given) after
    one to four random edits."""
    if text is None:
        text = rng.choice(program_texts())
    for _ in range(rng.randint(1, 4)):
        spans = _token_spans(text)
        if not spans:
            return text + random_token(rng)
        a, b = rng.choice(spans)
        r = rng.random()
        if r < 0.25:                      # replace a token
            text = text[:a] + random_token(rng) + text[b:]
        elif r < 0.35:                    # delete a token
            text = text[:a] + text[b:]
        elif r < 0.45:                    # double a token
            text = text[:b] + " " + text[a:b] + text[b:]
        elif r < 0.55:                    # cut a span
            c = rng.randint(a, min(len(text), a + rng.choice([1, 5, 40, 400])))
            text = text[:a] + text[c:]
        elif r < 0.62:                    # copy a span elsewhere
            c = rng.randint(a, min(len(text), a + 200))
            d = rng.randint(0, len(text))
            text = text[:d] + text[a:c] + text[d:]
        elif r < 0.72:                    # insert junk
            text = text[:a] + rng.choice(_JUNK) + text[a:]
        elif r < 0.8:                     # a number made extreme
            text = text[:a] + rng.choice(_NUMBERS) + text[b:]
        elif r < 0.9:                     # a token wrapped in macro calls or nested deep
            n = rng.choice([1, 3, 50, 300, 2000])
            head, close = rng.choice(_WRAPPERS)
            text = text[:a] + head * n + text[a:b] + close * n + text[b:]
        else:                             # an identifier swapped for another
            text = text[:a] + rng.choice(_NAMES) + text[b:]
    return text


_CALLABLE = sorted(PRIMS) + ["sigmoid", "relu", "tree-map", "softmax", "mse", "logsumexp"]


def _expr(rng: random.Random, depth: int, names: list) -> str:
    r = rng.random()
    if depth <= 0 or r < 0.25:
        pick = rng.random()
        if names and pick < 0.3:
            return rng.choice(names)
        if pick < 0.6:
            return rng.choice(["0", "1", "-3", "2.5", "-0.0", "1e308", "Inf", "NaN", "True",
                               "False", "None", '"s"', ":axis", "9223372036854775807"])
        if pick < 0.8:
            return rng.choice(["(array [1.0 2.0])", "(array [[1 2] [3 4]])", "(zeros [2 3])",
                               "(ones 3)", "[1 2]", "[]", "'x", "'(a b)", "(f32 1.5)"])
        return rng.choice(sorted(PRIMS))
    if r < 0.7:
        f = rng.choice(_CALLABLE)
        row = PRIMS.get(f)
        if type(row) is Prim and rng.random() < 0.9:
            # mostly the arity and keywords the primitive takes
            hi = row.max_args if row.max_args is not None else row.min_args + 2
            n = rng.randint(row.min_args, max(row.min_args, hi))
            kw = "".join(f" :{k} {_expr(rng, depth - 1, names)}" for k in row.kwargs
                         if rng.random() < 0.3)
        else:
            n = rng.choice([0, 1, 2, 2, 3])
            kw = rng.choice(["", "", " :axis 0", " :keepdims True", " :dtype :f32"])
        args = " ".join(_expr(rng, depth - 1, names) for _ in range(n))
        return f"({f} {args}{kw})"
    if r < 0.78:
        v = f"v{depth}"
        return f"(let [{v} {_expr(rng, depth - 1, names)}] {_expr(rng, depth - 1, names + [v])})"
    if r < 0.85:
        return (f"(if {_expr(rng, depth - 1, names)} {_expr(rng, depth - 1, names)} "
                f"{_expr(rng, depth - 1, names)})")
    if r < 0.92:
        v = f"a{depth}"
        body = _expr(rng, depth - 1, names + [v])
        fn = f"(fn [{v}] {body})"
        use = rng.choice(["({fn} {arg})", "((grad {fn}) {arg})", "(value-and-grad {fn})",
                          "((vjp {fn} {arg}) 1)", "(jvp {fn} [{arg}] [1.0])"])
        return use.format(fn=fn, arg=_expr(rng, depth - 1, names))
    return rng.choice(["(loop [i 0] (if (< i 3) (recur (+ i 1)) i))",
                       "(dotimes [i 2 a 0.0] (+ a 1.0))", "(cond False 1 :else 2)",
                       "(when True 1)", "(-> 1 (+ 2))", "(and True False)"])


def random_program(rng: random.Random) -> str:
    """A module whose ``main`` calls primitives, macros and special forms on
    random (mostly ill-typed) arguments."""
    helper = f"(defn h [x] {_expr(rng, 2, ['x'])})\n" if rng.random() < 0.3 else ""
    return f"{helper}(defn main [] {_expr(rng, rng.randint(1, 4), ['h'] if helper else [])})\n"


_NAME_CHARS = ("abcxyz-_?!*+<>=.:#%&/0123456789\u03bb\u00e9\u5909"
               "\u200b\u202e\u00ad\ufeff\u0301\uff08\u037e\r\n\t ()[]{}\";'`~\\")


def random_form(rng: random.Random, depth: int = 0):
    """A form built directly (names from a broad alphabet, integers of any
    size, floats of every kind, strings of any characters)."""
    r = rng.random()
    if depth > 6 or r < 0.55:
        pick = rng.random()
        if pick < 0.15:
            return rng.choice([0, 1, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 63, 10 ** 30,
                               rng.randint(-2 ** 70, 2 ** 70)])
        if pick < 0.3:
            return rng.choice([0.0, -0.0, 0.1, 1e300, 5e-324, math.inf, -math.inf, math.nan,
                               rng.uniform(-1e6, 1e6)])
        if pick < 0.4:
            return rng.choice([True, False, None])
        if pick < 0.55:
            return "".join(chr(rng.choice([rng.randint(0, 0x7f), rng.randint(0, 0xffff),
                                            rng.randint(0, 0x10ffff)]))
                           for _ in range(rng.randint(0, 6)))
        name = "".join(rng.choice(_NAME_CHARS) for _ in range(rng.randint(1, 5)))
        return Keyword(name) if pick < 0.65 else Symbol(name)
    items = [random_form(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return Form(items) if r < 0.8 else Vec(items)
