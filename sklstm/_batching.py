"""Continuous batching: the rows of many requests decoded together.

Requests arrive from other threads (an HTTP server's handlers); each is a
:class:`Job` with one row per prompt and sequence. A :class:`Batcher` runs
one worker thread that keeps a batch of slots in the
:class:`~sklstm._sampling.Sampler`'s compiled decode loop. Between chunks of
tokens it frees the slots of rows that ended and fills free slots with
waiting rows, read together by one prefill, so a request joins the running
batch within two chunks (at once when the batch is idle) and a finished row
frees its place.

Every row carries its own controls (temperature, top-k, top-p, repetition
penalty, minimum length, stop strings) and its own random numbers, drawn
from its job's seed exactly as :meth:`~sklstm.LSTMTextGenerator.generate`
draws them: a row's tokens depend on its job only, not on the rows it shares
the batch with, and equal those of ``generate`` with the same seed.

Batch sizes are 1 and powers of 4 up to ``max_batch`` (the compiled loops
are specialised to each), growing as rows arrive and shrinking as they
leave.
"""

from __future__ import annotations

import collections
import threading
import time
import warnings

import numpy as np
import tensorflow as tf

from sklstm._generation import cut_at_stop, left_pad, trim_ids
from sklstm._tokens import EOD_ID

# Steps per compiled call; the calls are shaped for exactly this many.
CHUNK = 8
# While the batch runs, waiting rows join it once this many wait (or all
# free places can be filled), or once the first has waited this many calls:
# reading prompts costs about a decode call, so newcomers are read together.
_JOIN_GROUP = 4
_JOIN_WAIT = 2


class Overloaded(Exception):
    """More rows wait than the batcher accepts."""


class Job:
    """One request: id sequences to continue under one set of controls.

    Parameters
    ----------
    sequences : list of int arrays
        Encoded prompts; each is continued ``num_return_sequences`` times,
        the copies following each other (as in ``generate``).
    controls : sklstm._generation.Controls
    emit : callable
        Called from the worker thread with each event: ``("piece", index,
        text)`` (streaming jobs only), ``("end", index, piece, text,
        finish_reason, tokens)`` when row ``index`` ends (``piece`` is the
        text not yet sent as pieces, ``tokens`` the number generated, the
        one that ended the row included), or ``("error", message)``.
    stream : bool
        Whether to emit the text piece by piece.
    """

    def __init__(self, sequences, controls, emit, *, stream=False):
        n = controls.num_return_sequences
        self.sequences = [s for s in sequences for _ in range(n)]
        self.controls = controls
        self.emit = emit
        self.stream = stream
        self.cancelled = False
        self._uniforms = None

    @property
    def uniforms(self):
        """One uniform number per step and row (steps, rows), from the seed."""
        if self._uniforms is None:
            rng = np.random.RandomState(self.controls.seed)
            shape = (self.controls.max_new_tokens, len(self.sequences))
            self._uniforms = rng.random_sample(shape).astype(np.float32)
        return self._uniforms


class _Row:
    """One sequence being generated: its tokens so far and the text sent."""

    def __init__(self, job, index):
        self.job = job
        self.index = index
        self.pieces = []  # id arrays, one per chunk
        self.step = 0  # tokens generated
        self.sent = 0  # characters emitted as pieces
        self.ended = False  # generated the end of its document
        self.queued = 0  # decode calls run before it was submitted

    @property
    def remaining(self):
        return self.job.controls.max_new_tokens - self.step


def _ladder(n, most):
    """The batch size for ``n`` rows: 1 or a power of 4, at most ``most``.

    The compiled loops are specialised to each batch size and take seconds
    to compile, so the sizes are few.
    """
    size = 1
    while size < n:
        size *= 4
    return min(size, most)


def sizes(most):
    """Every batch size a batcher of ``most`` rows uses."""
    out = [1]
    while out[-1] < most:
        out.append(_ladder(out[-1] + 1, most))
    return out


class Batcher:
    """Decode the rows of concurrent jobs in shared batches, in a thread.

    Parameters
    ----------
    sampler : sklstm._sampling.Sampler
    decode : callable
        Maps a list of id arrays to a list of str.
    max_batch : int, default=64
        Most rows decoded together (bounds memory: the batch holds
        ``max_batch`` x vocabulary logits).
    window : float, default=0.002
        Seconds an idle batcher waits after the first request, so that
        requests arriving together start in one batch.
    max_waiting : int, default=4096
        Most rows waiting for a slot; :meth:`submit` raises
        :class:`Overloaded` beyond.
    """

    def __init__(self, sampler, decode, *, max_batch=64, window=0.002,
                 max_waiting=4096):  # fmt: skip
        self._sampler = sampler
        self._decode = decode
        self.max_batch = max_batch
        self.window = window if max_batch > 1 else 0.0
        self.max_waiting = max_waiting
        self._cond = threading.Condition()
        self._waiting = collections.deque()
        self._slots = []  # a _Row or None per batch row
        self._carry = None  # logits, states, seen, done of the batch
        self._thread = None
        self._warm = False
        self._closed = False
        self.peak_rows = 0  # most rows decoded in one call so far
        self.calls = 0  # decode calls so far

    # -- called from any thread ----------------------------------------------
    def submit(self, job):
        """Queue the rows of ``job``; events follow through ``job.emit``."""
        rows = [_Row(job, i) for i in range(len(job.sequences))]
        if job.controls.max_new_tokens == 0:
            for row in rows:
                job.emit(("end", row.index, "", "", "length", 0))
            return
        with self._cond:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            if len(self._waiting) + len(rows) > self.max_waiting:
                raise Overloaded(
                    f"{len(self._waiting)} sequences are waiting already; the "
                    f"server accepts at most {self.max_waiting}."
                )
            for row in rows:
                row.queued = self.calls
            self._waiting.extend(rows)
            self._cond.notify()
        self.start()

    def start(self, *, warm_up=False):
        """Start the worker thread; with ``warm_up`` it first compiles the
        loops of every batch size (requests wait meanwhile)."""
        with self._cond:
            if self._thread is None:
                self._warm = warm_up
                self._thread = threading.Thread(
                    target=self._work, name="sklstm-batcher", daemon=True
                )
                self._thread.start()

    def cancel(self, job):
        """Stop ``job``: its rows leave the batch at the next chunk boundary."""
        job.cancelled = True
        with self._cond:
            self._cond.notify()

    def close(self, timeout=10.0):
        """Stop the worker thread (waiting rows get an error event)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- the worker thread -----------------------------------------------------
    def _work(self):
        if self._warm:
            try:
                self._warm_up()
            except Exception as exc:  # noqa: BLE001 - requests compile what they need
                warnings.warn(
                    f"Compiling the generation loops at start failed ({exc}); "
                    "requests compile them when needed.",
                    RuntimeWarning,
                    stacklevel=1,
                )
        while True:
            rows = self._next_rows()
            if rows is None:
                break
            try:
                self._drop_cancelled()
                if rows:
                    self._admit(rows)
                if any(self._slots):
                    self._advance()
            except Exception as exc:  # noqa: BLE001 - report, keep serving
                self._fail(rows, exc)
        self._fail([], RuntimeError("the server is shutting down"))

    def _warm_up(self):
        """Compile the prefill and the plain decode loop of each batch size."""
        for size in sizes(self.max_batch):
            if self._closed:
                return
            logits, states, seen, done = self._sampler.prefill(
                left_pad([np.zeros(0, np.int32)] * size)
            )
            zeros = np.zeros((CHUNK, size), np.float32)
            inputs = [zeros, zeros, np.zeros(size, np.int32), np.ones(size, np.float32),
                      np.ones(size, np.float32), np.zeros(size, np.int32),
                      np.ones(size, bool)]  # fmt: skip
            args = (logits, states, seen, done, tf.constant(1, tf.int32))
            self._sampler.decode(
                _flags(top_k=False, top_p=False),
                (*args, *[tf.constant(x) for x in inputs]),
            )

    def _next_rows(self):
        """Wait for work; return the waiting rows that fit (None: closed)."""
        with self._cond:
            while not (self._closed or self._waiting or any(self._slots)):
                self._cond.wait()
            if self._closed:
                return None
            idle = not any(self._slots)
        if idle and self.window:
            time.sleep(self.window)  # let requests that come together start together
        with self._cond:
            live = sum(r is not None for r in self._slots)
            free = self.max_batch - live
            waiting = self._waiting
            if live and not (
                len(waiting) >= min(free, _JOIN_GROUP)
                or (waiting and self.calls - waiting[0].queued >= _JOIN_WAIT)
            ):
                return []
            rows = []
            while self._waiting and len(rows) < free:
                row = self._waiting.popleft()
                if not row.job.cancelled:
                    rows.append(row)
            return rows

    def _drop_cancelled(self):
        self._free([s for s, r in enumerate(self._slots) if r and r.job.cancelled])

    def _fail(self, rows, exc):
        """Give every job in the batch, ``rows`` or waiting an error event."""
        with self._cond:
            waiting = list(self._waiting)
            self._waiting.clear()
        jobs = {id(r.job): r.job for r in [*self._slots, *rows, *waiting] if r}
        self._slots, self._carry = [], None
        for job in jobs.values():
            if not job.cancelled:
                job.cancelled = True
                _emit(job, ("error", f"generation failed: {exc}"))

    def _empty(self, n):
        """The carry of ``n`` idle rows (done, so they generate padding)."""
        vocab = self._sampler.net.vocab_size
        return [
            tf.zeros([n, vocab]),
            self._sampler.net.zero_states(n),
            tf.zeros([n, vocab], tf.bool),
            tf.ones([n], tf.bool),
        ]

    def _resize(self, size):
        """Hold the live rows in a batch of ``size`` rows, in their order."""
        keep = [s for s, r in enumerate(self._slots) if r is not None]
        empty = self._empty(size - len(keep))
        if keep:
            at = tf.constant(keep, tf.int32)

            def take(old, new):
                return tf.concat([tf.gather(old, at), new], axis=0)

            logits, states, seen, done = self._carry
            empty = [
                take(logits, empty[0]),
                [take(o, n) for o, n in zip(states, empty[1], strict=True)],
                take(seen, empty[2]),
                take(done, empty[3]),
            ]
        self._slots = [self._slots[s] for s in keep] + [None] * (size - len(keep))
        self._carry = empty if size else None

    def _admit(self, rows):
        """Read the prompts of ``rows`` and place them in free slots."""
        live = sum(r is not None for r in self._slots)
        if live + len(rows) > len(self._slots):
            self._resize(_ladder(live + len(rows), self.max_batch))
        free = [s for s, r in enumerate(self._slots) if r is None][: len(rows)]
        k = len(rows)
        size = _ladder(k, self.max_batch)  # few compiled prefill shapes
        sequences = [r.job.sequences[r.index] for r in rows]
        sequences += [np.zeros(0, np.int32)] * (size - k)
        logits, states, seen, _ = self._sampler.prefill(left_pad(sequences))
        at = tf.constant(free, tf.int32)[:, None]

        def put(old, new):
            return tf.tensor_scatter_nd_update(old, at, new[:k])

        old_logits, old_states, old_seen, old_done = self._carry
        self._carry = [
            put(old_logits, logits),
            [put(o, n) for o, n in zip(old_states, states, strict=True)],
            put(old_seen, seen),
            tf.tensor_scatter_nd_update(old_done, at, tf.zeros([k], tf.bool)),
        ]
        for slot, row in zip(free, rows, strict=True):
            self._slots[slot] = row

    def _free(self, slots):
        """Mark ``slots`` idle; shrink the batch when few rows are left."""
        if not slots:
            return
        mask = np.zeros(len(self._slots), bool)
        mask[slots] = True
        logits, states, seen, done = self._carry
        self._carry = [logits, states, seen, done | tf.constant(mask)]
        for slot in slots:
            self._slots[slot] = None
        live = sum(r is not None for r in self._slots)
        if live == 0 or live <= len(self._slots) // 8:
            self._resize(_ladder(live, self.max_batch) if live else 0)

    def _advance(self):
        """Run one chunk of steps over the batch and hand out the tokens."""
        active = [(s, r) for s, r in enumerate(self._slots) if r is not None]
        n = min(CHUNK, max(r.remaining for _, r in active))
        inputs = self._inputs(active, n)
        flags = _flags(
            top_k=any(r.job.controls.top_k for _, r in active),
            top_p=any(r.job.controls.top_p < 1.0 for _, r in active),
        )
        tokens, steps, *self._carry = self._sampler.decode(
            flags, (*self._carry, tf.constant(n, tf.int32), *inputs)
        )
        self.calls += 1
        self.peak_rows = max(self.peak_rows, len(active))
        tokens = tokens.numpy()[:, : int(steps)]
        ended = []
        for slot, row in active:
            new = tokens[slot, : row.remaining]
            row.pieces.append(new)
            row.step += len(new)
            row.ended |= row.job.controls.stop_at_eod and bool((new == EOD_ID).any())
            if self._report(row):
                ended.append(slot)
        self._free(ended)

    def _inputs(self, active, n):
        """The per-row inputs of one decode call of ``n`` steps."""
        size = len(self._slots)
        temperatures = np.zeros((CHUNK, size), np.float32)
        uniforms = np.zeros((CHUNK, size), np.float32)
        top_k = np.zeros(size, np.int32)
        top_p = np.ones(size, np.float32)
        penalty = np.ones(size, np.float32)
        eod_ban = np.zeros(size, np.int32)
        stop_at_eod = np.zeros(size, bool)
        for slot, row in active:
            c = row.job.controls
            end = min(row.step + n, c.max_new_tokens)
            schedule = c.temperatures[row.step : end]
            temperatures[:n, slot] = schedule[-1]  # steps past the end: unused
            temperatures[: len(schedule), slot] = schedule
            drawn = row.job.uniforms[row.step : end, row.index]
            uniforms[: len(drawn), slot] = drawn
            top_k[slot], top_p[slot] = c.top_k, c.top_p
            penalty[slot] = c.repetition_penalty
            stop_at_eod[slot] = c.stop_at_eod
            eod_ban[slot] = c.min_new_tokens - row.step if c.stop_at_eod else 0
        inputs = [temperatures, uniforms, top_k, top_p, penalty, eod_ban, stop_at_eod]
        return [tf.constant(x) for x in inputs]

    def _report(self, row):
        """Emit what ``row`` has new; return whether it ended."""
        job, c = row.job, row.job.controls
        reason = "stop" if row.ended else "length" if row.remaining <= 0 else None
        if reason is None and not (job.stream or c.stop):
            return False
        ids = np.concatenate(row.pieces)
        text, stopped = cut_at_stop(self._text(ids, c), c.stop)
        if stopped:
            reason = "stop"
        if reason is None:
            hold = max((len(s) for s in c.stop), default=1) - 1
            if len(text) - hold > row.sent:
                _emit(job, ("piece", row.index, text[row.sent : len(text) - hold]))
                row.sent = len(text) - hold
            return False
        tokens = self._tokens_used(ids, c, stopped)
        _emit(job, ("end", row.index, text[row.sent :], text, reason, tokens))
        return True

    def _text(self, ids, controls):
        return self._decode([trim_ids(ids, controls.stop_at_eod)])[0]

    def _tokens_used(self, ids, controls, stopped):
        """Tokens generated up to the one that ended the row, included."""
        if stopped:  # the shortest prefix whose text holds a stop string
            low, high = 1, len(ids)
            while low < high:
                mid = (low + high) // 2
                text = self._text(ids[:mid], controls)
                if cut_at_stop(text, controls.stop)[1]:
                    high = mid
                else:
                    low = mid + 1
            return low
        ends = np.flatnonzero(ids == EOD_ID) if controls.stop_at_eod else []
        return int(ends[0]) + 1 if len(ends) else len(ids)


def _flags(*, top_k, top_p):
    """The decode loop's rules for a batch.

    Greedy and sampled rows, repetition penalties and minimum lengths are
    handled in every batch: with their neutral values (penalty 1, no
    minimum) those rules change no token, and they cost little. So only
    top-k and top-p, which cost passes over the vocabulary, choose the
    compiled loop: four loops per batch size, not 64.
    """
    return (False, True, top_k, top_p, True, True)


def _emit(job, event):
    """Hand ``event`` to ``job``; a job whose receiver fails is cancelled."""
    try:
        job.emit(event)
    except Exception:  # noqa: BLE001 - the receiver went away
        job.cancelled = True
