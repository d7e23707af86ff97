"""The symbol table: what a module (or a REPL session) has defined so far.

An :class:`Env` holds the values of top-level names (``globals``: the
namespace compiled code reads at run time), the set of names the passes treat
as defined, where each was defined, the macros in scope (name ->
:class:`myia_sx.passes.expand_macros.Macro`) and the library files loaded
into it (:mod:`myia_sx.library`).  It is plain data: compiling and running
code is the interpreter's business (:mod:`myia_sx.interp`).
"""

from __future__ import annotations


class Env:
    """A global environment (see the module docstring)."""

    def __init__(self, globals_=None):
        self.globals: dict = {} if globals_ is None else globals_
        self.names: set = set(self.globals)
        self.spans: dict = {}
        self.macros: dict = {}
        self.libraries: list = []

    def copy(self):
        """A new environment with the same definitions (sharing their values)."""
        env = Env()
        env.restore(self.snapshot())
        return env

    def snapshot(self):
        """The state :meth:`restore` goes back to (a failed REPL chunk)."""
        return (dict(self.globals), set(self.names), dict(self.spans), dict(self.macros),
                list(self.libraries))

    def restore(self, state):
        globals_, names, spans, macros, libraries = state
        self.globals.clear()
        self.globals.update(globals_)
        self.names = set(names)
        self.spans = dict(spans)
        self.macros = dict(macros)
        self.libraries = list(libraries)

    def define(self, name, value, span=None):
        """Bind ``name`` to ``value``.  Redefining a name forgets the
        J-transforms derived from its old value (``name%J``, ``name%J%J`` ...),
        which are made again from the new one when next needed."""
        if name in self.globals and self.globals[name] is not value:
            stale = name + "%J"
            for other in [n for n in self.globals if n.startswith(stale)]:
                del self.globals[other]
                self.names.discard(other)
        self.globals[name] = value
        self.names.add(name)
        self.macros.pop(name, None)   # a value now, no longer a macro
        if span is not None:
            self.spans[name] = span
