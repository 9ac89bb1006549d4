"""Building the Keras network and running it outside ``fit``.

The training network maps a window of ids to next-token logits at every
position::

    ids (batch, time) -> Embedding -> LSTM x n_layers -> [Dense relu] -> logits
                                                            (batch, time, vocab)

With tied weights the output layer reuses the embedding matrix ``E``
(vocab, embedding_dim), as in Press and Wolf (2017) and AWD-LSTM::

    features -> [projection to embedding_dim] -> x @ E.T * scale + bias

built from Keras' own layers: a ``ReversibleEmbedding`` named
``embedding``, called forwards on the ids and in reverse on the features, a
bias-free Dense ``projection`` where the features are not ``embedding_dim``
wide, and an ``EinsumDense`` ``logits`` layer holding a scale and a bias per
token (the scale starts at 1).

Scoring and generation reuse the same layers, carrying the LSTM states
across calls instead of starting each window from zeros.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sklstm._lstm_cpu import embedded_lstm_time_major, layer_weights, lstm_time_major
from sklstm._tokens import PAD_ID

if keras.backend.backend() != "tensorflow":  # pragma: no cover - environment
    raise ImportError(
        "sklstm needs the TensorFlow backend of Keras 3; KERAS_BACKEND is "
        f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before "
        "importing keras."
    )


def build_model(
    vocab_size,
    *,
    embedding_dim,
    units,
    dense_units,
    dropout,
    l2,
    seed,
    recurrent_dropout=0.0,
    dtype_policy="float32",
    tie_weights=False,
):
    """Return the training network, uncompiled.

    ``tie_weights`` makes the output layer share the embedding matrix (see
    the module's docstring).

    ``dtype_policy`` is a Keras policy name; under a mixed policy every layer
    computes in half precision except the output layer, whose logits stay
    float32, and all weights stay float32.

    Every initializer and dropout layer gets its own seed derived from
    ``seed``, so the same seed builds the same network without touching
    global random state.
    """
    seeds = iter(range(seed, seed + 4 * len(units) + 8))
    reg = keras.regularizers.L2(l2) if l2 else None

    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    embedding = _embedding(
        vocab_size, embedding_dim, next(seeds), dtype_policy, tie_weights
    )
    x = embedding(ids)  # (batch, time, embedding_dim)
    x = _lstm_stack(x, units, seeds, reg, dropout, recurrent_dropout, dtype_policy)
    if dense_units:
        x = keras.layers.Dense(
            dense_units,
            activation="relu",
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
            kernel_regularizer=reg,
            dtype=dtype_policy,
            name="dense",
        )(x)
    if tie_weights:
        logits = _tied_logits(x, embedding, next(seeds), reg, dtype_policy)
    else:
        logits = keras.layers.Dense(
            vocab_size,
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
            kernel_regularizer=reg,
            dtype="float32",  # logits and the loss in full precision
            name="logits",
        )(x)
    return keras.Model(ids, logits, name="lstm_language_model")


def _embedding(vocab_size, embedding_dim, seed, dtype_policy, tie_weights):
    """The ``embedding`` layer; reversible (read back in float32 by the
    output layer) when the weights are tied."""
    options = dict(
        embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=seed),
        dtype=dtype_policy,
        name="embedding",
    )
    if tie_weights:
        return keras.layers.ReversibleEmbedding(
            vocab_size, embedding_dim, reverse_dtype="float32", **options
        )
    return keras.layers.Embedding(vocab_size, embedding_dim, **options)


def _lstm_stack(x, units, seeds, reg, dropout, recurrent_dropout, dtype_policy):
    """``x`` through one LSTM layer per entry of ``units`` (each followed by
    dropout when ``dropout``), seeded in order from the iterator ``seeds``."""
    init = keras.initializers
    for k, n_units in enumerate(units):
        # Defaults kept cuDNN-eligible: tanh/sigmoid, no recurrent dropout.
        x, _, _ = keras.layers.LSTM(
            n_units,
            return_sequences=True,
            return_state=True,
            kernel_initializer=init.GlorotUniform(seed=next(seeds)),
            recurrent_initializer=init.Orthogonal(seed=next(seeds)),
            kernel_regularizer=reg,
            recurrent_dropout=recurrent_dropout,
            seed=next(seeds) if recurrent_dropout else None,
            dtype=dtype_policy,
            name=f"lstm_{k}",
        )(x)
        if dropout:
            x = keras.layers.Dropout(
                dropout, seed=next(seeds), dtype=dtype_policy, name=f"dropout_{k}"
            )(x)
    return x  # (batch, time, units[-1])


def _tied_logits(x, embedding, seed, reg, dtype_policy):
    """Logits of features ``x`` through the embedding matrix, transposed:
    ``projection(x) @ embeddings.T * scale + bias``, in float32."""
    if x.shape[-1] != embedding.output_dim:
        x = keras.layers.Dense(
            embedding.output_dim,
            use_bias=False,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            kernel_regularizer=reg,
            dtype=dtype_policy,
            name="projection",
        )(x)
    x = embedding(x, reverse=True)  # (batch, time, vocab), float32
    return keras.layers.EinsumDense(
        "...v,v->...v",
        output_shape=(embedding.input_dim,),
        bias_axes="v",
        kernel_initializer="ones",
        dtype="float32",
        name="logits",
    )(x)


class TiedHead:
    """The output layer of a network with tied weights, as the rest of
    sklstm reads an output layer: ``kernel`` (features, vocab), ``bias``
    (vocab,), ``units`` and a call from features to logits.

    ``kernel`` is the embedding matrix transposed, times the per-token
    scale: a tensor computed from the variables, so gradients through it
    reach the embedding matrix and the scale.
    """

    def __init__(self, embedding, logits):
        self.embedding = embedding
        self.logits = logits
        self.units = embedding.input_dim

    @property
    def kernel(self):
        embeddings = tf.convert_to_tensor(self.embedding.embeddings)
        scale = tf.convert_to_tensor(self.logits.kernel)
        return tf.transpose(embeddings) * scale  # (embedding_dim, vocab)

    @property
    def bias(self):
        return self.logits.bias

    def __call__(self, x):
        """Logits (..., vocab) of features (..., features), of any rank (the
        ``logits`` layer itself takes the rank it was built with)."""
        logits = self.embedding(x, reverse=True)  # (..., vocab), float32
        return logits * tf.convert_to_tensor(self.logits.kernel) + self.logits.bias


def call_with(layer, replacements, *args, **kwargs):
    """Call ``layer`` with the tensors of ``replacements``, a list of
    ``(variable, tensor)``, read in place of those variables.

    The layer runs unchanged (Keras' own LSTM, cuDNN on a GPU) on the
    replacement values: this is how a dropped copy of a weight trains, its
    gradient flowing back through the copy to the variable. Other variables
    the call updates (the seed of a ``recurrent_dropout`` mask) keep their
    updates.
    """
    replacements = [(v, t) for v, t in replacements if t is not None]
    if not replacements:
        return layer(*args, **kwargs)
    with keras.StatelessScope(state_mapping=replacements) as scope:
        out = layer(*args, **kwargs)
    replaced = {id(v) for v, _ in replacements}
    for variable in layer.variables:
        value = scope.get_current_value(variable)
        if id(variable) not in replaced and value is not None:
            variable.assign(value)
    return out


def _cut(x, time, batch):
    """``x[:time, :batch]``, passing ``x`` and its gradient through as they
    are when nothing is cut (every full batch): the gradient of a slice is
    a fresh padded copy of the whole tensor."""
    whole = tf.logical_and(
        tf.equal(tf.shape(x)[0], time), tf.equal(tf.shape(x)[1], batch)
    )
    return tf.cond(whole, lambda: tf.identity(x), lambda: x[:time, :batch])


def lstm_layers(model):
    """The LSTM layers of a network built by :func:`build_model`, in order."""
    return [layer for layer in model.layers if layer.name.startswith("lstm_")]


class Network:
    """The layers of a built model, and compiled functions that run them.

    The functions close over the layers' variables, so they see the current
    weights after further training without being rebuilt.
    """

    def __init__(self, model):
        self.model = model
        self.embedding = model.get_layer("embedding")
        self.lstms = lstm_layers(model)
        names = {layer.name for layer in model.layers}
        self.dropouts = {
            layer.name: layer
            for layer in model.layers
            if layer.name.startswith("dropout_")
        }
        self.dense = model.get_layer("dense") if "dense" in names else None
        self.projection = (
            model.get_layer("projection") if "projection" in names else None
        )
        head = model.get_layer("logits")
        self.tied = isinstance(self.embedding, keras.layers.ReversibleEmbedding)
        self.head = TiedHead(self.embedding, head) if self.tied else head
        self.units = [layer.units for layer in self.lstms]
        self.vocab_size = self.head.units
        state_specs = [
            tf.TensorSpec([None, u], tf.float32) for u in self.units for _ in (0, 1)
        ]
        ids_spec = tf.TensorSpec([None, None], tf.int32)
        self.score_chunk = tf.function(
            self._score_chunk,
            input_signature=[ids_spec, ids_spec, state_specs],
            reduce_retracing=True,
            autograph=False,  # no control flow over tensors to convert
        )
        self.last_logits = tf.function(
            self._last_logits,
            input_signature=[ids_spec],
            reduce_retracing=True,
            autograph=False,
        )

    # -- building blocks --------------------------------------------------
    def zero_states(self, batch):
        """Flat list ``[h0, c0, h1, c1, ...]`` of zero states."""
        return [tf.zeros([batch, u]) for u in self.units for _ in (0, 1)]

    def features(self, ids, states, mask=None, training=False, dropped=None):
        """Run embedding, LSTMs (with their dropout when ``training``) and
        the optional Dense layer (and projection) over ``ids``.

        ``dropped`` maps layer names to dropped copies of weights that the
        layers read instead of their own (``"embedding"``: the embedding
        matrix, an LSTM's name: its recurrent kernel; see
        :func:`sklstm._regularisers.dropped_weights`); Keras' layers run
        unchanged on them (:func:`call_with`). ``dropped["outputs"]``, where
        present, drops elements of each LSTM layer's outputs.

        Returns the features before the output layer, shape
        (batch, time, features), and the final states, float32.
        """
        dropped = dropped or {}
        x = call_with(
            self.embedding,
            [(self.embedding.embeddings, dropped.get("embedding"))],
            ids,
        )  # (batch, time, embedding_dim)
        new_states = []
        for k, lstm in enumerate(self.lstms):
            initial = [
                tf.cast(s, lstm.compute_dtype) for s in states[2 * k : 2 * k + 2]
            ]
            x, h, c = call_with(
                lstm,
                [(lstm.cell.recurrent_kernel, dropped.get(lstm.name))],
                x,
                initial_state=initial,
                mask=mask,
                training=training,
            )
            new_states += [tf.cast(h, tf.float32), tf.cast(c, tf.float32)]
            x = self._dropout(k, x, training, dropped)
        return self._top(x), new_states

    def _dropout(self, k, x, training, dropped):
        """The outputs ``x`` of LSTM layer ``k`` through its Dropout layer
        (``dropout`` > 0) or the trainer's dropout (``dropout="auto"``:
        ``dropped["outputs"]``, see
        :func:`sklstm._regularisers.dropped_weights`)."""
        dropout = self.dropouts.get(f"dropout_{k}")
        if dropout is not None:
            x = dropout(x, training=training)
        outputs = dropped.get("outputs")
        return x if outputs is None else outputs(x)

    def _top(self, x):
        """The optional Dense layer and projection over the LSTM output."""
        if self.dense is not None:
            x = self.dense(x)
        if self.projection is not None:
            x = self.projection(x)
        return x

    def fused_logits(self, ids, states, **kwargs):
        """Logits (time, batch, vocab) of :meth:`fused_features`' features,
        and the final states."""
        x, new_states = self.fused_features(ids, states, **kwargs)
        return self.head(x), new_states

    def fused_features(
        self,
        ids,
        states,
        training=False,
        jit=True,
        table=False,
        unpadded=None,
        dropped=None,
    ):
        """Features before the output layer, and the final states, of a
        window with every LSTM layer run by
        :func:`sklstm._lstm_cpu.lstm_time_major`, time-major.

        ``ids`` is (time, batch) and so are the features' first axes: (time,
        batch, features). The same weights as :meth:`features`, and the same
        result (dropout draws its own masks); no mask, float32 only. With
        ``jit`` the recurrent loops are compiled by XLA. ``table`` projects
        the embedding table through the first LSTM's kernel instead of every
        token's embedding; it pays when the vocabulary is smaller than a
        batch's tokens. ``unpadded``
        (time, batch) cuts padding off after the LSTM layers: the features
        and states are those of the first ``time`` steps and ``batch`` rows.
        ``dropped`` as in :meth:`features`: the dropped embedding matrix is
        looked up (or projected, with ``table``) and the dropped recurrent
        kernels run the loops.
        """
        dropped = dropped or {}
        embeddings = dropped.get("embedding")
        new_states = []
        for k, lstm in enumerate(self.lstms):
            initial = states[2 * k : 2 * k + 2]
            kernel, recurrent_kernel, bias = layer_weights(lstm)
            weights = (kernel, dropped.get(lstm.name, recurrent_kernel), bias)
            if k == 0 and table:
                if embeddings is None:
                    embeddings = tf.convert_to_tensor(self.embedding.embeddings)
                x, h, c = embedded_lstm_time_major(
                    ids, embeddings, *weights, *initial, jit=jit
                )
            else:
                if k == 0:  # (time, batch, embedding_dim)
                    x = call_with(
                        self.embedding, [(self.embedding.embeddings, embeddings)], ids
                    )
                x, h, c = lstm_time_major(x, *weights, *initial, jit=jit)
            new_states += [h, c]
            if unpadded is not None and k == len(self.lstms) - 1:
                time, batch = unpadded
                x = _cut(x, time, batch)
                new_states = [s[:batch] for s in new_states]
            x = self._dropout(k, x, training, dropped)
        return self._top(x), new_states

    # -- compiled entry points ---------------------------------------------
    def _score_chunk(self, ids, targets, states):
        """Summed negative log-likelihood of ``targets`` per row.

        ``ids`` and ``targets`` are right-padded with ``PAD_ID``; padded
        targets do not count. Returns (nll per row, tokens per row, states).
        """
        x, states = self.features(ids, states)
        logits = self.head(x)  # (batch, time, vocab)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=targets, logits=logits
        )  # (batch, time)
        weight = tf.cast(tf.not_equal(targets, PAD_ID), nll.dtype)
        return (
            tf.reduce_sum(nll * weight, axis=1),
            tf.reduce_sum(weight, axis=1),
            states,
        )

    def _last_logits(self, ids):
        """Next-token logits after left-padded ``ids``, and the final states.

        Padding on the left is masked, so every row ends in the state its own
        tokens lead to.
        """
        mask = tf.not_equal(ids, PAD_ID)
        states = self.zero_states(tf.shape(ids)[0])
        x, states = self.features(ids, states, mask=mask)
        return self.head(x[:, -1, :]), states  # (batch, vocab)
