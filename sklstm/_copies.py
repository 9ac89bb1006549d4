"""Text copied verbatim from a corpus: an index of its ``min_chars``-grams.

Every ``min_chars``-character substring (gram) of every document gets a
64-bit polynomial hash. The top bits of the hash and the gram's position in
the joined corpus are packed into one ``uint64`` key, and the keys are
sorted: the grams that share a hash form one run of keys, in corpus order.
A text's grams are hashed alike and looked up with ``searchsorted``; a
candidate counts only after its characters are compared with the text's
(hashes only narrow the search), then matches are extended character by
character to maximal copies. The corpus is held as one ``int32`` array of
code points, documents separated by ``-1``, which no text holds, so that no
copy crosses a document boundary.

Memory: 4 bytes per corpus character for the code points and 8 per gram
for the keys (about 120 MB for 10 million characters).
"""

from __future__ import annotations

import os

import numpy as np

from sklstm._corpus import DECODE_ERRORS, INPUTS, check_sources, read_pieces
from sklstm._validation import check_documents, check_int, check_option

_SEPARATOR = -1
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: code point -> hash unit is one-to-one
_BASE = 0x5851F42D4C957F2D
# Corpus characters hashed at a time (bounds the temporary arrays).
_CHUNK = 1 << 22
# Characters compared at a time when verifying or extending a match; the
# width doubles while matches go on.
_FIRST_WIDTH = 64
# Candidates compared at once without first checking a second gram's hash.
_FEW = 32


def _codes(text):
    """The code points of ``text`` as an int32 array."""
    data = text.encode("utf-32-le", "surrogatepass")
    return np.frombuffer(data, dtype="<u4").astype(np.int32)


def _gram_hashes(codes, k):
    """Hash of every ``k``-gram of ``codes``: ``len(codes) - k + 1`` values.

    ``sum(u[i + j] * B**(k - 1 - j))`` modulo 2**64 for the gram at ``i``,
    built from hashes of power-of-two lengths (``log2(k)`` array passes).
    """
    with np.errstate(over="ignore"):
        block_hash = (codes.astype(np.uint64) + np.uint64(1)) * _MIX
        block, result, length = 1, None, 0
        remaining = k
        while True:
            if remaining & 1:
                if result is None:
                    result, length = block_hash, block
                else:
                    size = len(codes) - (length + block) + 1
                    shift = np.uint64(pow(_BASE, block, 1 << 64))
                    result = result[:size] * shift + block_hash[length : length + size]
                    length += block
            remaining >>= 1
            if not remaining:
                return result
            shift = np.uint64(pow(_BASE, block, 1 << 64))
            block_hash = block_hash[:-block] * shift + block_hash[block:]
            block *= 2


class CopyIndex:
    """An index of a corpus, to find text copied verbatim from it.

    Built once, it checks any number of texts (:meth:`find`, or pass it as
    the ``corpus`` of :func:`copied_text`).

    Parameters
    ----------
    corpus : str, iterable of str, or files
        The documents; a copy lies inside one document. A str is one
        document. With ``input="filename"`` or ``"file"``, file names or
        open files (or a single one), each file one document, read as
        :class:`~sklstm.TextSequencer` reads them.
    min_chars : int, default=50
        Shortest copy to find, in characters (code points).
    input : {"content", "filename", "file"}, default="content"
        What ``corpus`` holds.
    encoding : str, default="utf-8"
        Encoding of the files.
    decode_error : {"strict", "ignore", "replace"}, default="strict"
        What to do with bytes that do not decode.

    Attributes
    ----------
    n_documents : int
    n_chars : int
        Characters of all documents.
    nbytes : int
        Memory the index holds: 4 bytes per character and 8 per gram.

    Notes
    -----
    Every ``min_chars``-gram of the corpus gets a 64-bit hash; keys packing
    its top bits with the gram's position are sorted once (a 10 million
    character corpus in seconds). A text's grams are looked up by binary
    search; a match counts only once its characters compare equal, and is
    then extended character by character.

    Examples
    --------
    >>> from sklstm.metrics import CopyIndex
    >>> index = CopyIndex(["the cat sat on the mat", "a dog"], min_chars=10)
    >>> spans, copied, longest = index.find("so the cat sat down")
    >>> spans  # (start, end, corpus position)
    [(3, 15, 1)]
    >>> int(copied.sum()), longest
    (12, 12)
    >>> index.locate(1)
    (0, 0)
    """

    def __init__(
        self,
        corpus,
        *,
        min_chars=50,
        input="content",
        encoding="utf-8",
        decode_error="strict",
    ):
        where = type(self).__name__
        k = check_int(min_chars, "min_chars", where, min_value=1)
        self._build(read_corpus(corpus, input, encoding, decode_error, where), k)

    @classmethod
    def _from_documents(cls, documents, min_chars):
        index = cls.__new__(cls)
        index._build(documents, min_chars)
        return index

    def _build(self, documents, min_chars):
        self.min_chars = int(min_chars)
        self.n_documents = len(documents)
        lengths = np.array([len(doc) for doc in documents], dtype=np.int64)
        self.n_chars = int(lengths.sum())
        # starts[d]: position of document d's first character in _corpus.
        self._starts = np.cumsum(np.concatenate([[1], lengths[:-1] + 1]))
        corpus = np.full(self.n_chars + len(documents) + 1, _SEPARATOR, np.int32)
        for doc, start in zip(documents, self._starts, strict=True):
            corpus[start : start + len(doc)] = _codes(doc)
        self._corpus = corpus
        self._pos_bits = max(1, (len(corpus) - 1).bit_length())
        self._pos_mask = np.uint64((1 << self._pos_bits) - 1)
        self._keys = self._build_keys()

    def _build_keys(self):
        """Sorted keys: the top bits of a gram's hash, then its position."""
        corpus, k = self._corpus, self.min_chars
        parts = []
        for first in range(0, max(0, len(corpus) - k + 1), _CHUNK):
            chunk = corpus[first : first + _CHUNK + k - 1]
            hashes = _gram_hashes(chunk, k)
            # Grams holding a separator straddle documents: left out.
            seps = np.concatenate([[0], np.cumsum(chunk == _SEPARATOR)])
            inside = seps[k:] == seps[: len(hashes)]
            where = np.flatnonzero(inside)
            parts.append(
                self._key_prefix(hashes[where]) | (where + first).astype(np.uint64)
            )
        keys = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        keys.sort()
        return keys

    @property
    def nbytes(self):
        """Bytes of memory the index holds (code points and keys)."""
        return self._corpus.nbytes + self._keys.nbytes

    def _key_prefix(self, hashes):
        """The hash bits of keys (positions zeroed)."""
        return hashes & ~self._pos_mask

    def locate(self, position):
        """Document index and offset in it of a corpus position."""
        doc = int(np.searchsorted(self._starts, position, side="right")) - 1
        return doc, int(position - self._starts[doc])

    def find(self, text):
        """The copies in one text.

        Returns
        -------
        spans : list of (start, end, corpus_position)
            Maximal copies ``text[start:end]`` of at least ``min_chars``
            (copies that do not extend by a character on either side), by
            start, that together cover every copied character (see
            :func:`copied_text`), each with the corpus position of its first
            occurrence (:meth:`locate` turns it into a document and offset).
        copied : ndarray of bool, shape (len(text),)
            Which characters lie inside a copy.
        longest : int
            Length of the longest copy (0 if none), which need not be one of
            ``spans``.
        """
        return _TextMatcher(self, _codes(text)).run()


class _TextMatcher:
    """The copies of one text (its code points ``codes``) in an index."""

    def __init__(self, index, codes):
        self.index, self.codes, self.k = index, codes, index.min_chars
        self.corpus = index._corpus
        n_grams = max(0, len(codes) - self.k + 1)
        if n_grams:
            prefix = index._key_prefix(_gram_hashes(codes, self.k))
            # In sorted order, the binary searches walk the keys in one
            # direction (several times faster than in text order).
            order = np.argsort(prefix)
            keys, wanted = index._keys, prefix[order]
            self.lo = np.empty(n_grams, np.intp)
            self.hi = np.empty(n_grams, np.intp)
            self.lo[order] = np.searchsorted(keys, wanted, side="left")
            self.hi[order] = np.searchsorted(
                keys, wanted | index._pos_mask, side="right"
            )
        else:
            self.lo = self.hi = np.zeros(0, np.intp)
        self.count = self.hi - self.lo

    def _candidates(self, gram):
        """Corpus positions of grams with the hash of the text's gram ``gram``."""
        keys = self.index._keys[self.lo[gram] : self.hi[gram]]
        return (keys & self.index._pos_mask).astype(np.int64)

    def _compare(self, starts, offset, width):
        """(rows, width) bool: corpus[starts + offset + j] == codes[offset + j]
        for the text read from its start; text positions are ``offset + j``
        with ``starts`` aligned so that corpus ``s`` faces text 0."""
        cols = offset + np.arange(width)
        chars = np.take(self.corpus, starts[:, None] + cols, mode="clip")
        return chars == self.codes[offset : offset + width]

    def occurrences(self, x, y):
        """Sorted corpus positions where ``codes[x:y]`` (``y - x >= k``) occurs."""
        grams = self.count[x : y - self.k + 1]
        gram = x + int(np.argmin(grams))  # the rarest hash: fewest candidates
        if self.count[gram] == 0:
            return np.zeros(0, np.int64)
        starts = self._candidates(gram) - (gram - x)
        far = y - self.k if gram - x < (y - self.k - x) // 2 else x
        if starts.size > _FEW and far != gram:
            # Repetitive text: keep the starts where the gram farthest from
            # this one has the right hash too, before comparing characters.
            other = self._candidates(far) - (far - x)
            at = np.minimum(np.searchsorted(other, starts), other.size - 1)
            starts = starts[other[at] == starts]
        starts = starts[starts >= 0] - x  # aligned: corpus s faces text 0
        offset, width = x, _FIRST_WIDTH
        while starts.size and offset < y:
            w = min(width, y - offset)
            starts = starts[self._compare(starts, offset, w).all(axis=1)]
            offset += w
            width *= 2
        return starts + x

    def extend(self, x, y, found):
        """Where the longest copy of ``codes[x:]`` occurring at any of
        ``found`` (occurrences of ``codes[x:y]``) ends, and its first one."""
        n = len(self.codes)
        starts = found - x
        offset, width = y, _FIRST_WIDTH
        while offset < n:
            w = min(width, n - offset)
            equal = self._compare(starts, offset, w)
            full = equal.all(axis=1)
            if not full.any():
                run = equal.argmin(axis=1)  # first mismatch of each row
                longest = int(run.max())
                return offset + longest, int(starts[run == longest].min()) + x
            starts = starts[full]
            offset += w
            width *= 2
        return n, int(starts.min()) + x

    def gram_matches(self):
        """Bool per gram position: the gram occurs in the corpus."""
        k, mask = self.k, self.index._pos_mask
        matched = np.zeros(len(self.count), bool)
        hits = np.flatnonzero(self.count)
        first = (self.index._keys[self.lo[hits]] & mask).astype(np.int64)
        for block in range(0, hits.size, 1 << 14):  # bounded (rows, k) arrays
            rows = slice(block, block + (1 << 14))
            grams, found = hits[rows], first[rows]
            equal = np.ones(len(grams), bool)
            for offset in range(0, k, _FIRST_WIDTH):
                cols = offset + np.arange(min(_FIRST_WIDTH, k - offset))
                text = self.codes[grams[:, None] + cols]
                chars = np.take(self.corpus, found[:, None] + cols, mode="clip")
                equal &= (chars == text).all(axis=1)
            matched[grams] = equal
        # A first candidate that differs is a hash collision: try them all.
        for gram in np.flatnonzero(~matched & (self.count > 1)):
            matched[gram] = self.occurrences(gram, gram + k).size > 0
        return matched

    def run(self):
        """(covering copies, copied characters, longest copy): see find."""
        n, k = len(self.codes), self.k
        copied = np.zeros(n, bool)
        matched = self.gram_matches()
        hits = np.flatnonzero(matched)
        if not hits.size:
            return [], copied, 0
        # Copied: inside a matched gram (+1 where one starts, -1 past its end).
        depth = np.bincount(hits, minlength=n + 1) - np.bincount(
            hits + k, minlength=n + 1
        )
        copied = np.cumsum(depth[:n]) > 0
        longest = 0

        def measured(copies):
            nonlocal longest
            for copy in copies:
                longest = max(longest, copy[1] - copy[0])
                yield copy

        spans = covering_copies(measured(self._maximal_copies(hits, matched)))
        return spans, copied, longest

    def _maximal_copies(self, hits, matched):
        """Yield every maximal copy ``(start, end, corpus_position)``, by start.

        ``reach(a)``, where the longest copy starting at ``a`` ends, never
        decreases with ``a``. After a copy ``[a, e)``, the next maximal copy
        starts at the smallest ``a' > a`` that reaches past ``e``: when the
        gram ending at ``e`` (one past the copy) matches, the smallest
        ``a'`` for which ``codes[a':e + 1]`` occurs (see :meth:`_next_start`);
        otherwise the next matching gram after that one.
        """
        n, k = len(self.codes), self.k
        a = int(hits[0])
        end, where = self.extend(a, a + k, self.occurrences(a, a + k))
        yield a, end, where
        while end < n:
            gram = end + 1 - k
            if matched[gram]:
                a, found = self._next_start(a, end, gram)
                end, where = self.extend(a, end + 1, found)
            else:
                later = int(np.searchsorted(hits, gram, side="right"))
                if later == hits.size:
                    return
                a = int(hits[later])
                end, where = self.extend(a, a + k, self.occurrences(a, a + k))
            yield a, end, where

    def _next_start(self, a, end, gram):
        """The smallest ``a'`` in ``(a, gram]`` for which ``codes[a':end + 1]``
        occurs (it does at ``gram``), and its occurrences.

        That only gets likelier as ``a'`` grows, so a binary search finds
        it; ``a + 1`` is tried first, the answer in repetitive text (a run
        of spaces yields a maximal copy at every position).
        """
        low, high, found = a + 1, gram, None
        if low < high:
            found = self.occurrences(low, end + 1)
            if found.size:
                return low, found
            low += 1
            found = None
        while low < high:
            mid = (low + high) // 2
            occurs = self.occurrences(mid, end + 1)
            if occurs.size:
                high, found = mid, occurs
            else:
                low = mid + 1
        if found is None:  # never searched: the gram itself
            found = self.occurrences(low, end + 1)
        return low, found


def covering_copies(copies):
    """The maximal copies (by start) that cover the copied characters.

    Left to right: after a copy ``[s, e)``, the one that reaches farthest
    among those starting inside it or right after it (the last of them: the
    ends of maximal copies grow with their starts), or, if none does, the
    next one.
    """
    chosen, pending = [], None
    for copy in copies:
        while True:
            if not chosen:
                chosen.append(copy)
            elif copy[0] <= chosen[-1][1]:
                pending = copy  # a candidate; later ones reach farther
            elif pending is not None:
                chosen.append(pending)
                pending = None
                continue  # weigh this copy against the one just chosen
            else:
                chosen.append(copy)
            break
    if pending is not None:
        chosen.append(pending)
    return chosen


def read_corpus(corpus, input, encoding, decode_error, where):
    """The corpus as a non-empty list of str documents: text as given, or
    files read as :class:`~sklstm.TextSequencer` reads them (``input``)."""
    check_option(input, "input", where, INPUTS)
    check_option(decode_error, "decode_error", where, DECODE_ERRORS)
    if input == "content":
        if isinstance(corpus, os.PathLike):
            raise TypeError(
                f"{where} got a path as the corpus with input='content'; pass "
                "input='filename' to read files."
            )
        docs = [corpus] if isinstance(corpus, str) else check_documents(corpus, where)
    else:
        single = isinstance(corpus, (str, bytes, os.PathLike)) or callable(
            getattr(corpus, "read", None)
        )
        sources = check_sources([corpus] if single else corpus, input, where)
        docs = [
            "".join(read_pieces(source, input, encoding, decode_error))
            for source in sources
        ]
    if not any(docs):
        got = f"{len(docs)} document(s), all empty" if docs else "no documents"
        raise ValueError(f"{where} needs a corpus with text; got {got}.")
    return docs


def check_texts(texts, where):
    """``texts`` (a str or an iterable of str) as a list of str."""
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, bytes) or not hasattr(texts, "__iter__"):
        raise TypeError(
            f"{where} expects a str or an iterable of str texts; got "
            f"{type(texts).__name__}."
        )
    texts = list(texts)
    if not texts:
        raise ValueError(f"{where} expects at least one text; got none.")
    bad = [(i, t) for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        shown = ", ".join(
            f"index {i}: {t!r:.40} ({type(t).__name__})" for i, t in bad[:5]
        )
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise TypeError(
            f"{where} expects every text to be a str; got {len(bad)} non-str "
            f"item(s): {shown}{more}."
        )
    return texts


def copied_text(
    texts,
    corpus,
    *,
    min_chars=50,
    input="content",
    encoding="utf-8",
    decode_error="strict",
):
    """How much of some texts is copied verbatim from a corpus.

    A character of a text counts as copied when it lies inside a substring
    of at least ``min_chars`` characters that occurs verbatim in one
    document of the corpus (copies never cross a document boundary). Use it
    on generated text to see whether a model replays its training set.

    Parameters
    ----------
    texts : str or iterable of str
        The texts to check, such as generated samples.
    corpus : str, iterable of str, files, or CopyIndex
        The documents, usually the training set: a str is one document;
        with ``input="filename"`` or ``"file"``, file names or open files
        (or a single one), each file one document, read as
        :class:`~sklstm.TextSequencer` reads them. A :class:`CopyIndex`
        built with the same ``min_chars`` is used as it is, so that many
        calls share one index.
    min_chars : int, default=50
        Shortest copy that counts, in characters (code points).
    input : {"content", "filename", "file"}, default="content"
        What ``corpus`` holds.
    encoding : str, default="utf-8"
        Encoding of the files.
    decode_error : {"strict", "ignore", "replace"}, default="strict"
        What to do with bytes that do not decode.

    Returns
    -------
    report : dict
        ``copied_fraction``: copied characters over all characters of the
        texts (0.0 when they have none); ``copied_chars``, ``total_chars``;
        ``longest_copy``: the length of the longest copy (0 if none);
        ``min_chars``; ``texts``: per text, a dict of ``chars``,
        ``copied_chars``, ``copied_fraction`` and ``longest_copy``;
        ``spans``: every maximal copy (one that does not extend by a
        character on either side and still occur), ordered by text and
        start, each a dict of ``text`` (index of the text), ``start`` and
        ``end`` (``texts[text][start:end]`` is the copy), ``length``,
        ``copied`` (the copied text), ``document`` (index of the corpus
        document holding it) and ``position`` (where in that document: its
        first occurrence in corpus order). Copies may overlap one another;
        together they cover exactly the copied characters.

    See Also
    --------
    CopyIndex : the index, to check many texts against one corpus.

    Examples
    --------
    >>> from sklstm import copied_text
    >>> corpus = ["It was the best of times, it was the worst of times.",
    ...           "Call me Ishmael."]
    >>> report = copied_text("He said it was the worst of times, again.",
    ...                      corpus, min_chars=10)
    >>> report["longest_copy"], report["copied_chars"], report["total_chars"]
    (26, 28, 41)

    Two copies overlap: "worst of times, again" holds " it was the worst of
    times" (from the second sentence) and "st of times, " (from the first).

    >>> [(s["copied"], s["document"], s["position"]) for s in report["spans"]]
    [(' it was the worst of times', 0, 25), ('st of times, ', 0, 13)]
    """
    where = "copied_text"
    k = check_int(min_chars, "min_chars", where, min_value=1)
    texts = check_texts(texts, where)
    if isinstance(corpus, CopyIndex):
        if corpus.min_chars != k:
            raise ValueError(
                f"{where} got a CopyIndex built with min_chars={corpus.min_chars} "
                f"and min_chars={k}; pass min_chars={corpus.min_chars} or build "
                "the index anew."
            )
        index = corpus
    else:
        docs = read_corpus(corpus, input, encoding, decode_error, where)
        index = CopyIndex._from_documents(docs, k)
    per_text, spans = [], []
    for i, text in enumerate(texts):
        found, copied, longest = index.find(text)
        n_copied = int(copied.sum())
        per_text.append(
            {
                "chars": len(text),
                "copied_chars": n_copied,
                "copied_fraction": n_copied / len(text) if text else 0.0,
                "longest_copy": longest,
            }
        )
        for start, end, position in found:
            document, offset = index.locate(position)
            spans.append(
                {
                    "text": i,
                    "start": start,
                    "end": end,
                    "length": end - start,
                    "copied": text[start:end],
                    "document": document,
                    "position": offset,
                }
            )
    total = sum(t["chars"] for t in per_text)
    n_copied = sum(t["copied_chars"] for t in per_text)
    return {
        "copied_fraction": n_copied / total if total else 0.0,
        "copied_chars": n_copied,
        "total_chars": total,
        "longest_copy": max(t["longest_copy"] for t in per_text),
        "min_chars": k,
        "texts": per_text,
        "spans": spans,
    }
