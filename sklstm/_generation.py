"""Generation controls and the driver that runs the compiled loop.

``check_controls`` validates what a user passes to ``generate`` / ``stream``.
``Run`` feeds left-padded prompts to a :class:`~sklstm._sampling.Sampler` and
advances it chunk by chunk; ``continue_prompts`` and ``stream_text`` build
text out of it, with stop strings checked between chunks.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from sklearn.utils import check_random_state

from sklstm._tokens import EOD_ID, PAD_ID
from sklstm._validation import check_bool, check_float, check_int

MAX_SEED = np.iinfo(np.int32).max
# Tokens per compiled call when stop strings are checked between calls.
_STOP_CHUNK = 32
# Tokens per compiled call when streaming.
_STREAM_CHUNK = 8
# Steps a compiled decode call is shaped for (it runs as many as asked, up
# to that), so that one compiled loop serves every max_new_tokens and chunk
# size; fewer for big batches, to bound the buffers of a call (batch x steps).
_MAX_CALL = 1024
_CALL_VALUES = 1 << 20


def call_steps(batch):
    """Steps per compiled decode call for ``batch`` rows."""
    steps = _MAX_CALL
    while steps > 8 and steps * batch > _CALL_VALUES:
        steps //= 2
    return steps


@dataclass(frozen=True)
class Controls:
    """Validated generation controls."""

    max_new_tokens: int
    min_new_tokens: int
    temperatures: np.ndarray  # (max_new_tokens,) float32, 0 means greedy
    top_k: int  # 0: off
    top_p: float  # 1.0: off
    repetition_penalty: float  # 1.0: off
    stop: tuple
    stop_at_eod: bool
    num_return_sequences: int
    seed: int

    @property
    def flags(self):
        """Which optional rules the compiled loop must apply."""
        return (
            not self.temperatures.any(),  # greedy only
            not self.temperatures.all(),  # some steps greedy
            self.top_k > 0,
            self.top_p < 1.0,
            self.repetition_penalty != 1.0,
            self.min_new_tokens > 0 and self.stop_at_eod,
        )


def parse_controls(controls, where):
    """Validate a ``**controls`` dict, naming ``where`` in every error."""
    allowed = [n for n in check_controls.__kwdefaults__ if n != "where"]
    unknown = sorted(set(controls) - set(allowed))
    if unknown:
        raise TypeError(
            f"{where} got unexpected keyword argument(s) {unknown!r}; the "
            f"generation controls are {allowed!r}."
        )
    return check_controls(**controls, where=where)


def check_controls(
    *,
    max_new_tokens=100,
    min_new_tokens=0,
    temperature=1.0,
    top_k=None,
    top_p=None,
    repetition_penalty=None,
    stop=None,
    stop_at_eod=True,
    num_return_sequences=1,
    random_state=None,
    where="generate",
):
    """Validate generation controls; raise with a message naming the fix."""
    n = check_int(max_new_tokens, "max_new_tokens", where, min_value=0)
    n_min = check_int(min_new_tokens, "min_new_tokens", where, min_value=0)
    if n_min > n:
        raise ValueError(
            f"The 'min_new_tokens' parameter of {where} must be <= max_new_tokens"
            f"={n}. Got {n_min!r} instead."
        )
    temperatures = _temperature_schedule(temperature, n, where)
    top_k = check_int(top_k, "top_k", where, min_value=1, allow_none=True) or 0
    top_p = check_float(
        top_p, "top_p", where, low=0, high=1, low_inclusive=False, allow_none=True
    )
    penalty = check_float(
        repetition_penalty,
        "repetition_penalty",
        where,
        low=0,
        low_inclusive=False,
        allow_none=True,
    )
    if isinstance(stop, str):
        stop = (stop,)
    if stop is None:
        stop = ()
    if not isinstance(stop, (list, tuple)) or not all(
        isinstance(s, str) and s for s in stop
    ):
        raise ValueError(
            f"The 'stop' parameter of {where} must be a non-empty str, a list of "
            f"non-empty str or None. Got {stop!r} instead."
        )
    return Controls(
        max_new_tokens=n,
        min_new_tokens=n_min,
        temperatures=temperatures,
        top_k=top_k,
        top_p=1.0 if top_p is None else top_p,
        repetition_penalty=1.0 if penalty is None else penalty,
        stop=tuple(stop),
        stop_at_eod=check_bool(stop_at_eod, "stop_at_eod", where),
        num_return_sequences=check_int(
            num_return_sequences, "num_return_sequences", where, min_value=1
        ),
        seed=int(check_random_state(random_state).randint(MAX_SEED)),
    )


def _temperature_schedule(temperature, n, where):
    """A float, or one float per new token (the last repeats when short)."""
    if isinstance(temperature, numbers.Real) and not isinstance(temperature, bool):
        values = [check_float(temperature, "temperature", where, low=0)]
    else:
        try:
            values = [float(t) for t in temperature]
        except (TypeError, ValueError):
            values = []
        if not values or not all(np.isfinite(t) and t >= 0 for t in values):
            raise ValueError(
                f"The 'temperature' parameter of {where} must be a float >= 0 or "
                f"a non-empty sequence of floats >= 0 (one per new token). Got "
                f"{temperature!r} instead."
            )
    schedule = np.full(n, values[-1], dtype=np.float32)
    head = min(n, len(values))
    schedule[:head] = values[:head]
    return schedule


def _bucket(n):
    """``n`` rounded up to one of 4 sizes per power of two (at least 8).

    Compiled functions are specialised to each input shape; rounding keeps
    the shapes few while wasting less than a quarter of the work.
    """
    step = max(1, 1 << max(0, (n - 1).bit_length() - 3))
    return max(8, -(-n // step) * step)


def left_pad(sequences):
    """Prefix each sequence with end-of-document and left-pad with 0.

    Returns an int32 array (n, width), ``width`` at least one more than the
    longest prompt (see ``_bucket``); the padding leaves states unchanged.
    """
    width = _bucket(1 + max(len(s) for s in sequences))
    out = np.full((len(sequences), width), PAD_ID, dtype=np.int32)
    for row, seq in zip(out, sequences, strict=True):
        row[width - len(seq) - 1] = EOD_ID
        if len(seq):
            row[width - len(seq) :] = seq
    return out


class Run:
    """One generation: prompts read, then advanced chunk by chunk."""

    def __init__(self, sampler, sequences, controls):
        self.controls = controls
        self.sampler = sampler
        # Batches of more than 8 rows get idle rows up to a bucketed size, so
        # that a few compiled functions serve every batch size.
        self.n_rows = n = len(sequences)
        rows = n if n <= 8 else _bucket(n)
        idle = [np.zeros(0, np.int32)] * (rows - n)
        logits, states, seen, done = sampler.prefill(left_pad([*sequences, *idle]))
        self.carry = [logits, states, seen, done | (tf.range(rows) >= n)]
        self.step = 0
        # One uniform number per step and row, drawn up front from the seed.
        rng = np.random.RandomState(controls.seed)
        self.uniforms = np.zeros((controls.max_new_tokens, rows), np.float32)
        self.uniforms[:, :n] = rng.random_sample((controls.max_new_tokens, n))

    @property
    def finished(self):
        return self.step >= self.controls.max_new_tokens or bool(
            tf.reduce_all(self.carry[3])
        )

    def advance(self, n):
        """Generate up to ``n`` more tokens per row: (batch, m) int32, m <= n."""
        c = self.controls
        size = call_steps(self.uniforms.shape[1])  # steps the inputs are padded to
        rows = self.uniforms.shape[1]
        n = min(n, c.max_new_tokens - self.step, size)
        end = self.step + n
        temperatures = np.zeros((size, rows), np.float32)
        temperatures[:n] = c.temperatures[self.step : end, None]
        uniforms = np.zeros((size, rows), np.float32)
        uniforms[:n] = self.uniforms[self.step : end]
        eod_ban = c.min_new_tokens - self.step if c.stop_at_eod else 0
        args = (
            *self.carry,
            tf.constant(n, tf.int32),
            tf.constant(temperatures),
            tf.constant(uniforms),
            tf.fill([rows], tf.constant(c.top_k, tf.int32)),
            tf.fill([rows], tf.constant(c.top_p, tf.float32)),
            tf.fill([rows], tf.constant(c.repetition_penalty, tf.float32)),
            tf.fill([rows], tf.constant(eod_ban, tf.int32)),
            tf.fill([rows], tf.constant(c.stop_at_eod)),
        )
        tokens, steps, *self.carry = self.sampler.decode(c.flags, args)
        steps = int(steps)
        self.step += steps
        return tokens.numpy()[: self.n_rows, :steps]

    def finish(self, rows):
        """Mark rows (bool mask) as done: they generate padding from now on."""
        done = np.ones(self.uniforms.shape[1], bool)
        done[: self.n_rows] = rows
        self.carry[3] = self.carry[3] | tf.constant(done)


def trim_ids(row, stop_at_eod):
    """Generated ids up to the end of the document (or all, padding dropped)."""
    if stop_at_eod:
        ends = np.flatnonzero(row == EOD_ID)
        row = row[: ends[0]] if ends.size else row
    return row[row != PAD_ID]


def cut_at_stop(text, stop):
    """Text before the first stop string, and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def continue_prompts(sampler, sequences, controls, decode):
    """Continuations of each prompt, repeated ``num_return_sequences`` times.

    ``decode`` maps a list of id arrays to a list of str, or is None to
    return ids. Stop strings are checked between chunks of tokens.
    """
    rows = [s for s in sequences for _ in range(controls.num_return_sequences)]
    if controls.max_new_tokens == 0:
        ids = [np.zeros(0, np.int32) for _ in rows]
        return decode(ids) if decode else ids
    run = Run(sampler, rows, controls)
    chunk = _STOP_CHUNK if controls.stop else controls.max_new_tokens
    pieces = []
    while not run.finished:
        pieces.append(run.advance(chunk))
        if controls.stop:
            ids = [trim_ids(r, controls.stop_at_eod) for r in np.hstack(pieces)]
            stopped = [cut_at_stop(t, controls.stop)[1] for t in decode(ids)]
            run.finish(np.array(stopped))
    ids = [trim_ids(r, controls.stop_at_eod) for r in np.hstack(pieces)]
    if decode is None:
        return ids
    return [cut_at_stop(t, controls.stop)[0] for t in decode(ids)]


def stream_text(sampler, sequence, controls, decode):
    """Yield the continuation of one prompt piece by piece as it is made.

    Text that might be the start of a stop string is held back until it is
    known not to be.
    """
    if controls.max_new_tokens == 0:
        return
    run = Run(sampler, [sequence], controls)
    hold = max((len(s) for s in controls.stop), default=1) - 1
    pieces, sent = [], 0
    while not run.finished:
        pieces.append(run.advance(_STREAM_CHUNK))
        text = decode([trim_ids(np.hstack(pieces)[0], controls.stop_at_eod)])[0]
        text, stopped = cut_at_stop(text, controls.stop)
        ready = len(text) if stopped or run.finished else len(text) - hold
        if ready > sent:
            yield text[sent:ready]
            sent = ready
        if stopped:
            return
    if len(text) > sent:
        yield text[sent:]
