"""Fresh names for passes (shared helper, not a pass).

A :class:`NameSupply` is seeded with the symbol names of a module that
contain ``%`` (no other can clash) and hands out ``base%k`` names that appear
nowhere in it, deterministically (so golden files are stable).
"""

from __future__ import annotations

from ..forms import Form, Symbol, Vec


class NameSupply:
    def __init__(self, module):
        # only a name with a % can be one fresh() makes
        self.used = used = set()
        stack = list(module)
        pop, extend = stack.pop, stack.extend
        while stack:
            x = pop()
            t = type(x)
            if t is Symbol:
                if "%" in x.name:
                    used.add(x.name)
            elif t is Form or t is Vec:
                extend(x.items)
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
