"""Documents read from files piece by piece, and id streams kept on disk.

A corpus larger than memory is never held whole: files are read in pieces
of about a million characters, cut where whitespace starts (no token spans
such a cut), and their ids are written to a temporary file in the stream
layout of :mod:`sklstm._data`::

    EOD d1[0] d1[1] ... EOD d2[0] ... EOD

Training then reads windows from that file with ``tf.data``.
"""

from __future__ import annotations

import codecs
import os
import re
import tempfile
import weakref

import numpy as np

from sklstm._tokens import EOD_ID

INPUTS = ("content", "filename", "file")
DECODE_ERRORS = ("strict", "ignore", "replace")
# Characters read at a time from a file.
PIECE_CHARS = 1 << 20
# Ids written per block when copying documents between streams.
_COPY_TOKENS = 1 << 22
# Whitespace then non-whitespace: in reversed text, the last place where
# whitespace follows a non-whitespace character.
# Unicode White_Space, as the byte-level pre-tokenizer's regex reads \s
# (Python's \s also matches the separators U+001C to U+001F).
_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_REVERSED_CUT = re.compile(f"[{_WS}][^{_WS}]")
_FORWARD_CUT = re.compile(f"[^{_WS}][{_WS}]")


def check_sources(X, input, where):
    """Return ``X`` as a list of file names or file objects, or raise."""
    if isinstance(X, (str, bytes, os.PathLike)):
        raise ValueError(
            f"{where} expects an iterable of "
            f"{'file names' if input == 'filename' else 'open files'} "
            f"(input={input!r}); got a single {type(X).__name__}. Wrap it in a "
            "list: [path]."
        )
    try:
        sources = list(X)
    except TypeError as exc:
        raise TypeError(
            f"{where} expects an iterable of "
            f"{'file names' if input == 'filename' else 'open files'} "
            f"(input={input!r}); got {type(X).__name__}."
        ) from exc
    for i, source in enumerate(sources):
        if input == "filename":
            ok = isinstance(source, (str, os.PathLike))
            expected = "a file name (str or path)"
        else:
            ok = callable(getattr(source, "read", None))
            expected = "an open file (an object with a read method)"
        if not ok:
            raise TypeError(
                f"{where} expects every item to be {expected} with "
                f"input={input!r}; item {i} is {type(source).__name__}: "
                f"{source!r:.80}."
            )
    return sources


def read_pieces(source, input, encoding, errors, piece_chars=None):
    """Yield the text of one file in pieces of about ``piece_chars``
    (None: ``PIECE_CHARS``).

    Each piece but the last ends where whitespace follows a non-whitespace
    character (when the piece has such a place), so that no word and no
    byte-level pre-token is split between two pieces. Line endings are kept
    as they are in the file.
    """
    piece_chars = PIECE_CHARS if piece_chars is None else piece_chars
    if input == "filename":
        try:
            handle = open(  # noqa: SIM115 - closed below
                source, encoding=encoding, errors=errors, newline=""
            )
        except OSError as exc:
            raise OSError(
                f"cannot read the file {os.fspath(source)!r}: {exc.strerror or exc}."
            ) from exc
        close = handle.close
        read = handle.read
    else:
        handle, close = source, None
        seekable = getattr(handle, "seekable", None)
        if not (callable(seekable) and seekable()):
            raise ValueError(
                f"input='file' needs files that can seek: a model reads each one "
                f"twice (for the vocabulary, then for the ids), and {handle!r:.80} "
                "cannot go back. Pass file names with input='filename', or read "
                "the text yourself and pass it with input='content'."
            )
        begin = handle.tell()
        decoder = codecs.getincrementaldecoder(encoding)(errors)

        def read(n):
            data = handle.read(n)
            if isinstance(data, bytes):
                return decoder.decode(data, final=not data)
            return data

    try:
        carry = ""
        while True:
            data = read(piece_chars)
            if not data:
                break
            text = carry + data
            cut = _last_cut(text)
            if cut == 0:
                if len(text) < 4 * piece_chars:
                    carry = text
                    continue
                cut = len(text)  # no whitespace for a long way: cut anyway
            yield text[:cut]
            carry = text[cut:]
        if carry:
            yield carry
    except UnicodeDecodeError as exc:
        name = os.fspath(source) if input == "filename" else repr(source)
        raise ValueError(
            f"cannot decode {name} as {encoding}: {exc.reason} at byte "
            f"{exc.start} of a block. Pass the right encoding, or "
            "decode_error='replace' to replace undecodable bytes."
        ) from None
    finally:
        if close is not None:
            close()
        else:
            handle.seek(begin)  # as it was, for the next pass


def split_text(text, piece_chars=None):
    """Yield ``text`` in pieces of about ``piece_chars``, cut as
    :func:`read_pieces` cuts files (where whitespace follows non-whitespace)."""
    piece_chars = PIECE_CHARS if piece_chars is None else piece_chars
    start, end = 0, len(text)
    while end - start > piece_chars:
        cut = _last_cut(text[start : start + piece_chars])
        if cut == 0:  # no place in this piece: the next one after it
            match = _FORWARD_CUT.search(text, start + piece_chars - 1)
            cut = end - start if match is None else match.start() + 1 - start
        yield text[start : start + cut]
        start += cut
    if end > start:
        yield text[start:]


def _last_cut(text):
    """The last position where whitespace follows non-whitespace, or 0."""
    match = _REVERSED_CUT.search(text[::-1])
    return 0 if match is None else len(text) - 1 - match.start()


def id_dtype(vocab_size):
    """The smallest dtype of a stream of ids below ``vocab_size``: uint16
    while the ids fit (2 bytes per token), else int32."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.int32)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


class IdCorpus:
    """Id sequences of many documents, kept in a temporary file.

    A read-only sequence of 1-D int32 arrays, one per document, like the list
    :meth:`TextSequencer.transform` returns for text in memory; item ``i`` is
    read from disk when asked for. :class:`LSTMTextGenerator` trains on it
    by streaming windows from the file, so memory does not grow with the
    corpus. The file is deleted when the object is garbage-collected.
    Pickling it pickles the ids themselves (as a list of arrays).
    """

    def __init__(self, path, dtype, starts, vocab_size):
        self._path = path
        self._dtype = np.dtype(dtype)
        # starts[i] is the position of the end-of-document id before
        # document i; starts[-1] that of the final one.
        self._starts = np.asarray(starts, dtype=np.int64)
        self.vocab_size = int(vocab_size)
        self._finalizer = weakref.finalize(self, _remove, path)

    @property
    def n_tokens(self):
        """Length of the stream: the documents and their separators."""
        return int(self._starts[-1]) + 1

    def __len__(self):
        return len(self._starts) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"document {i} of {n}")
        i %= n
        start, stop = int(self._starts[i]) + 1, int(self._starts[i + 1])
        return self._read(start, stop)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __reduce__(self):
        return list, (list(self),)

    def __repr__(self):
        return (
            f"<IdCorpus: {len(self)} documents, {self.n_tokens - len(self) - 1} "
            "tokens, on disk>"
        )

    def _read(self, start, stop):
        count = max(0, stop - start)
        with open(self._path, "rb") as f:
            f.seek(start * self._dtype.itemsize)
            data = np.fromfile(f, dtype=self._dtype, count=count)
        return data.astype(np.int32)

    def max_id(self):
        """The highest id in the stream, read block by block."""
        high = EOD_ID
        for start in range(0, self.n_tokens, _COPY_TOKENS):
            block = self._read(start, min(self.n_tokens, start + _COPY_TOKENS))
            high = max(high, int(block.max()))
        return high

    def stream(self):
        """The whole stream, as a :class:`DiskStream` for training."""
        return DiskStream(self._path, self._dtype, self.n_tokens, len(self), self)

    def lengths(self):
        """Number of tokens of each document (int64 array)."""
        return np.diff(self._starts) - 1

    def subset(self, indices):
        """A new corpus of the documents at ``indices``, in that order."""
        return self.pieces([(i, 0, None) for i in indices])

    def pieces(self, spans):
        """A new corpus with one document per ``(document, start, stop)``:
        ``self[document][start:stop]`` (``stop`` None: to the end)."""
        writer = CorpusWriter(self.vocab_size)
        try:
            for i, start, stop in spans:
                base, end = int(self._starts[i]) + 1, int(self._starts[i + 1])
                first = base + start
                end = end if stop is None else min(end, base + stop)
                for block in range(first, end, _COPY_TOKENS):
                    writer.write(self._read(block, min(end, block + _COPY_TOKENS)))
                writer.end_document()
            return writer.close()
        except BaseException:
            writer.abort()
            raise


class DiskStream:
    """A joined id stream in a file: what the window datasets read.

    ``owner`` keeps the file alive while the stream is in use.
    """

    def __init__(self, path, dtype, n_tokens, n_docs, owner=None):
        self.path = path
        self.dtype = np.dtype(dtype)
        self.n_tokens = int(n_tokens)
        self.n_docs = int(n_docs)
        self._owner = owner

    def __len__(self):
        return self.n_tokens


class CorpusWriter:
    """Write documents' ids to a temporary stream file, then an IdCorpus."""

    def __init__(self, vocab_size):
        self._dtype = id_dtype(vocab_size)
        self._vocab_size = vocab_size
        fd, self._path = tempfile.mkstemp(prefix="sklstm-ids-", suffix=".bin")
        self._file = os.fdopen(fd, "wb")
        self._starts = [0]
        self._position = 1
        self._file.write(np.array([EOD_ID], self._dtype).tobytes())

    def write(self, ids):
        """Append ids to the current document."""
        ids = np.asarray(ids)
        if ids.size:
            self._file.write(ids.astype(self._dtype, copy=False).tobytes())
            self._position += ids.size

    def end_document(self):
        """Close the current document with an end-of-document id."""
        self._file.write(np.array([EOD_ID], self._dtype).tobytes())
        self._starts.append(self._position)
        self._position += 1

    def close(self):
        """Finish the file and return the :class:`IdCorpus` reading it."""
        self._file.close()
        return IdCorpus(self._path, self._dtype, self._starts, self._vocab_size)

    def abort(self):
        """Discard the file (after an error)."""
        self._file.close()
        _remove(self._path)
