"""The package's layers, read from its tree (docs/layout.md draws them): each module imports only
from its own top-level folder or from folders on lower floors (function-level imports
included), and no two modules import each other."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pyramid_kernels"
# The floors, bottom to top, as the package's top-level folders and modules: a module imports
# only from its own folder or from lower floors; folders on one floor do not import each other
# (morphing and magnifying share only what lies below them). Every top-level entry of the tree
# must stand on one floor (test_every_folder_stands_on_a_floor).
FLOORS = [
    ["_version", "core"],
    ["ops"],
    ["pyramid", "metrics"],
    ["io"],
    ["data"],
    ["models"],
    ["morphing", "magnifying", "compat"],
    ["generating"],
    ["experiments"],
    ["apps"],
    ["", "__main__", "phase_ops", "steering"],  # the public face
]
FACE = ["", "__main__", "phase_ops", "steering", "_version"]  # the package root's modules


def module_names() -> dict[str, Path]:
    """Dotted names below the package ("" for its __init__) -> file."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def top(name: str) -> str:
    """The top-level entry (folder or root module) a dotted module name lives in."""
    return name.partition(".")[0]


def floor_of(name: str) -> int:
    floors = [i for i, entries in enumerate(FLOORS) if top(name) in entries]
    assert floors, f"pyramid_kernels.{name} stands on no floor: add {top(name)!r} to FLOORS"
    return floors[0]


def imports(name: str, path: Path, known: dict) -> set[str]:
    """The package's modules ``name`` imports (``from .. import x`` counts as module x)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("pyramid_kernels"):
                target = node.module.removeprefix("pyramid_kernels").lstrip(".")
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                found.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pyramid_kernels"):
                    found.add(alias.name.removeprefix("pyramid_kernels").lstrip("."))
    found.discard(name)
    return found


def test_every_module_imports_only_from_its_layer_or_below():
    known = module_names()
    known["ops._C"] = None  # the built C++ kernels
    upward = []
    for name, path in sorted(known.items()):
        if path is None:
            continue
        for target in sorted(imports(name, path, known)):
            same_folder = top(target) == top(name)
            below = floor_of(target) < floor_of(name)
            if not (same_folder or below or floor_of(name) == len(FLOORS) - 1):
                upward.append(f"pyramid_kernels.{name} imports pyramid_kernels.{target}")
    assert not upward, "imports that run upward or sideways:\n" + "\n".join(upward)


def test_every_folder_stands_on_a_floor():
    entries = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    }
    entries = {"" if e == "__init__" else e for e in entries}
    placed = {e for floor in FLOORS for e in floor}
    assert entries == placed, (
        f"in the tree, not on a floor: {entries - placed}; gone: {placed - entries}"
    )
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 6 and {p.removesuffix(".py") for p in modules} <= set(FACE) | {
        "__init__"
    }


def test_no_two_modules_import_each_other():
    known = module_names()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    pairs = sorted(
        (a, b)
        for a, targets in graph.items()
        for b in targets
        if a < b and a in graph.get(b, ()) and not (a == "" or b == "")
    )
    # a package's __init__ re-exports its modules, which may import siblings through it
    pairs = [(a, b) for a, b in pairs if not (b.startswith(a + ".") or a.startswith(b + "."))]
    assert not pairs, f"modules that import each other: {pairs}"


FAMILIES = sorted(p.parent.name for p in (PACKAGE / "ops").glob("*/kernels.py"))


def test_the_shared_ops_modules_that_families_import_import_no_family():
    """Inside ops/: a family (ops/<family>/) imports shared modules (backends, registration,
    ...), and none of those imports a family back (dispatch goes through the family's own
    kernels.py)."""
    known = module_names()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    family_modules = [n for n in graph if n.split(".")[:2][-1] in FAMILIES and n.count(".") >= 1]
    shared = {
        t
        for n in family_modules
        for t in graph[n]
        if t.startswith("ops.") and t.count(".") == 1 and t.split(".")[1] not in FAMILIES
    }
    assert shared, "the families import no shared ops module?"
    back = sorted(
        f"{s} imports {t}"
        for s in shared
        for t in graph.get(s, ())
        if t.startswith("ops.") and t.split(".")[1] in FAMILIES
    )
    assert not back, back


def test_no_import_runs_in_a_circle():
    """No chain of imports leads back to where it started (a package's __init__, which
    re-exports its own modules, left out)."""
    known = module_names()
    graph = {
        name: {t for t in imports(name, path, known) if t and not name.startswith(t + ".")}
        for name, path in known.items()
        if name
    }
    graph = {
        n: {t for t in ts if t in graph and known[t].name != "__init__.py"}
        for n, ts in graph.items()
    }
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_no_private_name_is_imported_across_files():
    leaks = []
    for name, path in module_names().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (
                node.level or "pyramid_kernels" in (node.module or "")
            ):
                leaks += [
                    f"pyramid_kernels.{name} imports {alias.name} from {node.module}"
                    for alias in node.names
                    if alias.name.startswith("_")
                    and not alias.name.startswith("__")
                    and alias.name != "_C"
                ]
    assert not leaks, leaks


def test_no_module_is_over_500_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 500
    }
    assert not long, long
