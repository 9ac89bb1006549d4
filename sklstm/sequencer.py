"""TextSequencer: learn a vocabulary, turn documents into ids and back.

Besides the public estimator, this module holds the package's one internal
interface to a fitted sequencer (the functions after the class, from
:func:`read_documents` to :func:`join_words`): the generator, the resolver
behind ``sklstm.generate``, the metrics and the command line encode,
decode and read documents through them only. The safe file format reads
and restores the vocabulary through ``__sklstm_get_state__`` and
``__sklstm_set_state__``.
"""

from __future__ import annotations

import codecs
import json
import numbers
import re
from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sklstm._corpus import (
    DECODE_ERRORS,
    INPUTS,
    PIECE_CHARS,
    CorpusWriter,
    check_sources,
    read_pieces,
    split_text,
)
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

LEVELS = ("char", "word", "subword")
DEFAULT_SUBWORD_VOCAB_SIZE = 1000
# Byte-level BPE starts from one token per byte, after the reserved ids.
MIN_SUBWORD_VOCAB_SIZE = N_RESERVED + 256


def _byte_level_table():
    """Character -> byte of byte-level BPE (the table GPT-2 introduced).

    Printable Latin-1 bytes stand for themselves; the other 68 bytes are
    written as the characters from U+0100 on, in byte order.
    """
    printable = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    shifted = iter(range(0x100, 0x200))
    return {chr(b) if b in printable else chr(next(shifted)): b for b in range(256)}


_BYTE_OF_CHAR = _byte_level_table()


def _import_tokenizers():
    """The ``tokenizers`` package, or an ImportError that says how to get it."""
    try:
        import tokenizers
    except ImportError as exc:
        raise ImportError(
            "TextSequencer(level='subword') needs the tokenizers package, which "
            'is not installed. Install it with: pip install "sklstm[subword]"'
        ) from exc
    return tokenizers


def _check_unicode(docs, where):
    """Refuse documents holding lone surrogates (they are not UTF-8 text)."""
    for i, doc in enumerate(docs):
        if doc.isascii():
            continue
        try:
            doc.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{where} expects valid Unicode text at level='subword'; document "
                f"{i} holds the lone surrogate {doc[exc.start]!r} at position "
                f"{exc.start}. Decode the text without errors='surrogateescape', "
                "or replace such characters first."
            ) from None


# Settings a subword tokenizer must have for ids to round-trip to the exact
# text: (path in its JSON, required value).
_SUBWORD_SETTINGS = (
    (("normalizer",), None),
    (("pre_tokenizer", "type"), "ByteLevel"),
    (("pre_tokenizer", "add_prefix_space"), False),
    (("post_processor",), None),
    (("truncation",), None),
    (("padding",), None),
    (("added_tokens",), []),
    (("model", "type"), "BPE"),
    (("model", "dropout"), None),
    (("model", "continuing_subword_prefix"), None),
    (("model", "end_of_word_suffix"), None),
)


def _subword_tokens(data):
    """Check a subword tokenizer's JSON data; return its tokens in id order."""
    if not isinstance(data, dict):
        raise ValueError(
            f"the subword tokenizer must be a JSON object; got {type(data).__name__}."
        )
    for path, required in _SUBWORD_SETTINGS:
        node = data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node != required:
            raise ValueError(
                f"the subword tokenizer must have {'.'.join(path)} = "
                f"{json.dumps(required)}; it has {json.dumps(node)[:80]}."
            )
    vocab = data["model"].get("vocab")
    if not isinstance(vocab, dict) or not all(
        isinstance(tok, str) and type(i) is int for tok, i in vocab.items()
    ):
        raise ValueError("the subword tokenizer's vocabulary is not token -> id.")
    tokens = [None] * len(vocab)
    for tok, i in vocab.items():
        if not 0 <= i < len(tokens) or tokens[i] is not None:
            raise ValueError(
                f"the subword tokenizer's ids are not 0 to {len(tokens) - 1}, each "
                f"once (token {tok!r} has id {i})."
            )
        tokens[i] = tok
    if tuple(tokens[:N_RESERVED]) != RESERVED_TOKENS:
        raise ValueError(
            f"the subword tokenizer's first tokens must be {list(RESERVED_TOKENS)!r}; "
            f"they are {tokens[:N_RESERVED]!r}."
        )
    missing = set(_BYTE_OF_CHAR) - set(tokens)
    if missing:
        raise ValueError(
            f"the subword tokenizer lacks {len(missing)} of the 256 byte tokens, "
            "so some text could not be encoded."
        )
    strange = [
        tok for tok in tokens[N_RESERVED:] if not set(tok) <= _BYTE_OF_CHAR.keys()
    ]
    if strange:
        raise ValueError(
            f"the subword tokenizer holds tokens that are not byte-level text, "
            f"such as {strange[:3]!r}."
        )
    return tokens


class TextSequencer(TransformerMixin, BaseEstimator):
    """Learn a vocabulary from raw documents and map them to integer ids.

    The first step of a text-generation pipeline: ``fit`` learns the
    vocabulary, ``transform`` turns documents into id sequences for
    :class:`~sklstm.LSTMTextGenerator`, and ``inverse_transform`` turns ids
    back into text. A prompt goes through exactly the same normalisation and
    tokenisation as the training text.

    Three ids are reserved: ``0`` padding, ``1`` out-of-vocabulary and ``2``
    end-of-document. Real tokens start at ``3``: at char and word level the
    most frequent first; at subword level the 256 bytes, then the learned
    merges in the order they were learned.

    Parameters
    ----------
    input : {"content", "filename", "file"}, default="content"
        What the documents passed to ``fit``, ``transform`` and a model's
        ``fit`` and ``score`` are, as in scikit-learn's ``CountVectorizer``:
        the text itself, names of files to read (one document per file), or
        open files (text or binary). Files are read in pieces of about a
        million characters, so the vocabulary is built in one pass with
        memory bounded by the vocabulary, and ``transform`` writes their ids
        to a temporary file (see Returns there); a model trained on them
        streams its windows from that file. Prompts of ``generate`` are
        always text.
    encoding : str, default="utf-8"
        Encoding of files (``input="filename"``, or binary files).
    decode_error : {"strict", "ignore", "replace"}, default="strict"
        What to do with bytes that are not valid in ``encoding``: raise a
        ``ValueError``, drop them, or replace them with ``"\ufffd"``.
    level : {"char", "word", "subword"}, default="char"
        Token unit. ``"char"`` keeps every character, whitespace included.
        ``"word"`` splits on whitespace and, when punctuation is kept, makes
        each punctuation mark a token of its own. ``"subword"`` learns a
        byte-level byte-pair encoding (BPE) of ``vocab_size`` tokens with the
        ``tokenizers`` package (``pip install "sklstm[subword]"``): frequent
        words become one token, rare ones a few pieces, and any text
        round-trips exactly, since every byte is a token.
    lowercase : bool or None, default=None
        Lowercase text before tokenising. None means True at word level and
        False at char and subword level (the classic recipes' choices, and
        an exact round trip at subword level).
    strip_punctuation : bool or None, default=None
        Remove punctuation and symbols. Apostrophes are deleted (so "don't"
        stays one word, "dont"); other marks become spaces. None means True at
        word level and False at char and subword level.
    strip_digits : bool or None, default=None
        Remove digits. None means True at word level and False at char and
        subword level.
    max_words : int or None, default=None
        Char and word level: size of the vocabulary, the three reserved ids
        included, so a model over it has at most ``max_words`` outputs. The
        most frequent tokens are kept (ties broken by first appearance). None
        keeps all. Must be None at subword level (use ``vocab_size``).
    vocab_size : int or None, default=None
        Subword level: most tokens in the vocabulary, the three reserved ids
        and the 256 byte tokens included (so at least 259); merges are
        learned until it is reached or no pair of tokens is left to merge
        (``vocab_size_`` is then smaller). None means 1000. Must be None at
        char and word level (use ``max_words``).
    min_frequency : int, default=1
        Char and word level: ignore tokens seen fewer times than this in the
        training documents. Subword level: merge only pairs of tokens seen
        at least this often (bytes are always kept).
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
        ``"<eod>"`` included. Subword tokens are written as byte-level BPE
        writes them: each byte as one character, a space as ``"Ġ"`` and a
        newline as ``"Ċ"`` (so ``" the"`` is ``"Ġthe"``).
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
    >>> sub = TextSequencer(level="subword", vocab_size=270).fit(["the cat sat"] * 5)
    >>> ids = sub.transform(["the cat sat on the mat"])
    >>> sub.inverse_transform(ids)
    ['the cat sat on the mat']
    """

    def __init__(
        self,
        *,
        input="content",
        encoding="utf-8",
        decode_error="strict",
        level="char",
        lowercase=None,
        strip_punctuation=None,
        strip_digits=None,
        max_words=None,
        vocab_size=None,
        min_frequency=1,
        maxlen=None,
        padding="pre",
        truncating="pre",
        handle_unknown="oov",
    ):
        self.input = input
        self.encoding = encoding
        self.decode_error = decode_error
        self.level = level
        self.lowercase = lowercase
        self.strip_punctuation = strip_punctuation
        self.strip_digits = strip_digits
        self.max_words = max_words
        self.vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.maxlen = maxlen
        self.padding = padding
        self.truncating = truncating
        self.handle_unknown = handle_unknown

    # ----------------------------------------------------------------- helpers
    def _validate_params(self):
        where = type(self).__name__
        check_option(self.input, "input", where, INPUTS)
        check_option(self.decode_error, "decode_error", where, DECODE_ERRORS)
        try:
            codecs.lookup(self.encoding)
        except (LookupError, TypeError):
            raise ValueError(
                f"The 'encoding' parameter of {where} must be the name of a text "
                f"encoding known to Python, such as 'utf-8' or 'latin-1'. Got "
                f"{self.encoding!r} instead."
            ) from None
        check_option(self.level, "level", where, LEVELS)
        for name in ("lowercase", "strip_punctuation", "strip_digits"):
            check_bool(getattr(self, name), name, where, allow_none=True)
        if self.level == "subword":
            if self.max_words is not None:
                raise ValueError(
                    f"The 'max_words' parameter of {where} sizes char and word "
                    f"vocabularies only; got max_words={self.max_words!r} with "
                    "level='subword'. Use vocab_size to size a subword "
                    "vocabulary, and leave max_words=None."
                )
            vocab_size = self.vocab_size
            if vocab_size is not None and (
                isinstance(vocab_size, bool)
                or not isinstance(vocab_size, numbers.Integral)
                or vocab_size < MIN_SUBWORD_VOCAB_SIZE
            ):
                raise ValueError(
                    f"The 'vocab_size' parameter of {where} must be an int >= "
                    f"{MIN_SUBWORD_VOCAB_SIZE} (the {N_RESERVED} reserved ids and "
                    f"256 byte tokens) or None. Got {vocab_size!r} instead."
                )
        elif self.vocab_size is not None:
            raise ValueError(
                f"The 'vocab_size' parameter of {where} sizes subword "
                f"vocabularies only; got vocab_size={self.vocab_size!r} with "
                f"level={self.level!r}. Use max_words to cap a {self.level} "
                "vocabulary, and leave vocab_size=None."
            )
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

    def _documents(self, X, where):
        """Validated documents: str (``input="content"``) or files to read."""
        check_option(self.input, "input", type(self).__name__, INPUTS)
        if self.input == "content":
            return check_documents(X, where)
        return check_sources(X, self.input, where)

    def _pieces(self, doc):
        """The raw text of one validated document, in one or more pieces."""
        if self.input == "content":
            yield doc
        else:
            yield from read_pieces(doc, self.input, self.encoding, self.decode_error)

    def _encode_documents(self, docs):
        """Id arrays of validated documents (text or files), in memory."""
        if self.input == "content":
            return self._encode(docs)
        return [
            np.concatenate(
                [np.zeros(0, np.int32), *self._encode(list(self._pieces(doc)))]
            )
            for doc in docs
        ]

    def _encode_unpadded(self, docs, dtype=np.int32):
        """Ids of validated documents, as ``transform`` returns them without
        ``maxlen`` and a model trains on them: files to an IdCorpus on disk,
        text to a list of arrays of ``dtype`` in memory (a model training
        asks for the smallest dtype that holds its ids)."""
        if self.input == "content":
            return self._encode(docs, dtype)
        return self._encode_to_disk(docs)

    def _encode_to_disk(self, docs):
        """Ids of validated documents, written piece by piece to an IdCorpus."""
        writer = CorpusWriter(self.vocab_size_)
        try:
            for doc in docs:
                for piece in self._pieces(doc):
                    writer.write(self._encode([piece])[0])
                writer.end_document()
        except BaseException:
            writer.abort()
            raise
        return writer.close()

    def _from_tokens(self, name, build):
        """``build()``, kept as attribute ``name`` until the tokens change
        (a refit or a restore sets a new token list); left out of pickles."""
        cached = self.__dict__.get(name)
        if cached is None or cached[0] is not self._tokens:
            cached = (self._tokens, build())
            setattr(self, name, cached)
        return cached[1]

    def _char_table(self):
        """Sorted code points of the char vocabulary, and their ids."""

        def build():
            pairs = sorted(
                (ord(tok), i)
                for i, tok in enumerate(self._tokens)
                if i >= N_RESERVED and len(tok) == 1
            )
            codes = np.array([c for c, _ in pairs], dtype=np.uint32)
            ids = np.array([i for _, i in pairs], dtype=np.int32)
            return codes, ids

        return self._from_tokens("_char_lookup", build)

    def _encode_chars(self, docs, dtype=np.int32):
        """Char-level encoding through code points (no Python loop per char)."""
        codes, ids = self._char_table()
        seqs, unknown = [], set()
        for doc in docs:
            text = self._normalize(doc)
            points = np.frombuffer(
                text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32
            )
            at = np.minimum(np.searchsorted(codes, points), max(len(codes) - 1, 0))
            known = codes[at] == points if len(codes) else np.zeros(len(points), bool)
            seq = np.where(known, ids[at] if len(ids) else OOV_ID, OOV_ID)
            seqs.append(seq.astype(dtype))
            if self.handle_unknown == "error" and not known.all():
                unknown.update(chr(c) for c in np.unique(points[~known]).tolist())
        if unknown:
            self._refuse_unknown(sorted(unknown))
        return seqs

    def _encode_subword(self, texts, dtype=np.int32):
        """Subword ids of normalised texts, encoded a million characters at a
        time (the tokenizer's per-token records of a whole corpus would take
        many times the ids' memory)."""
        tokenizer = self._subword_tokenizer()
        parts = [[] for _ in texts]
        group, owners, size = [], [], 0

        def flush():
            for owner, enc in zip(owners, tokenizer.encode_batch(group), strict=True):
                parts[owner].append(np.asarray(enc.ids, dtype=dtype))

        for i, text in enumerate(texts):
            for piece in split_text(text):
                group.append(piece)
                owners.append(i)
                size += len(piece)
                if size >= PIECE_CHARS:
                    flush()
                    group, owners, size = [], [], 0
        flush()
        return [
            np.concatenate(p) if len(p) > 1 else p[0] if p else np.zeros(0, dtype)
            for p in parts
        ]

    def _refuse_unknown(self, unknown):
        raise ValueError(
            f"{len(unknown)} token(s) are not in the vocabulary, such as "
            f"{unknown[:5]!r}; handle_unknown='error' refuses them. Use "
            "handle_unknown='oov' to map them to the out-of-vocabulary id."
        )

    def _encode(self, docs, dtype=np.int32):
        """Text documents to a list of id arrays, whole (no padding)."""
        if self.level == "char":
            return self._encode_chars(docs, dtype)
        if self.level == "subword":
            texts = [self._normalize(str(doc)) for doc in docs]
            _check_unicode(texts, type(self).__name__)
            return self._encode_subword(texts, dtype)
        lookup = self.vocabulary_.get
        seqs = [
            np.fromiter(
                (lookup(tok, OOV_ID) for tok in self._tokenize(doc)), dtype=dtype
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
                self._refuse_unknown(unknown)
        return seqs

    def _id_strings(self):
        """Each id's text (bytes at subword level) as an object array, so
        decoding is one gather and one join instead of a loop per id."""

        def build():
            if self.level == "subword":
                strings = np.empty(len(self._token_bytes), dtype=object)
                strings[:] = self._token_bytes
            else:
                strings = np.empty(len(self._tokens), dtype=object)
                strings[:] = self._tokens
                strings[OOV_ID] = _OOV_CHAR if self.level == "char" else OOV_TOKEN
            return strings

        return self._from_tokens("_decode_lookup", build)

    def _decode(self, ids):
        """One id sequence to text; padding and end-of-document are dropped."""
        ids = np.asarray(ids, dtype=np.intp)
        ids = ids[(ids != PAD_ID) & (ids != EOD_ID)]
        pieces = self._id_strings()[ids].tolist()
        if self.level == "subword":
            # Invalid bytes become U+FFFD; a character cut off at the end is
            # left out, so the text of a prefix of ids is a prefix of the text
            # of all of them (streamed text adds up to the whole).
            data = b"".join(pieces)
            return codecs.getincrementaldecoder("utf-8")("replace").decode(data)
        if self.level == "char":
            return "".join(pieces)
        return self._detokenize(pieces)

    @staticmethod
    def _detokenize(words):
        text = " ".join(words)
        return _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", text))

    # ------------------------------------------------------------ subword level
    def _fit_subword(self, docs):
        """Learn a byte-level BPE vocabulary with the tokenizers package."""
        tk = _import_tokenizers()
        if self.input == "content":
            texts = [self._normalize(str(doc)) for doc in docs]
            _check_unicode(texts, f"{type(self).__name__}.fit")
            found = any(texts)
        else:  # files: decoded text holds no lone surrogates
            found = False

            def pieces():
                nonlocal found
                for doc in docs:
                    for piece in self._pieces(doc):
                        text = self._normalize(piece)
                        found = found or bool(text)
                        yield text

            texts = pieces()
        tokenizer = tk.Tokenizer(tk.models.BPE())
        tokenizer.pre_tokenizer = tk.pre_tokenizers.ByteLevel(
            add_prefix_space=False, use_regex=True
        )
        tokenizer.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(
            vocab_size=int(
                DEFAULT_SUBWORD_VOCAB_SIZE
                if self.vocab_size is None
                else self.vocab_size
            ),
            min_frequency=int(self.min_frequency),
            special_tokens=list(RESERVED_TOKENS),  # ids 0, 1, 2
            initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tokenizer.train_from_iterator(texts, trainer)
        if not found:
            self._no_tokens(docs)
        data = json.loads(tokenizer.to_str())
        # The reserved tokens keep their ids but are not matched in text: a
        # document that says "<eod>" is encoded as those five characters.
        data["added_tokens"] = []
        # Merges as "a b" text, the form every tokenizers release since 0.15
        # reads (newer ones write pairs); byte-level tokens hold no spaces.
        data["model"]["merges"] = [
            merge if isinstance(merge, str) else " ".join(merge)
            for merge in data["model"]["merges"]
        ]
        self._set_subword(json.dumps(data, ensure_ascii=False))

    def _set_subword(self, tokenizer_json, tokens=None):
        """Set the fitted state from a subword tokenizer's JSON text.

        Raises ValueError when the text is not a tokenizer that round-trips
        text exactly with the reserved ids in place, or (given ``tokens``)
        when its vocabulary is not ``tokens``.
        """
        if not isinstance(tokenizer_json, str):
            raise ValueError(
                "the subword tokenizer must be stored as JSON text; got "
                f"{type(tokenizer_json).__name__}."
            )
        try:
            data = json.loads(tokenizer_json)
        except ValueError as exc:
            raise ValueError(
                f"the subword tokenizer is not valid JSON ({exc})."
            ) from None
        found = _subword_tokens(data)
        if tokens is not None and list(tokens) != found:
            raise ValueError(
                f"the sequencer's {len(tokens)} tokens and its subword "
                f"tokenizer's {len(found)} disagree."
            )
        tokenizer = self._read_subword(tokenizer_json)
        if tokenizer.get_vocab(with_added_tokens=True) != data["model"]["vocab"]:
            raise ValueError("the subword tokenizer does not read back as written.")
        self._tokenizer_json = tokenizer_json
        self._tokenizer = tokenizer
        self._tokens = found
        self.vocabulary_ = {tok: i for i, tok in enumerate(found)}
        self.vocab_size_ = len(found)
        token_bytes = [bytes(_BYTE_OF_CHAR[c] for c in tok) for tok in found]
        token_bytes[PAD_ID] = token_bytes[EOD_ID] = b""
        token_bytes[OOV_ID] = _OOV_CHAR.encode("utf-8")
        self._token_bytes = token_bytes

    @staticmethod
    def _read_subword(tokenizer_json):
        """A ``tokenizers.Tokenizer`` from JSON text; ValueError if unreadable."""
        tk = _import_tokenizers()
        if set(tk.pre_tokenizers.ByteLevel.alphabet()) != set(_BYTE_OF_CHAR):
            raise ValueError(
                f"tokenizers {tk.__version__} writes bytes with another table "
                "than the one sklstm decodes with."
            )
        try:
            return tk.Tokenizer.from_str(tokenizer_json)
        except Exception as exc:  # noqa: BLE001 - tokenizers raises Exception
            raise ValueError(
                f"tokenizers {tk.__version__} cannot read the subword tokenizer "
                f"({exc})."
            ) from None

    def _subword_tokenizer(self):
        """The fitted ``tokenizers.Tokenizer`` (rebuilt after unpickling)."""
        tokenizer = self.__dict__.get("_tokenizer")
        if tokenizer is None:
            tokenizer = self._tokenizer = self._read_subword(self._tokenizer_json)
        return tokenizer

    def __getstate__(self):
        # The tokenizer object is pickled as its JSON text (kept anyway), not
        # through the tokenizers package's own pickling; the lookup tables
        # are derived from the tokens when next needed.
        state = super().__getstate__()
        derived = ("_tokenizer", "_char_lookup", "_decode_lookup")
        return {key: value for key, value in state.items() if key not in derived}

    def _restore(self, tokens, tokenizer_json=None):
        """Set the fitted state from stored tokens (and subword tokenizer)."""
        if self.level == "subword":
            if tokenizer_json is None:
                raise ValueError("a subword sequencer needs its tokenizer.")
            self._set_subword(tokenizer_json, tokens)
            return self
        self._tokens = list(tokens)
        self.vocabulary_ = {tok: i for i, tok in enumerate(self._tokens)}
        self.vocab_size_ = len(self._tokens)
        return self

    def __sklstm_get_state__(self):
        """The fitted vocabulary as plain data, for sklstm's safe file format.

        The one interface through which :func:`sklstm.load` and
        ``LSTMTextGenerator.save`` read and restore a fitted sequencer, the
        safe counterpart of ``__getstate__`` (parameters are not part of it:
        they are ``get_params()``). Returns a dict of JSON data:
        ``"tokens"``, the list of tokens in id order (reserved ones
        included), and at subword level ``"tokenizer"``, the tokenizer's
        JSON text. :meth:`__sklstm_set_state__` reads it back.
        """
        check_is_fitted(self, "vocabulary_")
        state = {"tokens": list(self._tokens)}
        if self.level == "subword":
            state["tokenizer"] = self._tokenizer_json
        return state

    def __sklstm_set_state__(self, state):
        """Set the fitted vocabulary from :meth:`__sklstm_get_state__`'s dict.

        The sequencer's parameters (``level`` above all) must be those it
        had when the state was taken. Returns self; raises ValueError when
        the state holds no vocabulary this sequencer can use (a subword
        tokenizer that is missing, damaged or disagrees with the tokens).
        """
        tokens = [str(token) for token in state["tokens"]]
        return self._restore(tokens, state.get("tokenizer"))

    def _no_tokens(self, docs):
        raise ValueError(
            f"{type(self).__name__}.fit found no tokens in {len(docs)} "
            "document(s): they are empty, or empty after normalisation "
            f"(level={self.level!r}). Pass documents that contain text."
        )

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

        Examples
        --------
        Ids ``0`` to ``2`` are reserved; the most frequent tokens come next.

        >>> from sklstm import TextSequencer
        >>> seq = TextSequencer().fit(["abracadabra"])
        >>> seq.vocabulary_
        {'<pad>': 0, '<unk>': 1, '<eod>': 2, 'a': 3, 'b': 4, 'r': 5, 'c': 6, 'd': 7}
        >>> TextSequencer(max_words=5).fit(["abracadabra"]).vocab_size_
        5
        """
        self._validate_params()
        docs = self._documents(X, f"{type(self).__name__}.fit")
        if self.level == "subword":
            self._fit_subword(docs)
            return self
        counts = Counter()
        for doc in docs:
            for piece in self._pieces(doc):
                counts.update(self._tokenize(piece))
        if not counts:
            self._no_tokens(docs)
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
        for name in ("_tokenizer_json", "_tokenizer", "_token_bytes"):
            self.__dict__.pop(name, None)  # left by an earlier subword fit
        return self._restore(list(RESERVED_TOKENS) + kept)

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
        docs = self._documents(X, f"{type(self).__name__}.fit")
        return self.fit(docs).transform(docs)

    def transform(self, X):
        """Turn documents into integer id sequences.

        Tokens outside the vocabulary become ``1`` (out-of-vocabulary). At
        subword level no token is ever outside it: every byte is a token.

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

        Examples
        --------
        >>> from sklstm import TextSequencer
        >>> seq = TextSequencer().fit(["abcab"])
        >>> seq.transform(["cab", "abz"])  # "z" is out of vocabulary: 1
        [array([5, 3, 4], dtype=int32), array([3, 4, 1], dtype=int32)]

        With ``maxlen``, rows are padded with ``0`` and truncated, at the
        start by default:

        >>> seq.set_params(maxlen=4).transform(["ab", "abcabc"])
        array([[0, 0, 3, 4],
               [5, 3, 4, 5]], dtype=int32)
        """
        check_is_fitted(self, "vocabulary_")
        docs = self._documents(X, f"{type(self).__name__}.transform")
        if self.maxlen is None:
            return self._encode_unpadded(docs)
        return self._pad(self._encode_documents(docs))

    def inverse_transform(self, X):
        """Turn integer id sequences back into text.

        Padding (``0``) and end-of-document (``2``) ids are dropped;
        out-of-vocabulary ids decode to ``"\\ufffd"`` at char and subword
        level and to ``"<unk>"`` at word level. At char level, text made only
        of vocabulary characters round-trips exactly (when no normalisation is
        on); at subword level, any text does.

        Subword ids are bytes of UTF-8 text, and an arbitrary sequence of them
        (such as a generated one) need not be valid UTF-8: invalid bytes
        decode to ``"\\ufffd"``, and a character cut off at the end of a
        sequence is left out (the ids that would complete it are not there
        yet). So the text of the first ids of a sequence is always the start
        of the text of the whole.

        Parameters
        ----------
        X : array-like of shape (n_sequences, n_tokens) or list of 1-D arrays
            Id sequences, as ``transform`` returns them.

        Returns
        -------
        texts : list of str
            One text per sequence.

        Examples
        --------
        >>> from sklstm import TextSequencer
        >>> words = TextSequencer(level="word").fit(["The cat sat.", "The dog!"])
        >>> words.inverse_transform([[3, 5, 2, 0], [4, 1]])  # 2 ends a document
        ['the sat', 'cat <unk>']

        At subword level, "\u00e9" is two bytes; unseen in training, it is
        two tokens, and the first alone is no character yet:

        >>> sub = TextSequencer(level="subword").fit(["abc"])
        >>> ids = sub.transform(["\u00e9"])[0]
        >>> len(ids)
        2
        >>> sub.inverse_transform([ids[:1], ids])
        ['', '\u00e9']
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


# ---------------------------------------------------------------------------
# The internal interface of a fitted TextSequencer for the rest of sklstm.
# Documents are "validated" when read_documents returned them: str texts
# (input="content") or the files to read.


def read_documents(sequencer, X, where):
    """Validated documents of ``X`` as the sequencer's ``input`` reads them:
    a list of str (``input="content"``) or of files; errors name ``where``."""
    return sequencer._documents(X, where)


def document_pieces(sequencer, doc):
    """An iterator over the raw text of one validated document, in one or
    more pieces (files are read piece by piece)."""
    return sequencer._pieces(doc)


def encode_texts(sequencer, texts, dtype=np.int32):
    """Id arrays of str texts (prompts, or documents in memory), each whole:
    no padding, no ``maxlen``."""
    return sequencer._encode(texts, dtype)


def encode_documents(sequencer, docs):
    """Int32 id arrays, in memory, of validated documents (text or files)."""
    return sequencer._encode_documents(docs)


def encode_for_training(sequencer, docs, dtype):
    """Ids of validated documents as a model trains on them: files to an
    :class:`~sklstm._corpus.IdCorpus` on disk, text to a list of arrays of
    ``dtype`` (the smallest that holds the model's ids)."""
    return sequencer._encode_unpadded(docs, dtype)


def decode_ids(sequencer, sequences):
    """The text of each id sequence of a list (padding and end-of-document
    dropped), as ``inverse_transform`` decodes it, without its checks."""
    return [sequencer._decode(ids) for ids in sequences]


def token_strings(sequencer, ids):
    """The token of each id of ``ids``, as an object array of str."""
    tokens = sequencer._tokens
    return np.array([tokens[i] for i in ids], dtype=object)


def join_words(words):
    """Words as one text, spaced as word-level decoding spaces them (no
    space before closing marks, none after opening ones)."""
    return TextSequencer._detokenize(words)


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
