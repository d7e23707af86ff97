"""The package imports downwards only (docs/architecture.md, "Layering"):
every import statement of every module, function-level ones included, goes
to a module of a lower layer or of the same layer, and the import graph has
no cycle."""

import ast
from pathlib import Path

import myia_sx

PACKAGE = Path(myia_sx.__file__).resolve().parent

# Lowest first.  A module may import modules of its own layer or below.
LAYERS = [
    ["myia_sx.version", "myia_sx.errors", "myia_sx.forms", "myia_sx.reader",
     "myia_sx.printer", "myia_sx.values", "myia_sx.dtypes", "myia_sx.types"],
    ["myia_sx.prims", "myia_sx.prims.table", "myia_sx.prims.numeric", "myia_sx.prims.arrays",
     "myia_sx.prims.sequences", "myia_sx.prims.syntax", "myia_sx.prims.sens",
     "myia_sx.prims.type_rules"],
    ["myia_sx.core", "myia_sx.env", "myia_sx.interp"],
    ["myia_sx.passes", "myia_sx.passes.names", "myia_sx.passes.scopes",
     "myia_sx.passes.expand_macros", "myia_sx.passes.resolve_names",
     "myia_sx.passes.normalize_anf", "myia_sx.passes.differentiate",
     "myia_sx.passes.infer_types", "myia_sx.passes.specialize", "myia_sx.languages"],
    ["myia_sx.ad"],
    ["myia_sx.pipeline"],
    ["myia_sx.library"],
    ["myia_sx.backend", "myia_sx.backend.llvm"],
    ["myia_sx.params"],
    ["myia_sx.api", "myia_sx.train", "myia_sx.hy_bridge", "myia_sx.importer", "myia_sx.hook", "myia_sx.repl",
     "myia_sx.cli", "myia_sx.__main__", "myia_sx"],
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}


def module_name(path):
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules():
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name, path):
    """The package modules that ``path`` (module ``name``) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    known = modules()
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "myia_sx"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            if target.split(".")[0] != "myia_sx":
                continue
            for a in node.names:   # from pkg import module
                sub = f"{target}.{a.name}"
                out.add(sub if sub in known else target)
    out.discard(name)
    return out


def graph():
    return {name: imports(name, path) for name, path in modules().items()}


def test_every_module_has_a_layer():
    assert sorted(set(modules()) - set(RANK)) == []


def test_imports_go_downwards():
    wrong = [f"{a} (layer {RANK[a]}) imports {b} (layer {RANK[b]})"
             for a, targets in graph().items() for b in targets if RANK[b] > RANK[a]]
    assert not wrong, "\n".join(wrong)


def test_no_cycles():
    g = graph()
    state, cycles = {}, []

    def visit(n, path):
        state[n] = "open"
        for m in sorted(g[n]):
            if state.get(m) == "open":
                cycles.append(" -> ".join(path[path.index(m):] + [m]))
            elif m not in state:
                visit(m, path + [m])
        state[n] = "done"
    for n in sorted(g):
        if n not in state:
            visit(n, [n])
    assert not cycles, "\n".join(cycles)


def test_the_primitive_table_is_data():
    # the table imports no interpreter, AD runtime, pipeline or pass
    g = graph()
    table = [m for m in g if m.startswith("myia_sx.prims")]
    for m in table:
        assert not {t for t in g[m] if RANK[t] > RANK["myia_sx.prims"]}, m


def test_the_declared_dependencies_are_installed():
    # a run without them (a Python where the project is not installed) fails
    # here, naming what is missing, instead of at the collection of a file
    import importlib.util
    import re
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)\]", text, re.S | re.M).group(1)
    names = [re.match(r"[A-Za-z0-9_-]+", d.strip().strip('",')).group(0)
             for d in deps.split(",") if d.strip()]
    assert "hy" in names and "numpy" in names
    missing = [n for n in names if importlib.util.find_spec(n.replace("-", "_")) is None]
    assert not missing, f"not installed: {missing} (pip install -e '.[test]')"
