"""The package's layers, as the docs' layout page draws them: each module imports only from its
own layer or the layers below (function-level imports included), and no two modules import
each other."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pyramid_kernels"
# bottom to top; a module belongs to the longest entry that is it or one of its parents
LAYERS = {
    "core": ["_version", "spec", "frequency", "selection", "channels", "steering", "registration"]
    + ["metrics"],
    "kernels": ["kernels", "_C"],
    # kernels.triton.aot: the ahead-of-time compile tool, which drives the pipeline
    "ops": ["backends", "validation", "pipeline", "ops", "phase_ops", "pyramid", "module"]
    + ["kernels.triton.aot"],
    "io": ["io"],
    "data and models": ["data", "models"],
    "morphing and magnifying": ["morphing", "magnifying"],
    "generating": ["generating"],
    "apps": ["apps", "compat", "generate", ""],
}


def module_names() -> dict[str, Path]:
    """Dotted names below the package ("" for its __init__) -> file."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def layer_of(name: str) -> int:
    matches = [
        (len(member), index)
        for index, members in enumerate(LAYERS.values())
        for member in members
        if name == member or (member and name.startswith(member + "."))
    ]
    assert matches, f"pyramid_kernels.{name} is in no layer: add it to LAYERS"
    return max(matches)[1]


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
    known["_C"] = None
    upward = []
    for name, path in sorted(known.items()):
        if path is None:
            continue
        for target in sorted(imports(name, path, known)):
            if layer_of(target) > layer_of(name):
                upward.append(f"pyramid_kernels.{name} imports pyramid_kernels.{target}")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


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
