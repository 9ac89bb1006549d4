"""Measures of a language model that compare across tokenisations, and of
how much generated text is copied from the training corpus
(:func:`copied_text`)."""

from __future__ import annotations

import math

import numpy as np

from sklstm._copies import CopyIndex as CopyIndex  # re-exported
from sklstm._copies import copied_text as copied_text  # re-exported
from sklstm._validation import check_documents


def bits_per_character(estimator, X):
    """Bits per character of documents under a fitted text model.

    The model's negative log-likelihood of the documents (each followed by
    its end-of-document token, which counts as one character), in bits,
    divided by their number of characters. Lower is better. Unlike
    ``score`` (per token), it compares models across tokenisation levels: a
    char model and a word model of the same text get comparable numbers.

    Parameters
    ----------
    estimator : LSTMTextGenerator, Pipeline or fitted search
        Anything fitted on raw text with a ``score_samples`` method returning
        natural-log likelihoods per document.
    X : iterable of str
        Documents, usually held out: text, or files when the model's
        sequencer reads files (``TextSequencer(input="filename")``), whose
        characters are then counted as read.

    Returns
    -------
    bpc : float

    Notes
    -----
    Characters are counted in the documents as given (Unicode code points).
    A word-level model sees normalised text (lowercased, without punctuation
    or digits by default) and maps rare words to one unknown token, so it is
    not charged for what normalisation removed: compare levels on the same
    normalisation, or read its figure as a lower bound.

    A subword-level model (``TextSequencer(level="subword")``, without
    normalisation, its default) reads the text as it is, in tokens of
    several characters or of parts of one. Its log-likelihood of a document
    is that of the document's token sequence, which decodes back to exactly
    the document, so the figure is the number of bits the model needs to
    write the text, per character, as for a char-level model. (The model
    could also spell the same text with other token sequences; their
    probability is not added, so the figure is never below the text's full
    cost under the model.)

    Examples
    --------
    >>> from sklstm import LSTMTextGenerator
    >>> from sklstm.metrics import bits_per_character
    >>> docs = ["abcabcabc" * 10, "cabcabcab" * 10]
    >>> model = LSTMTextGenerator(units=8, embedding_dim=4, sequence_length=8,
    ...                           epochs=1, validation_fraction=0,
    ...                           random_state=0).fit(docs)
    >>> bits_per_character(model, docs) > 0
    True
    """
    from sklstm._resolve import resolve
    from sklstm.sequencer import document_pieces, read_documents

    reader = resolve(estimator, "bits_per_character").reader
    if reader is None or reader.input == "content":
        docs = check_documents(X, "bits_per_character")
        lengths = [len(doc) for doc in docs]
    else:
        docs = read_documents(reader, X, "bits_per_character")
        lengths = [sum(len(p) for p in document_pieces(reader, doc)) for doc in docs]
    if not docs:
        raise ValueError("bits_per_character needs at least one document; got none.")
    loglik = np.asarray(estimator.score_samples(docs), dtype=float)
    n_chars = sum(lengths) + len(docs)  # + end-of-document
    return float(-loglik.sum() / n_chars / math.log(2))


def neg_bits_per_character_scorer(estimator, X, y=None):
    """Scorer for model selection: minus :func:`bits_per_character`.

    Greater is better, as scikit-learn's searches expect; pass it as
    ``scoring=neg_bits_per_character_scorer`` to ``GridSearchCV``,
    ``RandomizedSearchCV`` or ``cross_val_score``. Unlike the default
    scoring (``score``, per token), it compares candidates that tokenise
    differently, such as ``sequencer__level`` char against word.

    Parameters
    ----------
    estimator : LSTMTextGenerator, Pipeline or fitted search
        The fitted model to score.
    X : iterable of str
        Held-out documents.
    y : None
        Ignored.

    Returns
    -------
    score : float
        Minus the bits per character of ``X``.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklstm import LSTMTextGenerator, neg_bits_per_character_scorer
    >>> docs = ["abcabcabc" * 10, "cabcabcab" * 10, "bcabcabca" * 10] * 2
    >>> model = LSTMTextGenerator(units=8, embedding_dim=4, sequence_length=8,
    ...                           epochs=1, validation_fraction=0, random_state=0)
    >>> scores = cross_val_score(
    ...     model, docs, scoring=neg_bits_per_character_scorer, cv=2
    ... )
    >>> bool((scores < 0).all())  # minus bits per character of each fold
    True

    In a search: ``GridSearchCV(model, {"sequencer__level": ["char",
    "word"]}, scoring=neg_bits_per_character_scorer)``.
    """
    return -bits_per_character(estimator, X)
