"""Fused LSTM training on CPU, over a ``keras.layers.LSTM``'s own weights.

Keras 3 on a CPU trains an LSTM through its generic recurrent loop: every
time step multiplies that step's input by the input kernel, and autodiff
accumulates each weight gradient one step at a time. This module computes a
layer's forward and backward pass itself, in the layout that does the least
work per step (time-major, Keras' gate order ``i, f, c, o``)::

    forward:  Z = X @ W + b                      one matmul, all steps
              for t:  z = Z[t] + h @ R            the only per-step matmul
                      i, f, g, o = sigmoid, sigmoid, tanh, sigmoid
                      c = f * c + i * g;  h = o * tanh(c)
                      keep h and the factors dz[t] needs
    backward: for t (reversed):  dz[t] from dh, dc  (multiply-adds)
                                 dh = dz[t] @ R.T   the only per-step matmul
              dW = X.T @ dZ, dR = H_prev.T @ dZ, db = sum(dZ), dX = dZ @ W.T

The two loops are compiled by XLA (one native loop each, with the gate
arithmetic fused); the big matrix products stay TensorFlow's own (oneDNN on
x86). The loops take the weights as arguments, not as captured variables,
so one compiled program serves every network of the same shapes in a
process: a search of many small fits compiles each shape once. A fit too
small to earn back XLA's compile time (:func:`use_xla`) runs the same loops
as TensorFlow graphs.

For a first layer over a small vocabulary, ``embeddings[ids] @ W`` is
``(embeddings @ W)[ids]``: a product over the vocabulary and a gather
replace the product over every token (:func:`embedded_lstm_time_major`).

The layer's ``kernel``, ``recurrent_kernel`` and ``bias`` are the ones read
and trained: the saved format, generation and cuDNN on a GPU are untouched.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def gate_scale(units, dtype):
    """Per-column factors of the pre-activations, so that one ``tanh`` over
    all four gates gives them all: ``sigmoid(x) = (1 + tanh(x / 2)) / 2``
    for ``i``, ``f`` and ``o``, the plain ``tanh`` for ``g`` (the fused
    training loop and the sampler's step)."""
    half = tf.fill([units], tf.constant(0.5, dtype))
    return tf.concat([half, half, tf.ones([units], dtype), half], axis=0)


def _forward_loop(z, recurrent_kernel, h0, c0):
    """The recurrence over precomputed input projections.

    ``z``: (time, batch, 4 * units), input projection plus bias. Returns the
    outputs ``hs`` (time, batch, units), the factors of the backward pass
    (:func:`_backward_loop`), and the final ``h`` and ``c``.

    Besides ``h``, each step stores what the backward pass multiplies by,
    so that its loop does no transcendental and reads no cell state:
    ``d`` (time, batch, 4 * units), the derivatives of the new cell state
    with respect to each gate's pre-activation (``o``'s: of ``h``), and
    ``e`` (time, batch, 2 * units), ``o * (1 - tanh(c)**2)`` and ``f``.
    """
    steps = tf.shape(z)[0]
    units = tf.shape(h0)[1]
    scale = gate_scale(units, z.dtype)

    def step(t, h, c, hs, ds, es):
        # One tanh over all gates (sigmoid gates' columns halved).
        a = tf.tanh((z[t] + tf.matmul(h, recurrent_kernel)) * scale)
        i, f, g, o = tf.split(a, 4, axis=1)
        i, f, o = 0.5 + 0.5 * i, 0.5 + 0.5 * f, 0.5 + 0.5 * o
        c_prev, c = c, f * c + i * g
        tanh_c = tf.tanh(c)
        h = o * tanh_c
        d = tf.concat(
            [
                g * i * (1.0 - i),
                c_prev * f * (1.0 - f),
                i * (1.0 - g * g),
                tanh_c * o * (1.0 - o),
            ],
            axis=1,
        )
        e = tf.concat([o * (1.0 - tanh_c * tanh_c), f], axis=1)
        return t + 1, h, c, hs.write(t, h), ds.write(t, d), es.write(t, e)

    arrays = [tf.TensorArray(z.dtype, size=steps) for _ in range(3)]
    _, h, c, hs, ds, es = tf.while_loop(
        lambda t, *_: t < steps, step, [tf.constant(0), h0, c0, *arrays]
    )
    return hs.stack(), ds.stack(), es.stack(), h, c


def _backward_loop(dhs, ds, es, recurrent_kernel, dh, dc):
    """Backpropagation through time: the pre-activation gradients ``dz``
    (time, batch, 4 * units) and the gradients of ``h0`` and ``c0``.

    ``dhs`` is the gradient of the outputs, ``dh`` and ``dc`` those of the
    final states; ``ds`` and ``es`` are the forward loop's factors. Each
    step is the state's product and a few multiply-adds::

        dh += dhs[t];  dc += dh * o * (1 - tanh(c)**2)
        dz = [dc, dc, dc, dh] * d[t];  dh = dz @ R.T;  dc = dc * f
    """
    steps = tf.shape(dhs)[0]
    recurrent_t = tf.transpose(recurrent_kernel)  # (4 * units, units)

    def step(t, dh, dc, dzs):
        dh = dhs[t] + dh
        d_h_c, f = tf.split(es[t], 2, axis=1)
        dc = dc + dh * d_h_c
        dz = tf.concat([dc, dc, dc, dh], axis=1) * ds[t]  # (batch, 4 * units)
        return t - 1, tf.matmul(dz, recurrent_t), dc * f, dzs.write(t, dz)

    dzs = tf.TensorArray(dhs.dtype, size=steps)
    _, dh, dc, dzs = tf.while_loop(lambda t, *_: t >= 0, step, [steps - 1, dh, dc, dzs])
    return dzs.stack(), dh, dc


def _compiled(loop, jit):
    # The loops are written as ``tf.while_loop``: nothing for AutoGraph to
    # convert (converting costs a fresh process about 0.3 s).
    return tf.function(loop, jit_compile=jit, reduce_retracing=True, autograph=False)


# The loops compiled by XLA, and as TensorFlow graphs (no compile time).
_LOOPS = {
    jit: (_compiled(_forward_loop, jit), _compiled(_backward_loop, jit))
    for jit in (True, False)
}


def _make_recurrence(jit):
    """The recurrence of an LSTM layer, with its hand-written gradient, its
    loops compiled by XLA (``jit``) or run as TensorFlow graphs."""
    forward_loop, backward_loop = _LOOPS[jit]

    @tf.custom_gradient
    def recurrence(z, recurrent_kernel, h0, c0):
        """The recurrence over the input projections ``z`` (time, batch,
        4 * units): the outputs (time, batch, units), final ``h`` and ``c``.
        """
        # The loops' inputs are cut from any gradient tape: their gradient
        # is the hand-written one, and a tape watching them would ask
        # TensorFlow for a differentiable variant of the loop (which XLA
        # cannot build).
        args = [tf.stop_gradient(a) for a in (z, recurrent_kernel, h0, c0)]
        hs, ds, es, h, c = forward_loop(*args)

        def grad(dhs, dh, dc):
            # Outputs that the loss does not use may arrive as None.
            dhs = tf.zeros_like(hs) if dhs is None else dhs
            dh = tf.zeros_like(h) if dh is None else dh
            dc = tf.zeros_like(c) if dc is None else dc
            dz, dh0, dc0 = backward_loop(
                *[tf.stop_gradient(a) for a in (dhs, ds, es)],
                args[1],
                *[tf.stop_gradient(a) for a in (dh, dc)],
            )
            # The recurrent kernel's gradient over all steps in one product:
            # the sum over t of h[t - 1].T @ dz[t], with h[-1] = h0.
            h_prev = tf.concat([h0[None], hs[:-1]], axis=0)  # (time, batch, units)
            units = tf.shape(h_prev)[2]
            d_recurrent = tf.matmul(
                tf.reshape(h_prev, [-1, units]),
                tf.reshape(dz, [-1, 4 * units]),
                transpose_a=True,
            )
            # The input's gradients (the layer below, the embedding) wait for
            # this product: run side by side, the big products of a step
            # share the cores and take longer together than one after the
            # other (8.4 ms and 3.0 ms alone, 12.3 ms side by side).
            with tf.control_dependencies([d_recurrent]):
                dz = tf.identity(dz)
            return dz, d_recurrent, dh0, dc0

        return (hs, h, c), grad

    return recurrence


_RECURRENCE = {jit: _make_recurrence(jit) for jit in (True, False)}


def _matmul_steps(x, w):
    """``x`` (time, batch, n) @ ``w`` (n, m) -> (time, batch, m), as one
    product over all time steps."""
    shape = tf.shape(x)
    flat = tf.reshape(x, [-1, shape[2]])
    return tf.reshape(tf.matmul(flat, w), [shape[0], shape[1], -1])


def lstm_time_major(x, kernel, recurrent_kernel, bias, h0, c0, *, jit=True):
    """One LSTM layer over a whole sequence, time-major.

    The input projection of all steps is one matrix product, and so are its
    gradients (TensorFlow's own: ``x.T @ dz`` and ``dz @ kernel.T``); the
    recurrence has a hand-written gradient, and its two loops are compiled
    by XLA with ``jit`` (TensorFlow graphs without).

    Parameters
    ----------
    x : tensor (time, batch, input)
    kernel : tensor (input, 4 * units)
    recurrent_kernel : tensor (units, 4 * units)
    bias : tensor (4 * units,)
    h0, c0 : tensors (batch, units)

    Returns
    -------
    outputs : tensor (time, batch, units)
    h, c : tensors (batch, units), the final states.
    """
    z = _matmul_steps(x, kernel) + bias  # (time, batch, 4 * units)
    return _RECURRENCE[jit](z, recurrent_kernel, h0, c0)


def _sum_per_id(values, ids, n_ids):
    """Rows of ``values`` (tokens, width) summed per id: (n_ids, width)."""
    return tf.math.unsorted_segment_sum(values, ids, n_ids)


# XLA sums the rows per id about 2.5x faster than TensorFlow's kernel on CPU
# (6,400 x 1,024 into 106 rows: 3.1 ms against 8.5 ms); the number of ids is
# static, so each vocabulary size compiles once.
_SUM_PER_ID = {
    True: tf.function(_sum_per_id, jit_compile=True, autograph=False),
    False: _sum_per_id,
}


def _make_embedded_projection(jit):
    """``embeddings[ids] @ kernel + bias`` with its gradient; its sum of
    gradient rows per id compiled by XLA with ``jit``."""
    sum_per_id = _SUM_PER_ID[jit]

    @tf.custom_gradient
    def embedded_projection(ids, embeddings, kernel, bias):
        """``embeddings[ids] @ kernel + bias`` as ``(embeddings @ kernel +
        bias)[ids]``: (time, batch, 4 * units) from ``ids`` (time, batch).

        The gradient of ``embeddings`` is what Keras' embedding layer gives:
        one row per token (an ``IndexedSlices``, which Keras' optimizers
        treat in their own way, so training follows Keras' path). The
        kernel's and the bias' gradients go through the sum of ``dz`` per id.
        """
        table = tf.matmul(embeddings, kernel) + bias  # (vocab, 4 * units)

        def grad(dz):
            flat_ids = tf.reshape(ids, [-1])
            flat_dz = tf.reshape(dz, [-1, tf.shape(dz)[2]])  # (tokens, 4 * units)
            d_table = sum_per_id(flat_dz, flat_ids, int(embeddings.shape[0]))
            d_embeddings = tf.IndexedSlices(
                tf.matmul(flat_dz, kernel, transpose_b=True),  # (tokens, embedding)
                flat_ids,
                tf.shape(embeddings, out_type=tf.int64),
            )
            d_kernel = tf.matmul(embeddings, d_table, transpose_a=True)
            return None, d_embeddings, d_kernel, tf.reduce_sum(d_table, axis=0)

        return tf.gather(table, ids), grad

    return embedded_projection


_EMBEDDED_PROJECTION = {jit: _make_embedded_projection(jit) for jit in (True, False)}


def embedded_lstm_time_major(
    ids, embeddings, kernel, recurrent_kernel, bias, h0, c0, *, jit=True
):
    """An embedding followed by an LSTM layer, for a small vocabulary.

    ``embeddings[ids] @ kernel`` is ``(embeddings @ kernel)[ids]``: with
    fewer ids in the vocabulary than tokens in a batch, the input projection
    is a product over the vocabulary and a gather. ``ids`` is (time, batch);
    the rest as in :func:`lstm_time_major`.
    """
    z = _EMBEDDED_PROJECTION[jit](ids, embeddings, kernel, bias)
    return _RECURRENCE[jit](z, recurrent_kernel, h0, c0)


def layer_weights(layer):
    """``kernel``, ``recurrent_kernel`` and ``bias`` of a Keras LSTM layer,
    as tensors read from its variables."""
    cell = layer.cell
    return (
        tf.convert_to_tensor(cell.kernel),
        tf.convert_to_tensor(cell.recurrent_kernel),
        tf.convert_to_tensor(cell.bias),
    )


def fused_refusal(lstms):
    """Why the fused path cannot train these Keras LSTM layers, or None.

    It computes float32 LSTMs with tanh and sigmoid activations, a bias and
    no dropout inside the layer, running forwards: the layers sklstm builds
    unless ``recurrent_dropout`` or a mixed precision policy is asked for.
    """
    for layer in lstms:
        cell = layer.cell
        if cell.recurrent_dropout or cell.dropout:
            return (
                f"layer {layer.name!r} has recurrent_dropout="
                f"{cell.recurrent_dropout} and dropout={cell.dropout} inside the "
                "layer (the fused path has no dropout inside the recurrence)"
            )
        if layer.compute_dtype != "float32":
            return (
                f"layer {layer.name!r} computes in {layer.compute_dtype} (dtype "
                f"policy {layer.dtype_policy.name!r}); the fused path computes "
                "in float32"
            )
        if (
            cell.activation is not keras.activations.tanh
            or cell.recurrent_activation is not keras.activations.sigmoid
            or not cell.use_bias
            or layer.go_backwards
        ):
            return (
                f"layer {layer.name!r} is not a forward LSTM with tanh and "
                "sigmoid activations and a bias"
            )
    return None


def on_gpu(strategy=None):
    """Whether training runs on a GPU: the strategy's devices, or without a
    strategy any visible GPU (where Keras places the model)."""
    if strategy is not None:
        return any("GPU" in d.upper() for d in strategy.extended.worker_devices)
    return bool(tf.config.list_logical_devices("GPU"))


# XLA compiles each loop in about half a second per shape (on a 2-core
# x86 machine), and its loops then train the default char model about 1.3x
# faster than the same loops as TensorFlow graphs: a fit planned to do less
# work than this (multiply-adds of the LSTM layers' forward passes) runs the
# graphs, unless the shape was compiled before in the process.
XLA_MIN_MACS = 1e11
_compiled_shapes = set()


def use_xla(shape, sizes, planned_steps, max_time=None):
    """Whether a fit should run the loops compiled by XLA.

    ``shape`` is ``(rows, time)`` of a batch, ``sizes`` the ``(input,
    units)`` of every LSTM layer, ``planned_steps`` the training steps the
    fit plans (None: until ``max_time``).
    """
    key = (tuple(shape), tuple(sizes))
    if key in _compiled_shapes:
        return True
    rows, time = shape
    per_step = rows * time * sum(4 * units * (n_in + units) for n_in, units in sizes)
    steps = planned_steps if planned_steps is not None else float("inf")
    if max_time is not None:
        # Tokens a second at this machine class's speed bound the steps.
        steps = min(steps, max_time * 3.5e10 / max(per_step, 1))
    if per_step * steps < XLA_MIN_MACS:
        return False
    _compiled_shapes.add(key)
    return True
