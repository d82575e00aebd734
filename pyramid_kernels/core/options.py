"""How an entry point takes its options object: ``options=`` or the keyword settings, not both
(pk.morph, pk.generate, pk.magnify and pk.Magnifier share this check)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable


def keyword_defaults(fn: Callable) -> dict[str, object]:
    """{parameter: default} of ``fn``'s signature."""
    return {name: p.default for name, p in inspect.signature(fn).parameters.items()}


def check_options(
    options: object,
    kind: type,
    settings: dict[str, object],
    defaults: dict[str, object],
    also_given: Iterable[str] = (),
) -> None:
    """Raise unless ``options`` is a ``kind`` and every keyword setting beside it is at its
    default (``also_given``: settings passed some other way, e.g. as ``**kwargs``).

    Parameters
    ----------
    options : object
        What the caller passed as ``options=``.
    kind : type
        The options class the entry point takes.
    settings : dict
        The entry point's keyword settings as called.
    defaults : dict
        Their defaults (:func:`keyword_defaults` of the entry point).
    also_given : iterable of str
        Names of further settings that were passed.
    """
    if not isinstance(options, kind):
        raise TypeError(f"options must be {kind.__name__}, got {type(options).__name__}")
    changed = [
        name
        for name, value in settings.items()
        if value is not defaults[name] and value != defaults[name]
    ]
    changed += list(also_given)
    if changed:
        raise ValueError(f"pass either options= or {', '.join(changed)}, not both")
