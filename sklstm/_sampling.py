"""The compiled generation loop and its sampling rules.

Generation never calls ``model.predict`` per token. ``Sampler.prefill``
consumes left-padded prompts in masked passes of 64 columns;
``Sampler.decoder`` gives a loop compiled by XLA: each iteration adjusts the
logits (repetition penalty, temperature, top-k, top-p), draws one token per
row and advances the LSTM states by one step with fused matrix products.

The loop takes and returns everything it carries (logits, states, tokens
seen, rows done), so a long generation can run as several calls, for
streaming or for checking stop strings. Random numbers come in as one
uniform number per step and row, drawn in advance from the caller's seed, so
the tokens do not depend on how the steps are split into calls.

Each combination of the controls in use (sampling, top-k, top-p, repetition
penalty, end-of-document ban) is compiled once per batch size, whatever the
prompts' lengths and ``max_new_tokens``; controls left off cost nothing per
step. The compiled loops take the weights as arguments and are shared by
every network of the same structure and weight shapes in the process
(:class:`Program`), so a second model of a shape already seen generates
without compiling.
"""

from __future__ import annotations

import collections
import math
import threading
import warnings
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from sklstm._lstm_cpu import gate_scale
from sklstm._tokens import EOD_ID, OOV_ID, PAD_ID

PREFILL_COLUMNS = 64  # prompt columns read per compiled call

_NEG = -1e9  # logit given to tokens that must not be sampled
_LOW_31 = 0x7FFFFFFF  # flips a negative float's bits into ascending order
_XLA_ERRORS = (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError)
# For functions whose only control flow is Python's (over layers, flags,
# bisection rounds): the compiled loops call them as they are, instead of
# AutoGraph converting their source (about 1 s of a process's first
# generation). The loops themselves are tf.while_loops.
_python_only = tf.autograph.experimental.do_not_convert


@_python_only
def _blocks(x, fill):
    """View (batch, vocab) as (batch, n_blocks, width), about sqrt(vocab) each.

    Reductions over a row then cost two short passes instead of one long
    one, which XLA compiles far better on CPU (a 10,000-token cumulative sum
    is ~7x slower than the two-level one here).
    """
    vocab = x.shape[-1]
    width = math.isqrt(vocab - 1) + 1
    n_blocks = -(-vocab // width)
    x = tf.pad(x, [[0, 0], [0, n_blocks * width - vocab]], constant_values=fill)
    return tf.reshape(x, [-1, n_blocks, width]), width


@_python_only
def fast_argmax(logits):
    """``argmax`` over the last axis, first index on ties: (batch,) int32."""
    blocks, width = _blocks(logits, logits.dtype.min)
    k = tf.argmax(tf.reduce_max(blocks, axis=-1), axis=-1, output_type=tf.int32)
    inner = tf.gather(blocks, k, batch_dims=1)  # (batch, width)
    return k * width + tf.argmax(inner, axis=-1, output_type=tf.int32)


@_python_only
def inverse_cdf_sample(logits, uniforms):
    """Draw one token per row of ``logits`` at quantile ``uniforms`` (batch,).

    Finds the block whose cumulative mass passes the quantile, then the token
    inside it.
    """
    vocab = logits.shape[-1]
    weights = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
    blocks, width = _blocks(weights, 0.0)  # (batch, n_blocks, width)
    mass = tf.reduce_sum(blocks, axis=-1)  # (batch, n_blocks)
    cumulative = tf.cumsum(mass, axis=-1)
    target = uniforms[:, None] * cumulative[:, -1:]  # (batch, 1)
    last = tf.shape(mass)[1] - 1
    k = tf.minimum(tf.searchsorted(cumulative, target, out_type=tf.int32), last)
    k = k[:, 0]
    before = tf.gather(cumulative, k, batch_dims=1) - tf.gather(mass, k, batch_dims=1)
    inner = tf.cumsum(tf.gather(blocks, k, batch_dims=1), axis=-1)  # (batch, width)
    j = tf.searchsorted(inner, target - before[:, None], out_type=tf.int32)[:, 0]
    return tf.minimum(k * width + tf.minimum(j, width - 1), vocab - 1)


def _sortable(x):
    """int32 keys that order like the float32 values ``x`` (no NaN)."""
    bits = tf.bitcast(x, tf.int32)
    return tf.where(bits < 0, tf.bitwise.bitwise_xor(bits, _LOW_31), bits)


def _from_sortable(keys):
    """The float32 values of :func:`_sortable` keys."""
    bits = tf.where(keys < 0, tf.bitwise.bitwise_xor(keys, _LOW_31), keys)
    return tf.bitcast(bits, tf.float32)


@_python_only
def kth_largest(x, k):
    """The ``k``-th largest value of each row of ``x`` (batch, n): (batch,).

    A bisection over the 2**32 float32 values, one counting pass over the
    row per bit: exact, ties included, and 5 to 25 times faster than
    sorting under XLA on CPU (which sorts 10,000 values per row slower than
    a whole LSTM step). ``k`` is clipped to [1, n].
    """
    k = tf.clip_by_value(k, 1, x.shape[-1])
    keys = _sortable(x)
    low = tf.cast(tf.reduce_min(keys, axis=-1), tf.int64)  # count >= k
    high = tf.cast(tf.reduce_max(keys, axis=-1), tf.int64)
    for _ in range(32):
        mid = (low + high + 1) // 2
        value = _from_sortable(tf.cast(mid, tf.int32))
        count = tf.reduce_sum(tf.cast(x >= value[:, None], tf.int32), axis=-1)
        enough = count >= k
        low = tf.where(enough, mid, low)
        high = tf.where(enough, high, mid - 1)
    # The row's own value at the bound (CPUs may treat denormal bounds as 0).
    bound = _from_sortable(tf.cast(low, tf.int32))[:, None]
    return tf.reduce_min(tf.where(x >= bound, x, x.dtype.max), axis=-1)


@_python_only
def nucleus_floor(probs, top_p):
    """Smallest probability kept by nucleus (top-p) sampling, per row.

    Tokens are kept, most likely first, until the mass of those ranked
    above the next one reaches ``top_p``: token ``i`` is kept when the mass
    of tokens more likely than it is below ``top_p``, so the most likely
    token always is. The kept tokens are those with a probability at least
    the returned floor. Found by bisection over float32 values, as in
    :func:`kth_largest`, without sorting.
    """
    keys = tf.bitcast(probs, tf.int32)  # probabilities are >= 0
    low = tf.zeros([tf.shape(probs)[0]], tf.int32)
    high = tf.reduce_max(keys, axis=-1)  # nothing is above the top: kept
    for _ in range(31):  # smallest key whose mass above is below top_p
        mid = (low + high) // 2
        value = tf.bitcast(mid, tf.float32)
        above = tf.reduce_sum(tf.where(probs > value[:, None], probs, 0.0), axis=-1)
        kept = above < top_p
        high = tf.where(kept, mid, high)
        low = tf.where(kept, low, mid + 1)
    # The row's own probability at the bound (denormal bounds may act as 0).
    bound = tf.bitcast(high, tf.float32)[:, None]
    return tf.reduce_min(tf.where(probs >= bound, probs, 2.0), axis=-1)


class Layout(NamedTuple):
    """What a compiled generation loop depends on besides the weights'
    values: the network's structure and the shapes of its weights."""

    vocab: int
    units: tuple
    dense: bool
    projection: bool
    tied: bool
    shapes: tuple


def weights_of(network):
    """The variables generation reads, in :class:`Program`'s order:
    the embedding, each LSTM's kernel, recurrent kernel and bias, the
    dense layer's kernel and bias, the projection's kernel, and the output
    layer's kernel (tied: its per-token scale) and bias."""
    out = [network.embedding.embeddings]
    for lstm in network.lstms:
        out += [lstm.cell.kernel, lstm.cell.recurrent_kernel, lstm.cell.bias]
    if network.dense is not None:
        out += [network.dense.kernel, network.dense.bias]
    if network.projection is not None:
        out.append(network.projection.kernel)
    head = network.head.logits if network.tied else network.head
    return [*out, head.kernel, head.bias]


def layout_of(network):
    """The :class:`Layout` of ``network``."""
    return Layout(
        network.vocab_size,
        tuple(network.units),
        network.dense is not None,
        network.projection is not None,
        bool(network.tied),
        tuple((tuple(w.shape), w.dtype) for w in weights_of(network)),
    )


# Compiled loops shared by every network of the same layout in the process,
# so that a new model of a shape already seen (another fit of a search, a
# model loaded again) generates at once instead of compiling anew.
_PROGRAMS = collections.OrderedDict()
_PROGRAMS_KEPT = 16
_PROGRAMS_LOCK = threading.Lock()


def program(layout):
    """The shared :class:`Program` of ``layout`` (the 16 latest are kept)."""
    with _PROGRAMS_LOCK:
        found = _PROGRAMS.get(layout)
        if found is None:
            found = _PROGRAMS[layout] = Program(layout)
            while len(_PROGRAMS) > _PROGRAMS_KEPT:
                _PROGRAMS.popitem(last=False)
        _PROGRAMS.move_to_end(layout)
        return found


class Sampler:
    """Continue batches of left-padded prompts with compiled loops.

    The loops belong to the network's :class:`Program`, shared by networks
    of one layout; each call passes them this network's current weights.
    """

    def __init__(self, network):
        self.net = network
        self._weights = weights_of(network)
        self.program = program(layout_of(network))

    def prefill(self, prompts):
        """Read left-padded prompts (batch, time): logits, states, seen, done.

        The prompts are read ``PREFILL_COLUMNS`` columns per compiled call,
        so one compiled function serves every prompt length.
        """
        prompts = np.asarray(prompts, dtype=np.int32)
        batch, width = prompts.shape
        blocks = max(1, -(-width // PREFILL_COLUMNS))
        padded = np.full((batch, blocks * PREFILL_COLUMNS), PAD_ID, np.int32)
        padded[:, padded.shape[1] - width :] = prompts
        states = self.net.zero_states(batch)
        x = states[-2]
        seen = tf.zeros([batch, self.net.vocab_size], tf.bool)
        prefills = self.program.prefills
        for start in range(0, padded.shape[1], PREFILL_COLUMNS):
            block = tf.constant(padded[:, start : start + PREFILL_COLUMNS])
            logits, states, x, seen = self.program.run(
                lambda jit: prefills[jit], (block, states, x, seen, self._weights)
            )
        return logits, states, seen, tf.zeros([batch], tf.bool)

    def decode(self, flags, args):
        """Run the decode loop for ``flags`` on ``args``."""
        return self.program.run(
            lambda jit: self.program.decoder(flags, jit_compile=jit),
            (*args, self._weights),
        )


class Program:
    """The compiled prefill and decode loops of one :class:`Layout`.

    Every loop takes the weights (in :func:`weights_of`'s order) as its last
    argument, so one compiled loop serves every network of the layout.
    """

    def __init__(self, layout):
        self.layout = layout
        vocab = layout.vocab
        self.vocab_size = vocab
        state_specs = [
            tf.TensorSpec([None, u], tf.float32) for u in layout.units for _ in (0, 1)
        ]
        self._state_specs = state_specs
        self._weight_specs = [
            tf.TensorSpec(shape, dtype) for shape, dtype in layout.shapes
        ]
        self.prefills = {
            jit: tf.function(
                self._prefill,
                jit_compile=jit,
                autograph=False,  # its loop is a tf.while_loop
                input_signature=[
                    tf.TensorSpec([None, PREFILL_COLUMNS], tf.int32),
                    state_specs,
                    tf.TensorSpec([None, layout.units[-1]], tf.float32),
                    tf.TensorSpec([None, vocab], tf.bool),
                    self._weight_specs,
                ],
            )
            for jit in (True, False)
        }
        self._decoders = {}
        self._lock = threading.Lock()
        self._jit = True

    # -- model step ----------------------------------------------------------
    @_python_only
    def _arrange(self, raw):
        """The step's weights, rearranged once per call of the loop, from
        the raw weights (in :func:`weights_of`'s order).

        The first layer's input projection is folded into a table, one row per
        token (``embedding @ kernel + bias``), so a step starts with a gather;
        deeper layers stack ``[kernel; recurrent_kernel]`` for one matmul.
        The columns of the sigmoid gates are halved, so that one ``tanh``
        over all four gates gives them all: ``sigmoid(x) = (1 + tanh(x / 2))
        / 2``. The output bias carries the ban on padding and
        out-of-vocabulary ids. Then come the output kernel (the embedding
        matrix transposed and scaled, with tied weights), and the dense
        layer's ``(kernel, bias)`` and the projection's kernel, or None.
        """
        layout = self.layout
        embeddings, raw = raw[0], list(raw[1:])
        n_layers = len(layout.units)
        lstms = [raw[3 * k : 3 * k + 3] for k in range(n_layers)]
        rest = raw[3 * n_layers :]
        dense = (rest.pop(0), rest.pop(0)) if layout.dense else None
        projection = rest.pop(0) if layout.projection else None
        head_kernel, head_bias = rest
        if layout.tied:  # the per-token scale times the embedding, transposed
            head_kernel = tf.transpose(embeddings) * head_kernel
        (kernel, recurrent, bias), *deeper = lstms
        layers = [(tf.matmul(embeddings, kernel) + bias, recurrent)] + [
            (tf.concat([k, r], axis=0), b) for k, r, b in deeper
        ]  # first: (vocab, 4 * units) table
        scaled = []
        for (a, b), units in zip(layers, layout.units, strict=True):
            scale = gate_scale(units, a.dtype)
            scaled.append((a * scale, b * scale))  # gates i, f, g, o
        banned = tf.tensor_scatter_nd_update(
            tf.zeros([layout.vocab]), [[PAD_ID], [OOV_ID]], [_NEG, _NEG]
        )  # padding and out-of-vocabulary are never generated
        return scaled, head_bias + banned, head_kernel, dense, projection

    @_python_only
    def _recur(self, tokens, states, weights):
        """Advance the LSTM states by one token per row.

        Returns the top layer's output (batch, units) and the new states.
        """
        layers = weights[0]
        x = None
        new_states = []
        for k, (a, b) in enumerate(layers):
            h, c = states[2 * k], states[2 * k + 1]  # (batch, units)
            if k == 0:  # a: input table, b: recurrent kernel
                z = tf.gather(a, tokens) + tf.matmul(h, b)  # (batch, 4 * units)
            else:  # a: [kernel; recurrent_kernel], b: bias
                z = tf.matmul(tf.concat([x, h], axis=1), a) + b
            t = tf.tanh(z)  # sigmoid gates were pre-halved
            i, f, g, o = tf.split(t, 4, axis=1)  # Keras gate order
            i, f, o = 0.5 * i + 0.5, 0.5 * f + 0.5, 0.5 * o + 0.5
            c = f * c + i * g
            h = o * tf.tanh(c)
            new_states += [h, c]
            x = h
        return x, new_states

    @_python_only
    def _logits(self, x, weights):
        """Next-token logits (batch, vocab) from the top LSTM output."""
        _, bias, kernel, dense, projection = weights
        if dense is not None:
            x = tf.nn.relu(tf.matmul(x, dense[0]) + dense[1])
        if projection is not None:
            x = tf.matmul(x, projection)
        return tf.matmul(x, kernel) + bias

    @_python_only
    def _step(self, tokens, states, weights):
        """One token per row in, next-token logits and new states out."""
        x, states = self._recur(tokens, states, weights)
        return self._logits(x, weights), states  # (batch, vocab)

    def _prefill(self, prompts, states, x, seen, raw):
        """Read one block of ``PREFILL_COLUMNS`` prompt columns.

        Takes and returns the carry: the states, the top layer's output
        ``x`` and the tokens ``seen`` so far; also returns the logits after
        the block. The same fused step as generation runs over the columns;
        padded steps leave a row's carry as it is. The output layer runs
        once, after the last column. ``raw``: the network's weights.
        """
        weights = self._arrange(raw)
        batch = tf.shape(prompts)[0]
        # Columns padded in every row change nothing: start at the first
        # column holding a real token (prompts are left-padded).
        real_columns = tf.reduce_any(tf.not_equal(prompts, PAD_ID), axis=0)
        first = tf.argmax(tf.cast(real_columns, tf.int32), output_type=tf.int32)
        t = tf.where(tf.reduce_any(real_columns), first, PREFILL_COLUMNS)
        # A while loop from `t`, not a range starting at a value computed
        # from the prompts: that would make XLA treat the prompts as
        # constants, and compile anew for every prompt.

        def column(t, states, x):
            real = tf.not_equal(prompts[:, t], PAD_ID)[:, None]  # (batch, 1)
            top, new_states = self._recur(prompts[:, t], states, weights)
            states = [
                tf.where(real, n, o) for n, o in zip(new_states, states, strict=True)
            ]
            return t + 1, states, tf.where(real, top, x)

        _, states, x = tf.while_loop(
            lambda t, *_: t < PREFILL_COLUMNS, column, [t, states, x]
        )
        logits = self._logits(x, weights)
        rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(prompts))
        seen |= (
            tf.scatter_nd(
                tf.reshape(tf.stack([rows, prompts], axis=-1), [-1, 2]),
                tf.ones([tf.size(prompts)], tf.int32),
                [batch, self.vocab_size],
            )
            > 0
        )  # (batch, vocab): tokens in the prompt
        return logits, states, x, seen

    # -- sampling rule -------------------------------------------------------
    @_python_only
    def _adjust(self, logits, temperature, top_k, top_p, flags):
        """Apply temperature, top-k and top-p to ``logits`` (batch, vocab).

        ``temperature``, ``top_k`` and ``top_p`` hold one value per row; a
        row with ``top_k`` 0 or ``top_p`` 1 is not filtered by that rule.
        """
        use_top_k, use_top_p = flags
        logits = logits / tf.maximum(temperature, 1e-6)[:, None]
        if use_top_k:
            kth = kth_largest(logits, top_k)[:, None]  # (batch, 1)
            cut = (logits < kth) & (top_k > 0)[:, None]
            logits = tf.where(cut, _NEG, logits)
        if use_top_p:
            # Keep the smallest set whose mass reaches top_p (the top token always).
            probs = tf.nn.softmax(logits, axis=-1)
            floor = nucleus_floor(probs, top_p)[:, None]  # (batch, 1)
            cut = (probs < floor) & (top_p < 1.0)[:, None]
            logits = tf.where(cut, _NEG, logits)
        return logits

    def _decode(
        self,
        logits,
        states,
        seen,
        done,
        n,
        temperatures,
        uniforms,
        top_k,
        top_p,
        penalty,
        eod_ban,
        stop_at_eod,
        raw,
        flags,
    ):
        """Generate ``n`` tokens per row (fewer if every row ends first).

        ``temperatures`` and ``uniforms`` (steps, batch) hold one value per
        step and row for at least ``n`` steps; a token is drawn by inverting
        the cumulative distribution at its row's uniform number, so the draws
        depend on the step only, not on how the loop is split into calls.
        The other controls hold one value per row: ``top_k`` (0: off),
        ``top_p`` (1: off), the repetition ``penalty`` (1: off),
        ``eod_ban``, the steps from now for which a row cannot end its
        document, and ``stop_at_eod``; ``raw`` holds the network's weights.
        Rows are independent, so rows of different requests with different
        controls can share a batch.
        Returns the tokens (batch, steps), padded with 0 after a row ends
        and after step ``n``, the number of steps run, and the new carry.
        """
        greedy_only, any_greedy, use_top_k, use_top_p, use_penalty, use_eod_ban = flags
        weights = self._arrange(raw)
        vocab = self.vocab_size
        top_k = tf.minimum(top_k, vocab)
        penalty = penalty[:, None]  # (batch, 1)
        out = tf.zeros(tf.shape(uniforms), tf.int32)  # (steps, batch)

        def draw(i, logits, seen):
            """Step ``i``'s token per row (batch,) from ``logits``."""
            adjusted = logits
            if use_eod_ban:
                banned = (i < eod_ban)[:, None]  # (batch, 1)
                adjusted = tf.where(
                    banned, adjusted + tf.one_hot(EOD_ID, vocab) * _NEG, adjusted
                )
            if use_penalty:
                # CTRL-style: make tokens already seen less likely.
                penalised = tf.where(
                    adjusted > 0, adjusted / penalty, adjusted * penalty
                )
                adjusted = tf.where(seen, penalised, adjusted)
            if greedy_only:
                return fast_argmax(adjusted)
            scaled = self._adjust(
                adjusted, temperatures[i], top_k, top_p, (use_top_k, use_top_p)
            )
            token = inverse_cdf_sample(scaled, uniforms[i])
            if any_greedy:  # a temperature of 0 in the schedule
                token = tf.where(temperatures[i] > 0, token, fast_argmax(adjusted))
            return token

        def step(i, stopped, out, logits, states, seen, done):
            token = tf.where(done, PAD_ID, draw(i, logits, seen))
            out = tf.tensor_scatter_nd_update(out, [[i]], token[None, :])
            if use_penalty:
                seen = seen | tf.cast(tf.one_hot(token, vocab, dtype=tf.int8), tf.bool)
            done = done | (stop_at_eod & tf.equal(token, EOD_ID))
            stopped = tf.reduce_all(done)  # every row ended: stop here
            logits, states = tf.cond(
                stopped,
                lambda: (logits, states),
                lambda: self._step(token, states, weights),
            )
            return i + 1, stopped, out, logits, states, seen, done

        # A while loop up to `n`, not a range: the range would make XLA
        # compile the loop anew for every n.
        steps, _, out, logits, states, seen, done = tf.while_loop(
            lambda i, stopped, *_: (i < n) & tf.logical_not(stopped),
            step,
            [tf.constant(0), tf.constant(False), out, logits, states, seen, done],
        )
        return tf.transpose(out), steps, logits, states, seen, done

    def run(self, function, args):
        """Call the XLA-compiled ``function(True)``; if XLA cannot compile it
        here, warn once and use the graph-executed ``function(False)``."""
        if self._jit:
            try:
                return function(True)(*args)
            except _XLA_ERRORS as exc:
                if "xla" not in str(exc).lower():
                    raise
                warnings.warn(
                    "XLA could not compile the generation loop on this device; "
                    f"using the slower graph loop instead ({type(exc).__name__}).",
                    RuntimeWarning,
                    stacklevel=4,
                )
                self._jit = False
        return function(False)(*args)

    def decoder(self, flags, jit_compile=True):
        """The compiled decode loop for one combination of controls.

        With ``jit_compile`` the loop is compiled by XLA into one native
        kernel (several times faster per step than the graph executor);
        XLA specialises it to each batch size only: the number of steps,
        the prompts and the controls' values are inputs.
        """
        key = (flags, jit_compile)
        with self._lock:
            if key not in self._decoders:
                self._decoders[key] = self._make_decoder(flags, jit_compile)
        return self._decoders[key]

    def _make_decoder(self, flags, jit_compile):
        """A new compiled decode loop (see :meth:`decoder`)."""
        vocab = self.vocab_size
        steps_rows = tf.TensorSpec([None, None], tf.float32)
        rows_i = tf.TensorSpec([None], tf.int32)
        rows_f = tf.TensorSpec([None], tf.float32)

        def decode(logits, states, seen, done, n, temperatures, uniforms,
                   top_k, top_p, penalty, eod_ban, stop_at_eod, raw):  # fmt: skip
            return self._decode(
                logits, states, seen, done, n, temperatures, uniforms,
                top_k, top_p, penalty, eod_ban, stop_at_eod, raw, flags,
            )  # fmt: skip

        return tf.function(
            decode,
            jit_compile=jit_compile,
            autograph=False,  # its loop is a tf.while_loop
            input_signature=[
                tf.TensorSpec([None, vocab], tf.float32),
                self._state_specs,
                tf.TensorSpec([None, vocab], tf.bool),
                tf.TensorSpec([None], tf.bool),
                tf.TensorSpec([], tf.int32),  # steps to run
                steps_rows,  # temperatures (step, row)
                steps_rows,  # uniforms (step, row)
                rows_i,  # top_k per row
                rows_f,  # top_p per row
                rows_f,  # repetition penalty per row
                rows_i,  # steps with end-of-document banned, per row
                tf.TensorSpec([None], tf.bool),  # stop at end-of-document
                self._weight_specs,  # the network's weights
            ],
        )
