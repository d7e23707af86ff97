"""The REPL: its logic directly, the prompt_toolkit front end in-process, the
piped mode as a subprocess, and the real terminal REPL driven through tmux."""

import io
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from conftest import ROOT, run_cli
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from myia_sx import library
from myia_sx import repl as repl_mod
from myia_sx.errors import SxInternalError
from myia_sx.pipeline import PASS_NAMES
from myia_sx.repl import Repl, forms_complete, make_prompt, run_plain, run_terminal


@pytest.fixture
def r():
    return Repl()


# -- completeness: when Enter submits ---------------------------------------

@pytest.mark.parametrize("text", [
    "(+ 1 2)", "42", "(defn f [x]\n  (* x 2))", "", "; just a comment",
    "(f 1) (g 2)", '"a string"', "'x",
])
def test_complete_input(text):
    assert forms_complete(text)


@pytest.mark.parametrize("text", [
    "(+ 1", "(defn f [x]\n  (* x", "[1 2", '"abc', '(f "x)', "(f 1) (g",
])
def test_incomplete_input(text):
    assert not forms_complete(text)


@pytest.mark.parametrize("text", [")", "(+ 1 2))", "(] ", "{1 2}", "(f 1f", "#{1}"])
def test_other_syntax_errors_submit(text):
    assert forms_complete(text)


def test_commands_complete_on_their_argument(r):
    assert not r.is_complete(":type (f 1")
    assert r.is_complete(":type (f 1)")
    assert not r.is_complete(":ir normalize_anf (defn g [x]")
    assert r.is_complete(":ir normalize_anf (defn g [x] x)")
    assert r.is_complete(":ir normalize_anf")
    assert r.is_complete(":load some file.sx")
    assert r.is_complete(":help")


# -- evaluation ---------------------------------------------------------------

def test_define_then_call(r):
    out = r.handle("(defn double [x] (* x 2))")
    assert (out.out, out.err) == ("defined double", "")
    assert r.handle("(double 21)").out == "42"
    assert r.handle("(double 1.5)").out == "3.0"


def test_several_forms_in_one_input(r):
    out = r.handle("(def a 2) (defrecord P [x y]) (P a [1 2])")
    assert out.out.splitlines() == ["defined a", "defined P", "(P 2 [1 2])"]


def test_values_are_shown_as_sx(r):
    assert r.handle("[1 2.5 True None]").out == "[1 2.5 True None]"
    assert r.handle("'(a b)").out == "'(a b)"
    assert r.handle('"hi"').out == '"hi"'
    r.handle("(defn f [x] x)")
    assert r.handle("f").out == "<function f at <repl>:1:1>"
    assert r.handle("(ones [2])").out == "(array [1.0 1.0])"


def test_last_value_is_bound_to_underscore(r):
    r.handle("(+ 40 2)")
    assert r.handle("(+ _ 1)").out == "43"


def test_unbound_name_reports_caret_and_keeps_definitions(r):
    r.handle("(defn f [x] (+ x 1))")
    out = r.handle("(f (zzqx 1))")
    assert out.out == ""
    lines = out.err.splitlines()
    assert lines[0].startswith("<repl>:1:5: unbound name zzqx")
    assert lines[1:] == ["   1 | (f (zzqx 1))",
                         "           ^~~~"]
    assert lines[2].index("^") == lines[1].index("zzqx")
    assert r.handle("(f 1)").out == "2"


def test_failed_input_is_undone_entirely(r):
    r.handle("(defn f [x] 1)")
    out = r.handle("(defn f [x] 2) (def y 3) (missing)")
    assert "unbound name missing" in out.err
    assert r.handle("(f 0)").out == "1"
    assert "unbound name y" in r.handle("y").err


def test_syntax_error(r):
    out = r.handle("(+ 1 2))")
    assert out.err.splitlines()[0] == "<repl>:1:8: unexpected ')' with no open bracket"
    assert out.err.splitlines()[2].index("^") == out.err.splitlines()[1].rindex(")")


def test_runtime_error(r):
    r.handle("(defn boom [x] (// x 0))")
    out = r.handle("(boom 3)")
    assert out.err.splitlines()[0] == "<repl>:1:16: integer division by zero in //"
    assert "(defn boom [x] (// x 0))" in out.err
    assert r.handle("(boom 0.0)").out == "NaN"


def test_internal_error_says_bug_without_traceback(r, monkeypatch):
    def broken(text, filename):
        raise SxInternalError("interpreter", KeyError("k"))
    monkeypatch.setattr(r.session, "run", broken)
    out = r.handle("(+ 1 2)")
    assert out.err.splitlines() == [
        "internal compiler error in interpreter: KeyError: 'k'",
        "(this is a bug in myia_sx; start the REPL with --traceback for details)"]
    assert "Traceback" not in out.err


def test_unexpected_exception_is_reported_as_a_bug(r, monkeypatch):
    def broken(text, filename):
        raise AttributeError("oops")
    monkeypatch.setattr(r.session, "run", broken)
    out = r.handle("1")
    assert out.err.startswith("internal error: AttributeError: oops\n(this is a bug")
    assert "Traceback" not in out.err


def test_show_traceback_adds_the_traceback(monkeypatch):
    r = Repl(show_traceback=True)
    out = r.handle("(zzqx)")
    assert out.err.startswith("Traceback (most recent call last):")
    assert out.err.endswith("   1 | (zzqx)\n        ^~~~")


def test_interrupt_during_evaluation_keeps_session(r, monkeypatch):
    r.handle("(def a 1)")
    real_load = library.load_module

    def load_then_interrupt(env, forms):
        real_load(env, forms)
        raise KeyboardInterrupt
    monkeypatch.setattr(library, "load_module", load_then_interrupt)
    assert r.handle("(def a 2)").err == "interrupted"
    monkeypatch.undo()
    assert r.handle("a").out == "1"


def test_blank_input_prints_nothing(r):
    assert (r.handle("  \n").out, r.handle("  \n").err) == ("", "")
    assert (r.handle("; comment").out, r.handle("; comment").err) == ("", "")


# -- commands -----------------------------------------------------------------

def test_type_shows_the_inferred_type_without_running(r):
    r.handle("(defn f [x] (* x 2))")
    r.handle("7")
    assert r.handle(":type (f 2)").out == "i64\n  f : (-> [i64] i64)"
    assert r.handle(":type (f 2.0)").out == "f64\n  f : (-> [f64] f64)"
    assert r.handle(":type [1 (f32 2)]").out == "[i64 f32]"
    assert r.handle(":type (ones [2 3])").out == "(array f64 [2 3])"
    assert r.handle(":type f").out == "(fn f [x])  ; a function: apply it to see its type"
    assert r.handle(":type (fn [[a b] c] a)").out.startswith("(fn fn [[a b] c])")
    r.handle("(defrecord P [a b])")
    assert r.handle(":type (P 1.0 (ones [2]))").out == "(record P :a f64 :b (array f64 [2]))"
    # a gradient has the type of its argument; nothing runs (no division by zero)
    r.handle("(defn g [x] (/ (sin x) 0.0))")
    assert r.handle(":type ((grad g) 1.0)").out.splitlines()[0] == "f64"
    assert r.handle(":type (// 1 0)").out == "i64"
    assert r.handle("_").out == "7"


def test_type_rejects_definitions_and_reports_errors(r):
    assert r.handle(":type (def z 1)").err.startswith(
        "<repl>:1:1: expected an expression, not a definition")
    assert r.handle(":type (defn g [x] x)").err.startswith(
        "<repl>:1:1: expected an expression, not a definition")
    assert "unbound name z" in r.handle("z").err
    assert "unbound name g" in r.handle("g").err
    assert r.handle(":type").err == "error: usage: :type EXPR (one expression)"
    assert r.handle(":type 1 2").err == "error: usage: :type EXPR (one expression)"
    assert r.handle(":type (nope)").err.startswith("<repl>:1:2: unbound name nope")
    r.handle('(defn h [x] (if (> x 0.0) 1 "a"))')
    err = r.handle(":type (h 1.5)").err
    assert err.startswith("<repl>:1:13: the branches of this if have types that cannot be joined")
    assert "h called from" in err


def test_ir_after_each_pass(r):
    r.handle("(defn f [x] x)")
    assert r.handle(":ir read (f (f 1))").out == "(f (f 1))"
    assert r.handle(":ir normalize_anf (f (f 1))").out == "(let [t%1 (f 1)] (f t%1))"
    assert r.handle(":ir expand_macros (defn g [x] x)").out == "(def g (fn [x] x))"
    assert "unbound name g" in r.handle("(g 1)").err   # :ir defines nothing


def test_ir_unknown_pass_lists_passes(r):
    err = r.handle(":ir bogus (f 1)").err
    assert err == "error: unknown pass 'bogus'; passes: read, " + ", ".join(PASS_NAMES)
    assert r.handle(":ir").err.startswith("error: usage: :ir PASS EXPR; passes: read,")
    assert r.handle(":ir read").err.startswith("error: usage: :ir PASS EXPR")


def test_load_file(r, tmp_path):
    f = tmp_path / "lib.sx"
    f.write_text("(defn sq [x] (* x x))\n(sq 3)\n")
    assert r.handle(f":load {f}").out == "defined sq\n9"
    assert r.handle("(sq 4)").out == "16"


def test_load_errors(r, tmp_path):
    assert r.handle(":load /no/such/file.sx").err == \
        "error: cannot read /no/such/file.sx: No such file or directory"
    assert r.handle(":load").err == "error: usage: :load FILE"
    bad = tmp_path / "bad.sx"
    bad.write_text("(defn ok [] 1)\n(defn bad [] (nope))\n")
    err = r.handle(f":load {bad}").err
    assert err.startswith(f"{bad}:2:15: unbound name nope")
    assert "unbound name ok" in r.handle("(ok)").err   # the whole file was undone


def test_help_and_quit(r):
    text = r.handle(":help").out
    for cmd in (":type", ":ir", ":load", ":help", ":quit", "Ctrl-C", "Ctrl-D", "Tab"):
        assert cmd in text
    assert not r.finished
    assert r.handle(":quit").out == ""
    assert r.finished


def test_unknown_command(r):
    assert r.handle(":frob 1").err.startswith("error: unknown command :frob")
    assert r.handle("':frob").out == ":frob"


# -- completion ---------------------------------------------------------------

def completions(r, text):
    prompt = make_prompt(r, input=None, output=DummyOutput())
    doc = Document(text, len(text))
    return [c.text for c in prompt.completer.get_completions(doc, CompleteEvent())]


def test_completion_follows_definitions(r):
    assert completions(r, "(quadr") == []
    r.handle("(defn quadruple [x] (* x 4))")
    assert completions(r, "(quadr") == ["quadruple"]
    assert set(completions(r, "(s")) >= {"sum", "sqrt", "shape", "sigmoid"}
    assert {"defn", "defrecord"} <= set(completions(r, "(def"))
    assert completions(r, ":ty") == [":type"]
    assert completions(r, "(f (sq") == ["sqrt", "square"]
    assert len(completions(r, "(sqrt ")) == len(r.names())   # all, after a space


def test_completion_skips_failed_definitions(r):
    r.handle("(defn later [] (missing))")
    assert completions(r, "(lat") == []


# -- the prompt_toolkit front end, in-process ---------------------------------

def prompt_once(r, keys):
    with create_pipe_input() as inp:
        inp.send_text(keys)
        prompt = make_prompt(r, history=InMemoryHistory(), input=inp, output=DummyOutput())
        return prompt.prompt()


def test_enter_inserts_newline_until_complete(r):
    assert prompt_once(r, "(defn f [x]\r(* x 2))\r") == "(defn f [x]\n(* x 2))"


def test_escape_enter_submits_incomplete_input(r):
    assert prompt_once(r, "(+ 1\x1b\r") == "(+ 1"


def test_enter_submits_other_syntax_errors(r):
    assert prompt_once(r, "(+ 1))\r") == "(+ 1))"


def test_terminal_loop(r, capsys):
    keys = ("(defn f [x]\r(+ x 1))\r"   # multi-line definition
            "(f 1\x03"                    # Ctrl-C discards the input
            "(g 1)\r"                     # an error
            "(f 41)\r"                    # the definition survived
            "\x04")                       # Ctrl-D quits
    with create_pipe_input() as inp:
        inp.send_text(keys)
        prompt = make_prompt(r, history=InMemoryHistory(), input=inp, output=DummyOutput())
        assert run_terminal(r, prompt, sys.stdout, sys.stderr) == 0
        history = list(prompt.history.get_strings())
    cap = capsys.readouterr()
    assert cap.out.splitlines() == ["defined f", "42"]
    assert cap.err.startswith("<repl>:1:2: unbound name g")
    assert history == ["(defn f [x]\n(+ x 1))", "(g 1)", "(f 41)"]


def test_terminal_loop_stops_at_quit(r, capsys):
    with create_pipe_input() as inp:
        inp.send_text(":quit\r(+ 1 2)\r")
        prompt = make_prompt(r, history=InMemoryHistory(), input=inp, output=DummyOutput())
        assert run_terminal(r, prompt, sys.stdout, sys.stderr) == 0
    assert capsys.readouterr().out == ""


def test_history_is_kept_across_sessions(r, tmp_path):
    path = str(tmp_path / "history")
    with create_pipe_input() as inp:
        inp.send_text("(+ 1\r2)\r")
        assert make_prompt(r, history=FileHistory(path), input=inp,
                           output=DummyOutput()).prompt() == "(+ 1\n2)"
    with create_pipe_input() as inp:
        inp.send_text("\x1b[A\r")   # Up, Enter in a new session
        assert make_prompt(Repl(), history=FileHistory(path), input=inp,
                           output=DummyOutput()).prompt() == "(+ 1\n2)"


def test_history_path(monkeypatch, tmp_path):
    monkeypatch.setenv("MYIA_SX_HISTORY", str(tmp_path / "h"))
    assert repl_mod.history_path() == tmp_path / "h"
    monkeypatch.delenv("MYIA_SX_HISTORY")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert repl_mod.history_path() == tmp_path / ".myia_sx_history"


# -- the plain line reader, in-process ----------------------------------------

class Tty(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self):
        return True


def plain(text):
    out, err = io.StringIO(), io.StringIO()
    status = repl_mod.main(stdin=io.StringIO(text), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_plain_mode_accumulates_lines():
    status, out, err = plain("(defn f [x]\n\n  ; comment\n  (* x\n 3))\n\n(f\n 2)\n")
    assert (status, out, err) == (0, "defined f\n6\n", "")


def test_plain_mode_reports_unclosed_input_at_eof():
    status, out, err = plain("(+ 1 2)\n(+ 1\n")
    assert (status, out) == (0, "3\n")
    assert err.startswith("<repl>:1:1: unclosed '('")


def test_plain_mode_prompts_on_stderr_for_a_terminal():
    out, err = io.StringIO(), io.StringIO()
    assert run_plain(Repl(), Tty("(+ 1\n2)\n"), out, err) == 0
    assert out.getvalue() == "3\n"
    assert err.getvalue() == "sx> ... sx> "


class Scripted:
    """A stdin whose ``readline`` returns the given lines, raising exceptions given."""

    def __init__(self, items, tty):
        self.items, self.tty = list(items), tty

    def isatty(self):
        return self.tty

    def readline(self):
        item = self.items.pop(0) if self.items else ""
        if isinstance(item, BaseException):
            raise item
        return item


def test_plain_mode_ctrl_c_discards_input_at_a_terminal():
    out, err = io.StringIO(), io.StringIO()
    stdin = Scripted(["(+ 1\n", KeyboardInterrupt(), "(+ 2 2)\n"], tty=True)
    assert run_plain(Repl(), stdin, out, err) == 0
    assert out.getvalue() == "4\n"


def test_plain_mode_ctrl_c_stops_piped_input():
    out, err = io.StringIO(), io.StringIO()
    stdin = Scripted(["(+ 1 1)\n", KeyboardInterrupt(), "(+ 2 2)\n"], tty=False)
    assert run_plain(Repl(), stdin, out, err) == 130
    assert out.getvalue() == "2\n"


def test_terminal_without_prompt_toolkit_falls_back(monkeypatch):
    monkeypatch.setitem(sys.modules, "prompt_toolkit.history", None)   # import fails
    out, err = Tty(), io.StringIO()
    assert repl_mod.main(stdin=Tty("(+ 1\n 2)\n"), stdout=out, stderr=err) == 0
    assert out.getvalue() == "3\n"
    assert err.getvalue() == ("prompt_toolkit is not installed; using the plain line reader\n"
                              "sx> ... sx> ")


# -- myia-sx repl as a subprocess (piped stdin) -------------------------------

def test_piped_session():
    # a definition and a call; an unbound name, a syntax error and a runtime
    # error; the earlier definition again; a multi-line form; the commands
    script = """\
(defn sq [x] (* x x))
(sq 7)
(zzqx 1)
(sq 2))
(defn inv [x] (// 1 x))
(inv 0)
(sq 9)
(defn poly [x]
  (+ (sq x)
     1))
(poly 3)
:type (sq 1.5)
:ir normalize_anf (sq (sq 2))
:help
"""
    r = run_cli("repl", input=script, timeout=30)
    assert r.returncode == 0
    out = r.stdout.splitlines()
    assert out[:9] == ["defined sq", "49", "defined inv", "81", "defined poly", "10",
                       "f64", "  sq : (-> [f64] f64)",
                       "(let [t%1 (sq 2)] (sq t%1))"]
    assert ":load FILE" in r.stdout
    err = r.stderr.splitlines()
    assert err[0].startswith("<repl>:1:2: unbound name zzqx")
    assert "<repl>:1:7: unexpected ')' with no open bracket" in err
    assert "<repl>:1:15: integer division by zero in //" in err
    assert "Traceback" not in r.stderr
    assert "sx>" not in r.stdout + r.stderr


def test_piped_load_and_quit(tmp_path):
    f = tmp_path / "lib.sx"
    f.write_text("(defrecord P [x y])\n(defn norm2 [p] (+ (* p.x p.x) (* p.y p.y)))\n")
    script = f":load {f}\n(norm2 (P 3.0 4.0))\n:load {tmp_path / 'missing.sx'}\n:quit\n(+ 1 2)\n"
    r = run_cli("repl", input=script, timeout=30)
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["defined P", "defined norm2", "25.0"]
    assert r.stderr.strip() == f"error: cannot read {tmp_path / 'missing.sx'}: " \
                               "No such file or directory"


def test_the_model_development_session_of_the_docs():
    # docs/repl.md, "Model development at the REPL": its input, piped, prints its output
    text = (ROOT / "docs" / "repl.md").read_text()
    section = text[text.index("## Model development at the REPL"):]
    blocks = section.split("```")
    script, want = blocks[1].strip("\n") + "\n", blocks[3].strip("\n")
    r = run_cli("repl", input=script, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.strip("\n") == want


def test_piped_empty_input():
    r = run_cli("repl", input="", timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


# -- the real terminal REPL, through tmux -------------------------------------

@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_terminal_repl_in_tmux(tmp_path):
    sock = f"myia-sx-test-{uuid.uuid4().hex[:8]}"
    history = tmp_path / "history"
    cmd = (f"env MYIA_SX_HISTORY={history} PYTHONPATH={ROOT} "
           f"{sys.executable} -m myia_sx repl")

    def tmux(*args):
        return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True,
                              check=True, timeout=10).stdout

    def screen():
        return tmux("capture-pane", "-p", "-t", "repl")

    def wait_for(predicate, what):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            text = screen()
            if predicate(text):
                return text
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{screen()}")

    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", "repl",
                    "-x", "100", "-y", "30", cmd], check=True, timeout=10, env=env)
    try:
        wait_for(lambda s: "sx>" in s, "the prompt")
        tmux("send-keys", "-t", "repl", "(defn cube [x]", "Enter")
        text = wait_for(lambda s: "\n..." in s, "the continuation prompt")
        assert text.count("sx>") == 1 and "defined" not in text and "unclosed" not in text
        tmux("send-keys", "-t", "repl", "(* x (* x x)))", "Enter")
        wait_for(lambda s: "defined cube" in s, "the definition")
        tmux("send-keys", "-t", "repl", "(cube 3)", "Enter")
        text = wait_for(lambda s: "\n27\n" in s, "the result")
        lines = text.splitlines()
        assert lines[lines.index("27") - 1] == "sx> (cube 3)"
        tmux("send-keys", "-t", "repl", "C-d")
        wait_for(lambda s: history.exists() and "(cube 3)" in history.read_text(),
                 "the history file")
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, timeout=10,
                       check=False)
