"""Parameter and input checks with messages that say what was expected."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

import numpy as np


def check_int(value, name, where, *, min_value=None, allow_none=False):
    """Return ``value`` as an int, or raise with a scikit-learn style message."""
    if value is None and allow_none:
        return None
    bound = "" if min_value is None else f" >= {min_value}"
    expected = f"an int{bound}" + (" or None" if allow_none else "")
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or (min_value is not None and value < min_value)
    ):
        raise ValueError(
            f"The {name!r} parameter of {where} must be {expected}. "
            f"Got {value!r} instead."
        )
    return int(value)


def check_float(
    value,
    name,
    where,
    *,
    low=None,
    high=None,
    low_inclusive=True,
    high_inclusive=True,
    allow_none=False,
):
    """Return ``value`` as a float in the given interval, or raise."""
    if value is None and allow_none:
        return None
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_inclusive else '>'} {low}")
    if high is not None:
        parts.append(f"{'<=' if high_inclusive else '<'} {high}")
    expected = "a float" + (" " + " and ".join(parts) if parts else "")
    if allow_none:
        expected += " or None"
    given = value
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = np.isfinite(value)
    if ok and low is not None:
        ok = value >= low if low_inclusive else value > low
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    if not ok:
        raise ValueError(
            f"The {name!r} parameter of {where} must be {expected}. "
            f"Got {given!r} instead."
        )
    return value


def check_option(value, name, where, options):
    """Raise unless ``value`` is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(
            f"The {name!r} parameter of {where} must be one of {choices}. "
            f"Got {value!r} instead."
        )
    return value


def check_bool(value, name, where, *, allow_none=False):
    """Raise unless ``value`` is a bool (or None when allowed)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        expected = "a bool" + (" or None" if allow_none else "")
        raise ValueError(
            f"The {name!r} parameter of {where} must be {expected}. "
            f"Got {value!r} instead."
        )
    return bool(value)


def check_documents(X, where):
    """Return ``X`` as a list of str documents, or raise a clear error.

    A bare string is refused: it would otherwise be read as one document per
    character.
    """
    if isinstance(X, (str, bytes)):
        raise ValueError(
            f"{where} expects an iterable of str documents (for example a list "
            f"of strings); got a single {type(X).__name__} instead. Wrap it in "
            "a list: [text]."
        )
    try:
        docs = list(X)
    except TypeError as exc:
        raise TypeError(
            f"{where} expects an iterable of str documents; got "
            f"{type(X).__name__} instead."
        ) from exc
    bad = [(i, d) for i, d in enumerate(docs) if not isinstance(d, str)]
    if bad:
        shown = ", ".join(f"index {i}: {d!r} ({type(d).__name__})" for i, d in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise TypeError(
            f"{where} expects every document to be a str; got {len(bad)} "
            f"non-str item(s): {shown}{more}."
        )
    return docs


def check_prompts(prompt, where):
    """Refuse prompt containers that only look like sequences (dict, set)."""
    if (
        isinstance(prompt, (Mapping, AbstractSet))
        or prompt is None
        or isinstance(prompt, (bool, numbers.Number))
    ):
        raise TypeError(
            f"{where} expects a str prompt, a list of str prompts or integer id "
            f"sequences; got {type(prompt).__name__}."
        )
