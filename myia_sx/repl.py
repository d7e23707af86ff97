"""The interactive loop: ``myia-sx repl``.

:class:`Repl` holds the logic and knows nothing about terminals: it decides
whether a piece of input is complete (:meth:`Repl.is_complete`) and turns one
complete input into an :class:`Output` (:meth:`Repl.handle`).  Two front ends
drive it:

- :func:`run_terminal`, when stdin and stdout are terminals: a prompt_toolkit
  prompt whose Enter key submits only complete input, with bracket matching,
  history kept across sessions and completion of the names defined so far;
- :func:`run_plain`, otherwise (piped input): a line reader that accumulates
  lines until they form complete input and prints no prompts on stdout, so
  stdout holds just the results and stderr the errors.

Evaluation goes through :class:`myia_sx.api.Session`; an input that fails
leaves the session as it was, so earlier definitions survive every error.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from . import types
from .api import Session
from .core import SPECIAL_FORMS
from .errors import SxError, SxInternalError, SxSyntaxError
from .forms import Symbol, user_name
from .passes import infer_types
from .pipeline import PASS_NAMES
from .prims import PRIMS
from .printer import dumps
from .reader import read
from .values import show_value

PROMPT = "sx> "
CONTINUATION = "... "
IR_PASSES = ("read",) + PASS_NAMES
COMMANDS = (":type", ":ir", ":load", ":help", ":quit")
HISTORY_ENV = "MYIA_SX_HISTORY"

# reader messages that mean "more input may still close this"
_INCOMPLETE = ("unclosed ", "unterminated string")
_COMMAND = re.compile(r"\s*(:[^\s()\[\]\";'`~]+)(.*)", re.DOTALL)
# the symbol (or :command) the cursor is in, for completion
_WORD = re.compile(r"[^\s()\[\]\";'`~]*$")

HELP = f"""\
Type an expression to evaluate it, or a definition to add it to the session.
A failed input changes nothing: earlier definitions stay as they were.

Commands:
  :type EXPR       the inferred type of EXPR, and of the functions it calls
                   (EXPR is not run; docs/types.md)
  :ir PASS EXPR    show EXPR (or definitions) after PASS, one of:
                   {', '.join(IR_PASSES)}
  :load FILE       run FILE's definitions and expressions in this session
  :help            show this text
  :quit            leave (Ctrl-D does too)

Keys (in a terminal):
  Enter            run the input once its brackets and strings are closed;
                   otherwise start a new line
  Esc Enter        run the input as it is (to see why it does not read)
  Tab              complete a name (definitions, primitives, commands)
  Up / Down        previous / next input, kept across sessions
  Ctrl-C           discard the current input
  Ctrl-D           quit (on an empty line)"""


@dataclass
class Output:
    """What one input printed: ``out`` for stdout, ``err`` for stderr."""

    out: str = ""
    err: str = ""


def forms_complete(text: str) -> bool:
    """Whether ``text`` reads as whole forms, or fails for a reason more text can't fix.

    Only an unclosed bracket or string means "not yet"; any other syntax
    error counts as complete, so that submitting it reports the error.
    """
    try:
        read(text, "<repl>")
    except SxSyntaxError as e:
        return not e.message.startswith(_INCOMPLETE)
    except Exception:  # noqa: BLE001 - a reader bug must not kill the prompt; submitting reports it
        return True
    return True


def split_command(text: str):
    """``(":name", argument text)`` if ``text`` starts with a ``:word``, else None."""
    m = _COMMAND.match(text)
    if m is None:
        return None
    return m.group(1), m.group(2).strip()


class Repl:
    """A REPL session independent of any terminal: feed it input, get output."""

    def __init__(self, session: Session | None = None, show_traceback: bool = False):
        self.session = session if session is not None else Session()
        self.show_traceback = show_traceback
        self.finished = False

    def names(self) -> list:
        """Completion candidates: definitions and macros so far, primitives, core forms,
        commands."""
        env = self.session.env
        names = set(self.session.names) | set(env.macros) | set(PRIMS)
        names |= SPECIAL_FORMS - {"."}
        return sorted(names) + list(COMMANDS)

    def is_complete(self, text: str) -> bool:
        """Whether Enter should submit ``text`` (rather than start a new line)."""
        cmd = split_command(text)
        if cmd is None:
            return forms_complete(text)
        name, arg = cmd
        if name == ":type":
            return forms_complete(arg)
        if name == ":ir":
            parts = arg.split(None, 1)
            return len(parts) < 2 or forms_complete(parts[1])
        return True

    def handle(self, text: str) -> Output:
        """Run one complete input (forms or a command); never raises."""
        if not text.strip():
            return Output()
        try:
            cmd = split_command(text)
            if cmd is None:
                return Output(out=self._show(self.session.run(text, "<repl>")))
            return self._command(*cmd)
        except SxError as e:
            return Output(err=self._trace() + (e.format() if e.span is not None
                                               else f"error: {e.message}"))
        except SxInternalError as e:
            return Output(err=self._trace() + f"{e}\n(this is a bug in myia_sx; "
                          "start the REPL with --traceback for details)")
        except (FileNotFoundError, ValueError) as e:
            return Output(err=self._trace() + f"error: {e}")
        except KeyboardInterrupt:
            return Output(err="interrupted")
        except Exception as e:  # noqa: BLE001 - never a raw traceback, even for a bug
            return Output(err=self._trace() + f"internal error: {type(e).__name__}: {e}\n"
                          "(this is a bug in myia_sx; start the REPL with --traceback "
                          "for details)")

    def _trace(self):
        return traceback.format_exc() if self.show_traceback else ""

    @staticmethod
    def _show(results) -> str:
        lines = []
        for kind, payload in results:
            if kind == "value":
                lines.append(show_value(getattr(payload, "closure", payload)))
            else:
                lines.append("defined " + " ".join(payload))
        return "\n".join(lines)

    def _command(self, name, arg) -> Output:
        if name == ":quit":
            self.finished = True
            return Output()
        if name == ":help":
            return Output(out=HELP)
        if name == ":load":
            if not arg:
                raise ValueError("usage: :load FILE")
            path = os.path.expanduser(arg.strip("\"'"))
            return Output(out=self._show(self.session.load_file(path)))
        if name == ":type":
            return Output(out=self._type(arg))
        if name == ":ir":
            return Output(out=self._ir(arg))
        raise ValueError(f"unknown command {name}; :help lists the commands "
                         f"(write '{name} for the keyword)")

    def _type(self, arg) -> str:
        forms = read(arg, "<repl>")
        if len(forms) != 1:
            raise ValueError("usage: :type EXPR (one expression)")
        sp = self.session.infer(arg, "<repl>")
        lines = [type_text(sp.result)]
        # the functions the expression calls, with their argument and result types
        seen = set()
        for callees in sp.context.calls.values():
            for ctx in callees:
                line = f"  {infer_types.code_label(ctx.code)} : " + type_text(
                    types.ArrowT(ctx.args, ctx.result))
                if line not in seen:
                    seen.add(line)
                    lines.append(line)
        return "\n".join(lines)

    def _ir(self, arg) -> str:
        parts = arg.split(None, 1)
        passes = ", ".join(IR_PASSES)
        if not parts:
            raise ValueError(f"usage: :ir PASS EXPR; passes: {passes}")
        if parts[0] not in IR_PASSES:
            raise ValueError(f"unknown pass {parts[0]!r}; passes: {passes}")
        if len(parts) < 2:
            raise ValueError(f"usage: :ir PASS EXPR; passes: {passes}")
        return self.session.ir(parts[0], parts[1])


def type_text(t) -> str:
    """A type for :type: values forgotten; a function as ``(fn f [x y])``
    (its type is that of a call: ``:type (f 1.0 2.0)`` shows it)."""
    if type(t) is types.ArrowT:
        return types.show(types.ArrowT(map(types.widen, t.params), types.widen(t.result)))
    if type(t) is types.FnT:
        params = " ".join(user_name(p.name) if type(p) is Symbol else dumps(p)
                          for p in t.code.fn.items[1].items)
        return (f"(fn {t.code.name.split('%')[0] or 'fn'} [{params}])  ; a function: "
                f"apply it to see its type")
    return types.show(types.widen(t))


def emit(output: Output, stdout, stderr):
    """Print ``output`` on the two streams."""
    if output.out:
        print(output.out, file=stdout, flush=True)
    if output.err:
        print(output.err, file=stderr, flush=True)


def run_plain(repl: Repl, stdin, stdout, stderr) -> int:
    """The line reader for piped input; returns the exit status.

    Lines accumulate until they form complete input, which then runs.  A
    prompt is written (to stderr) only when stdin is a terminal.
    """
    interactive = stdin.isatty()
    lines = []
    while not repl.finished:
        if interactive:
            stderr.write(CONTINUATION if lines else PROMPT)
            stderr.flush()
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            if not interactive:
                return 130
            lines = []
            stderr.write("\n")
            continue
        if not line:
            break
        lines.append(line)
        text = "".join(lines)
        if not text.strip():
            lines = []
        elif repl.is_complete(text):
            lines = []
            emit(repl.handle(text), stdout, stderr)
    if lines and not repl.finished:
        emit(repl.handle("".join(lines)), stdout, stderr)
    return 0


def history_path() -> Path:
    """``$MYIA_SX_HISTORY`` if set, else ``~/.myia_sx_history``."""
    return Path(os.environ.get(HISTORY_ENV) or Path.home() / ".myia_sx_history")


def make_prompt(repl: Repl, history=None, input=None, output=None):
    """The prompt_toolkit ``PromptSession`` of the terminal REPL."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor

    class NameCompleter(Completer):
        """Completes the word before the cursor from the REPL's current names."""

        def get_completions(self, document, complete_event):
            word = _WORD.search(document.text_before_cursor).group()
            for name in repl.names():
                if name.startswith(word) and name != word:
                    yield Completion(name, start_position=-len(word))

    keys = KeyBindings()

    @keys.add("enter")
    def _enter(event):
        buf = event.current_buffer
        if repl.is_complete(buf.text):
            buf.validate_and_handle()
        else:
            buf.insert_text("\n")

    return PromptSession(
        PROMPT, multiline=True, prompt_continuation=CONTINUATION, key_bindings=keys,
        history=history, completer=NameCompleter(), complete_while_typing=False,
        input_processors=[HighlightMatchingBracketProcessor(chars="()[]")],
        input=input, output=output)


def run_terminal(repl: Repl, prompt, stdout, stderr) -> int:
    """The interactive loop over a prompt_toolkit ``PromptSession``."""
    while not repl.finished:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        emit(repl.handle(text), stdout, stderr)
    return 0


def main(show_traceback: bool = False, stdin=None, stdout=None, stderr=None) -> int:
    """Run the REPL on the given streams (default: the process's); the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    repl = Repl(show_traceback=show_traceback)
    if not (stdin.isatty() and stdout.isatty()):
        return run_plain(repl, stdin, stdout, stderr)
    try:
        from prompt_toolkit.history import FileHistory
    except ImportError:
        print("prompt_toolkit is not installed; using the plain line reader", file=stderr)
        return run_plain(repl, stdin, stdout, stderr)
    print("myia_sx REPL; :help for commands, Ctrl-D to quit", file=stdout)
    prompt = make_prompt(repl, history=FileHistory(str(history_path())))
    return run_terminal(repl, prompt, stdout, stderr)
