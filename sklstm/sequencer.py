"""TextSequencer: learn a vocabulary, turn documents into ids and back."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sklstm._tokens import (
    EOD_ID,
    N_RESERVED,
    OOV_ID,
    OOV_TOKEN,
    PAD_ID,
    RESERVED_TOKENS,
)
from sklstm._validation import (
    check_bool,
    check_documents,
    check_int,
    check_option,
)

# The unknown-word marker as decoded, a word with optional apostrophe suffixes
# ("don't", "don’t"), or one punctuation mark.
_WORD_OR_PUNCT = re.compile(r"<unk>|\w+(?:['\u2019]\w+)*|[^\w\s]")
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")
_APOSTROPHES = re.compile(r"['\u2019]")
# Punctuation and symbols: everything that is neither a word character nor
# whitespace, plus the underscore that \w counts as a word character.
_PUNCT = re.compile(r"[^\w\s]|_")
# Detokenisation: no space before closing marks, none after opening marks.
_SPACE_BEFORE = re.compile(r" ([.,;:!?%)\]}])")
_SPACE_AFTER = re.compile(r"([(\[{$]) ")
_OOV_CHAR = "\ufffd"


class TextSequencer(TransformerMixin, BaseEstimator):
    """Learn a vocabulary from raw documents and map them to integer ids.

    The first step of a text-generation pipeline: ``fit`` learns the
    vocabulary, ``transform`` turns documents into id sequences for
    :class:`~sklstm.LSTMTextGenerator`, and ``inverse_transform`` turns ids
    back into text. A prompt goes through exactly the same normalisation and
    tokenisation as the training text.

    Three ids are reserved: ``0`` padding, ``1`` out-of-vocabulary and ``2``
    end-of-document. Real tokens start at ``3``, most frequent first.

    Parameters
    ----------
    level : {"char", "word"}, default="char"
        Token unit. ``"char"`` keeps every character, whitespace included.
        ``"word"`` splits on whitespace and, when punctuation is kept, makes
        each punctuation mark a token of its own.
    lowercase : bool or None, default=None
        Lowercase text before tokenising. None means True at word level and
        False at char level (the classic recipes' choices).
    strip_punctuation : bool or None, default=None
        Remove punctuation and symbols. Apostrophes are deleted (so "don't"
        stays one word, "dont"); other marks become spaces. None means True at
        word level and False at char level.
    strip_digits : bool or None, default=None
        Remove digits. None means True at word level and False at char level.
    max_words : int or None, default=None
        Size of the vocabulary, the three reserved ids included, so a model
        over it has at most ``max_words`` outputs. The most frequent tokens
        are kept (ties broken by first appearance). None keeps all.
    min_frequency : int, default=1
        Ignore tokens seen fewer times than this in the training documents.
    maxlen : int or None, default=None
        Length of the rows ``transform`` returns. None returns whole documents
        as a list of 1-D arrays; an int returns a 2-D array padded and
        truncated like ``keras.utils.pad_sequences``.
    padding : {"pre", "post"}, default="pre"
        Side on which short rows are padded with ``0`` when ``maxlen`` is set.
    truncating : {"pre", "post"}, default="pre"
        Side from which long rows lose tokens when ``maxlen`` is set.
    handle_unknown : {"oov", "error"}, default="oov"
        What ``transform`` (and a model's prompts, scoring and continued
        training) does with tokens the vocabulary does not hold: map them to
        the out-of-vocabulary id ``1``, or raise a ``ValueError``.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Token to id, the reserved tokens ``"<pad>"``, ``"<unk>"`` and
        ``"<eod>"`` included.
    vocab_size_ : int
        Number of ids, reserved ones included.

    See Also
    --------
    LSTMTextGenerator : The language model that consumes these sequences.

    Examples
    --------
    >>> from sklstm import TextSequencer
    >>> seq = TextSequencer(level="word").fit(["The cat sat.", "The dog ran!"])
    >>> seq.transform(["the cat ran"])
    [array([3, 4, 7], dtype=int32)]
    >>> seq.inverse_transform([[3, 5, 7]])
    ['the sat ran']
    """

    def __init__(
        self,
        *,
        level="char",
        lowercase=None,
        strip_punctuation=None,
        strip_digits=None,
        max_words=None,
        min_frequency=1,
        maxlen=None,
        padding="pre",
        truncating="pre",
        handle_unknown="oov",
    ):
        self.level = level
        self.lowercase = lowercase
        self.strip_punctuation = strip_punctuation
        self.strip_digits = strip_digits
        self.max_words = max_words
        self.min_frequency = min_frequency
        self.maxlen = maxlen
        self.padding = padding
        self.truncating = truncating
        self.handle_unknown = handle_unknown

    # ----------------------------------------------------------------- helpers
    def _validate_params(self):
        where = type(self).__name__
        check_option(self.level, "level", where, ("char", "word"))
        for name in ("lowercase", "strip_punctuation", "strip_digits"):
            check_bool(getattr(self, name), name, where, allow_none=True)
        check_int(
            self.max_words,
            "max_words",
            where,
            min_value=N_RESERVED + 1,
            allow_none=True,
        )
        check_int(self.min_frequency, "min_frequency", where, min_value=1)
        check_int(self.maxlen, "maxlen", where, min_value=1, allow_none=True)
        check_option(self.padding, "padding", where, ("pre", "post"))
        check_option(self.truncating, "truncating", where, ("pre", "post"))
        check_option(self.handle_unknown, "handle_unknown", where, ("oov", "error"))

    def _option(self, name):
        """Resolve a level-dependent normalisation option."""
        value = getattr(self, name)
        return self.level == "word" if value is None else value

    def _normalize(self, doc):
        if self._option("lowercase"):
            doc = doc.lower()
        if self._option("strip_digits"):
            doc = _DIGITS.sub("", doc)
        if self._option("strip_punctuation"):
            doc = _PUNCT.sub(" ", _APOSTROPHES.sub("", doc))
        return doc

    def _tokenize(self, doc):
        """Normalise one document and split it into tokens."""
        doc = self._normalize(doc)
        if self.level == "char":
            return list(doc)
        pattern = _WORD if self._option("strip_punctuation") else _WORD_OR_PUNCT
        return pattern.findall(doc)

    def _encode(self, docs):
        """Documents to a list of int32 id arrays, whole (no padding)."""
        lookup = self.vocabulary_.get
        seqs = [
            np.fromiter(
                (lookup(tok, OOV_ID) for tok in self._tokenize(doc)), dtype=np.int32
            )
            for doc in docs
        ]
        if self.handle_unknown == "error":
            unknown = sorted(
                {
                    tok
                    for doc in docs
                    for tok in self._tokenize(doc)
                    if tok not in self.vocabulary_
                }
            )
            if unknown:
                raise ValueError(
                    f"{len(unknown)} token(s) are not in the vocabulary, such as "
                    f"{unknown[:5]!r}; handle_unknown='error' refuses them. Use "
                    "handle_unknown='oov' to map them to the out-of-vocabulary id."
                )
        return seqs

    def _decode(self, ids):
        """One id sequence to text; padding and end-of-document are dropped."""
        tokens = self._tokens
        oov = _OOV_CHAR if self.level == "char" else OOV_TOKEN
        words = [
            oov if i == OOV_ID else tokens[i]
            for i in (int(i) for i in ids)
            if i not in (PAD_ID, EOD_ID)
        ]
        if self.level == "char":
            return "".join(words)
        return self._detokenize(words)

    @staticmethod
    def _detokenize(words):
        text = " ".join(words)
        return _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", text))

    def _pad(self, seqs):
        out = np.full((len(seqs), self.maxlen), PAD_ID, dtype=np.int32)
        for row, seq in zip(out, seqs, strict=True):
            seq = (
                seq[-self.maxlen :] if self.truncating == "pre" else seq[: self.maxlen]
            )
            if len(seq) == 0:
                continue
            if self.padding == "pre":
                row[-len(seq) :] = seq
            else:
                row[: len(seq)] = seq
        return out

    # ------------------------------------------------------------------ public
    def fit(self, X, y=None):
        """Learn the vocabulary from raw documents.

        Parameters
        ----------
        X : iterable of str
            Training documents. A bare string is an error.
        y : None
            Ignored.

        Returns
        -------
        self : TextSequencer
            The fitted sequencer.
        """
        self._validate_params()
        docs = check_documents(X, f"{type(self).__name__}.fit")
        counts = Counter()
        for doc in docs:
            counts.update(self._tokenize(doc))
        if not counts:
            raise ValueError(
                f"{type(self).__name__}.fit found no tokens in {len(docs)} "
                "document(s): they are empty, or empty after normalisation "
                f"(level={self.level!r}). Pass documents that contain text."
            )
        # Counter.most_common keeps first-appearance order among equal counts.
        kept = [
            t
            for t, c in counts.most_common()
            if c >= self.min_frequency and t not in RESERVED_TOKENS
        ]
        if self.max_words is not None:
            kept = kept[: self.max_words - N_RESERVED]
        if not kept:
            raise ValueError(
                f"{type(self).__name__}.fit kept no tokens: min_frequency="
                f"{self.min_frequency} is above every token count (highest "
                f"{counts.most_common(1)[0][1]})."
            )
        self._tokens = list(RESERVED_TOKENS) + kept
        self.vocabulary_ = {tok: i for i, tok in enumerate(self._tokens)}
        self.vocab_size_ = len(self._tokens)
        return self

    def fit_transform(self, X, y=None):
        """Learn the vocabulary and return the id sequences of ``X``.

        Reads ``X`` once, so a generator of documents works.

        Parameters
        ----------
        X : iterable of str
            Training documents.
        y : None
            Ignored.

        Returns
        -------
        ids : list of ndarray or ndarray
            As :meth:`transform` returns them.
        """
        docs = check_documents(X, f"{type(self).__name__}.fit")
        return self.fit(docs).transform(docs)

    def transform(self, X):
        """Turn documents into integer id sequences.

        Tokens outside the vocabulary become ``1`` (out-of-vocabulary).

        Parameters
        ----------
        X : iterable of str
            Documents.

        Returns
        -------
        ids : list of ndarray of shape (n_tokens,) or ndarray of shape \
                (n_documents, maxlen)
            One int32 array per document when ``maxlen`` is None, otherwise a
            padded and truncated 2-D int32 array.
        """
        check_is_fitted(self, "vocabulary_")
        docs = check_documents(X, f"{type(self).__name__}.transform")
        seqs = self._encode(docs)
        return seqs if self.maxlen is None else self._pad(seqs)

    def inverse_transform(self, X):
        """Turn integer id sequences back into text.

        Padding (``0``) and end-of-document (``2``) ids are dropped;
        out-of-vocabulary ids decode to ``"\\ufffd"`` at char level and to
        ``"<unk>"`` at word level. At char level, text made only of vocabulary
        characters round-trips exactly (when no normalisation is on).

        Parameters
        ----------
        X : array-like of shape (n_sequences, n_tokens) or list of 1-D arrays
            Id sequences, as ``transform`` returns them.

        Returns
        -------
        texts : list of str
            One text per sequence.
        """
        check_is_fitted(self, "vocabulary_")
        seqs = check_id_sequences(
            X, self.vocab_size_, f"{type(self).__name__}.inverse_transform"
        )
        return [self._decode(seq) for seq in seqs]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags


def check_id_sequences(X, vocab_size, where):
    """Validate integer id sequences and return them as a list of 1-D arrays.

    Accepts a 2-D integer array (rows padded with ``0``) or an iterable of 1-D
    integer sequences of any lengths. Ids must lie in ``[0, vocab_size)``.
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{where} expects integer id sequences; got a single "
            f"{type(X).__name__}. Pass the output of TextSequencer.transform, or "
            "fit the model on raw text."
        )
    if isinstance(X, np.ndarray) and X.ndim not in (1, 2):
        raise ValueError(
            f"{where} expects a 2-D array of ids or a list of 1-D id sequences; "
            f"got an array with shape {X.shape}."
        )
    try:
        rows = list(X)
    except TypeError as exc:
        raise TypeError(
            f"{where} expects a 2-D array of ids or a list of 1-D id "
            f"sequences; got {type(X).__name__}."
        ) from exc
    if any(isinstance(row, (str, bytes)) for row in rows):
        raise TypeError(
            f"{where} expects integer id sequences; got text. Pass the output "
            "of TextSequencer.transform, or fit the model on raw text."
        )
    seqs = []
    for i, row in enumerate(rows):
        arr = np.asarray(row)
        if arr.ndim != 1:
            raise ValueError(
                f"{where} expects each sequence to be 1-D; sequence {i} has "
                f"shape {arr.shape}."
            )
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            whole = np.issubdtype(arr.dtype, np.floating) and np.all(
                np.isfinite(arr) & (arr == np.round(arr))
            )
            if not whole:
                raise ValueError(
                    f"{where} expects integer token ids; sequence {i} has "
                    f"dtype {arr.dtype} with values such as {arr[:5].tolist()!r}."
                )
        bad = arr[(arr < 0) | (arr >= vocab_size)] if arr.size else arr
        if bad.size:
            negative = (
                " Negative values in data are never ids." if bad.min() < 0 else ""
            )
            raise ValueError(
                f"{where} expects token ids in [0, {vocab_size}); sequence {i} "
                f"holds {bad[:5].tolist()!r}.{negative}"
            )
        seqs.append(arr.astype(np.int32, copy=False))
    return seqs
