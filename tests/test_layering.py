"""The package's layering, read from its source: one module imports the C++ core, no
module imports another module's private names, and the imports form no circle."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "dropengine"


def modules() -> dict:
    """{'dropengine.sampling': path, 'dropengine.exact': .../exact/__init__.py, ...}"""
    out = {}
    for path in PKG.rglob("*.py"):
        parts = ["dropengine", *path.relative_to(PKG).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = modules()
SUBMODULES = MODULES.keys() | {"dropengine._core", "dropengine.analysis._kernels"}


def imports(name: str, path: Path):
    """(imported module, imported name or None, line) for every import in the file, at any depth."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("dropengine"):
                    yield a.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                src = ".".join(base + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            if not src.startswith("dropengine"):
                continue
            for a in node.names:
                full = f"{src}.{a.name}"
                if full in SUBMODULES:  # `from . import x` imports the module x
                    yield full, None, node.lineno
                else:
                    yield src, a.name, node.lineno


def test_only_the_door_imports_the_core():
    importers = sorted({m for m, p in MODULES.items() for src, _, _ in imports(m, p) if src == "dropengine._core"})
    assert importers == ["dropengine._engine"]


def test_no_module_imports_another_modules_private_names():
    bad = [f"{m}:{line} imports {name} from {src}" for m, p in MODULES.items()
           for src, name, line in imports(m, p) if name is not None and name.startswith("_") and src != m]
    assert bad == []


def test_imports_form_no_circle():
    graph = {m: {src for src, _, _ in imports(m, p) if src in MODULES and src != m} for m, p in MODULES.items()}
    # A package's __init__ runs before its submodules: an edge into a package is an edge
    # into its __init__, which is what makes `from .. import x` circles real.
    state, stack, circles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                circles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    # Parents import their children (dropengine imports dropengine.exact): those edges
    # are the package's structure, not circles, when the child does not import back
    # anything but the parent's own submodules.
    real = [c for c in circles if not all(b.startswith(a + ".") or a.startswith(b + ".") for a, b in zip(c, c[1:]))]
    assert real == [], "\n".join(" -> ".join(c) for c in real)
