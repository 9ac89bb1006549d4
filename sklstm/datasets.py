"""Corpora that ship with Python itself, so nothing is downloaded."""

from __future__ import annotations


def load_python_docs():
    """Return the documentation topics every CPython ships, one per document.

    The text behind ``help("topics")``, from :mod:`pydoc_data.topics`: about
    80 documents and 465,000 characters of English prose and code samples
    (sizes vary a little between Python versions). It needs no download,
    which makes it the default corpus for demos, examples and tests.

    Returns
    -------
    documents : list of str
        One document per topic, in the topics' sorted order.

    Examples
    --------
    >>> from sklstm import load_python_docs
    >>> docs = load_python_docs()
    >>> len(docs) > 50
    True
    """
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # pragma: no cover - stripped-down Pythons
        raise ImportError(
            "load_python_docs needs the pydoc_data package of the standard "
            "library, which this Python installation does not include (some "
            "distributions split it out; on Debian it is in libpython3-stdlib)."
        ) from exc
    return [topics[name] for name in sorted(topics)]
