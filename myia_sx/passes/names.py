"""Fresh names for passes (shared helper, not a pass).

A :class:`NameSupply` is seeded with every symbol name in a module and hands
out ``base%k`` names that appear nowhere in it, deterministically (so golden
files are stable).
"""

from __future__ import annotations

from ..forms import Seq, Symbol


class NameSupply:
    def __init__(self, module):
        self.used = set()
        stack = list(module)
        while stack:
            x = stack.pop()
            if isinstance(x, Seq):
                stack.extend(x.items)
            elif type(x) is Symbol:
                self.used.add(x.name)
        self.counters: dict = {}

    def fresh(self, base: str) -> str:
        base = base.split("%", 1)[0] or "t"
        k = self.counters.get(base, 0)
        while True:
            k += 1
            name = f"{base}%{k}"
            if name not in self.used:
                break
        self.counters[base] = k
        self.used.add(name)
        return name
