"""Public docstrings follow one convention (NumPy style, as the API reference renders them):
every public function, class and method of the documented modules has a summary, a
``Parameters`` section naming each of its parameters, and a ``Returns`` (or ``Yields``)
section when it returns something."""

from __future__ import annotations

import importlib
import inspect

import pytest

# the modules docs/api/ documents, and which of their names are public (``__all__`` where set)
MODULES = [
    "pyramid_kernels",
    "pyramid_kernels.morphing",
    "pyramid_kernels.generating",
    "pyramid_kernels.magnifying",
    "pyramid_kernels.magnifying.synthetic",
    "pyramid_kernels.phase_ops",
    "pyramid_kernels.ops",
    "pyramid_kernels.steering",
    "pyramid_kernels.data",
    "pyramid_kernels.models",
    "pyramid_kernels.compat.plenoptic",
]


def public_objects():
    seen = {}
    for name in MODULES:
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None) or [
            n
            for n, v in vars(module).items()
            if not n.startswith("_")
            and (inspect.isfunction(v) or inspect.isclass(v))
            and v.__module__ == module.__name__
        ]
        for attr in names:
            value = getattr(module, attr)
            if not (inspect.isfunction(value) or inspect.isclass(value)):
                continue  # modules, constants, tables
            key = f"{name}.{attr}"
            seen.setdefault(id(value), (key, value))
            if inspect.isclass(value):
                for meth_name, meth in vars(value).items():
                    if meth_name.startswith("_") or not callable(meth):
                        continue
                    if isinstance(meth, (staticmethod, classmethod)):
                        meth = meth.__func__
                    if inspect.isfunction(meth) and meth.__qualname__.startswith(value.__name__):
                        seen.setdefault(id(meth), (f"{key}.{meth_name}", meth))
    return sorted(seen.values(), key=lambda kv: kv[0])


def parameters(obj) -> list[str]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def returns_something(obj) -> bool:
    if inspect.isclass(obj):
        return False
    annotation = inspect.signature(obj).return_annotation
    return annotation not in (None, "None", inspect.Signature.empty)


def problems(key: str, obj) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    found = []
    if not doc.strip():
        return [f"{key}: no docstring"]
    params = parameters(obj)
    if params:
        if "Parameters\n----------" not in doc:
            found.append(f"{key}: no 'Parameters' section")
        else:
            section = doc.split("Parameters\n----------", 1)[1]
            described = {
                name.strip().lstrip("*")
                for line in section.splitlines()
                if line and not line.startswith(" ")
                for name in line.split(" :")[0].split(",")
            }
            found += [f"{key}: parameter {p!r} not described" for p in params if p not in described]
    if returns_something(obj) and not ("Returns\n-------" in doc or "Yields\n------" in doc):
        found.append(f"{key}: no 'Returns' section")
    return found


def test_public_docstrings_follow_numpy_style():
    objects = public_objects()
    assert len(objects) > 30
    bad = [p for key, obj in objects for p in problems(key, obj)]
    assert not bad, f"{len(bad)} docstring problems:\n" + "\n".join(bad)


def test_the_check_catches_a_missing_section():
    def f(x: int) -> int:
        """Summary only."""
        return x

    def g(x: int) -> int:
        """Summary.

        Parameters
        ----------
        x : int
            A number.

        Returns
        -------
        int
            The number.
        """
        return x

    assert problems("f", f) == ["f: no 'Parameters' section", "f: no 'Returns' section"]
    assert problems("g", g) == []
    with pytest.raises(AssertionError):
        assert not problems("f", f)


def test_docstring_examples_run():
    import doctest

    examples = [(key, obj) for key, obj in public_objects() if ">>>" in (obj.__doc__ or "")]
    assert len(examples) >= 3
    finder, runner = doctest.DocTestFinder(recurse=False), doctest.DocTestRunner(verbose=False)
    for key, obj in examples:
        for test in finder.find(obj, key, globs={}):
            result = runner.run(test)
            assert result.failed == 0, f"the example of {key} failed"
