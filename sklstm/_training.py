"""Training the network: carried LSTM states, a time budget, a schedule.

:class:`Trainer` wraps the estimator's network for ``fit``. With
``stateful=True`` it keeps each batch row's final LSTM states and starts the
next batch from them (the data come from :func:`sklstm._data.stateful_dataset`,
in which every row continues the text of the previous batch's row): this is
truncated backpropagation through time as in char-rnn, so training sees the
long contexts that generation and scoring use. Gradients stop at window
boundaries. The wrapper owns no weights of its own besides the states; the
network's layers, and so its cuDNN eligibility, are unchanged.

Under a ``tf.distribute`` strategy the trainer is created in the strategy's
scope, and Keras splits each batch between the replicas. Keras 3's own
``fit`` fails under ``MultiWorkerMirroredStrategy`` across machines
(keras-team/keras#20585); the trainer works around both places where it
does (see ``_maybe_symbolic_build`` and ``_logs_for_reduction``).
"""

from __future__ import annotations

import math
import sys
import time

import keras
import tensorflow as tf

from sklstm._fused_loss import linear_cross_entropy
from sklstm._model import Network
from sklstm._regularisers import AUTO_RATES, dropped_weights

try:  # how Keras's own train_step scales the loss under tf.distribute
    from keras.src.losses.loss import (
        scale_loss_for_distribution,
        unscale_loss_for_distribution,
    )
except ImportError:  # pragma: no cover - a Keras that moved them

    def scale_loss_for_distribution(value):
        return value / tf.distribute.get_strategy().num_replicas_in_sync

    def unscale_loss_for_distribution(value):
        return value * tf.distribute.get_strategy().num_replicas_in_sync


class Trainer(keras.Model):
    """The network, trained with its LSTM states carried across batches.

    Parameters
    ----------
    network : keras.Model
        The model built by :func:`sklstm._model.build_model`.
    rows : int or None
        Batch rows of the stateful dataset; None trains every window from
        zero states (the network's own forward pass).
    fused : bool
        Run the LSTM layers through :mod:`sklstm._lstm_cpu` (time-major,
        hand-written backward pass) instead of Keras' own layer call, in
        training and validation, and the output layer with its loss through
        :func:`sklstm._fused_loss.linear_cross_entropy`. See
        :func:`sklstm._lstm_cpu.fused_refusal` for when it can.
    jit : bool
        Compile the fused path's loops with XLA.
    shape : (int, int) or None
        ``(rows, time)`` of a full training batch (rows per replica). The
        fused path pads smaller batches (an epoch's last one, validation's)
        to it, so that the loops compiled by XLA serve every batch of the
        run: XLA compiles once per shape.
    weight_dropout, embedding_dropout : float
        Rates of AWD-LSTM's weight dropout on the recurrent kernels and
        embedding dropout on the embedding matrix's rows, drawn once per
        training batch (:mod:`sklstm._regularisers`), on either path.
    dropout : float
        Rate of dropout on each LSTM layer's outputs (``dropout="auto"``: the
        network has no Dropout layers), drawn for every batch.
    adaptive : tuple of str
        The rates that may change between epochs (:meth:`set_rates`), of
        ``"weight"`` (weight dropout) and ``"outputs"`` (``dropout``): they
        are read from variables.
    seed : int
        Seed of those masks.
    """

    def __init__(
        self,
        network,
        rows=None,
        fused=False,
        jit=True,
        shape=None,
        weight_dropout=0.0,
        embedding_dropout=0.0,
        seed=0,
        dropout=0.0,
        adaptive=(),
    ):
        super().__init__(name="trainer")
        self.network = network
        self.rows = rows
        self.fused = bool(fused)
        self.jit = bool(jit)
        self.shape = shape
        # The rates the training step is traced with.
        self.rates = {
            "weight": float(weight_dropout),
            "embedding": float(embedding_dropout),
            "outputs": float(dropout),
        }
        # Variables of the adaptive rates, read at every batch.
        self.rate_variables = {
            name: self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(self.rates[name]),
                trainable=False,
                name=f"{name}_dropout_rate",
            )
            for name in adaptive
        }
        self._adaptive_rates = {name: self.rates[name] for name in adaptive}
        # One mask per batch, from the trainer's own seeded generator.
        self.mask_seed = None
        if any(self.rates.values()) or adaptive:
            self.mask_seed = keras.random.SeedGenerator(int(seed), name="mask_seed")
        self._net = Network(network)
        # The first layer projects the embedding table, not every token's
        # embedding, when the vocabulary is under half a batch's tokens.
        self.table = shape is not None and 2 * self._net.vocab_size <= (
            shape[0] * shape[1]
        )
        if self.fused:  # hits counted by the fused loss, not from logits
            self._accuracy = keras.metrics.Mean(name="accuracy")
        self.states = []
        if rows is not None:
            for k, units in enumerate(self._net.units):
                for part in ("h", "c"):
                    self.states.append(
                        self.add_weight(
                            shape=(rows, units),
                            initializer="zeros",
                            trainable=False,
                            name=f"state_{part}{k}",
                        )
                    )

    def call(self, ids, training=False):
        return self.network(ids, training=training)

    @property
    def metrics(self):
        """The loss and accuracy trackers (the fused path's own accuracy:
        the compiled metric would need the logits)."""
        if not self.fused:
            return super().metrics
        trackers = [getattr(self, "_loss_tracker", None), self._accuracy]
        return [tracker for tracker in trackers if tracker is not None]

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a tf.distribute strategy, Keras learns the input shapes by
        # reducing a first batch over the replicas, which
        # MultiWorkerMirroredStrategy refuses ("Attempt to convert a value
        # (PerReplica...)", keras-team/keras#20585). The batches' structure
        # is known: (ids, targets), both int32 (batch, time).
        if iterator is not None and self.rows is None:
            ids = tf.TensorSpec([None, None], tf.int32)
            iterator, data_batch = None, (ids, ids)
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def get_layer(self, name=None, index=None):
        """The network's layer, so that callbacks find ``"logits"`` and the
        rest by name."""
        return self.network.get_layer(name, index)

    # Callbacks such as keras.callbacks.ModelCheckpoint save ``self.model``:
    # they save the network (the estimator's ``model_``), which Keras can
    # load back, not this wrapper.
    def save(self, filepath, *args, **kwargs):
        """Save the network, as ``keras.Model.save`` does."""
        return self.network.save(filepath, *args, **kwargs)

    def save_weights(self, filepath, *args, **kwargs):
        """Save the network's weights, as ``keras.Model.save_weights`` does."""
        return self.network.save_weights(filepath, *args, **kwargs)

    def load_weights(self, filepath, *args, **kwargs):
        """Load weights saved by :meth:`save_weights` into the network."""
        return self.network.load_weights(filepath, *args, **kwargs)

    def set_rates(self, **rates):
        """Train the next batches at these adaptive ``rates`` (by name, as
        ``adaptive``). A training step traced without a regulariser while
        its rate was 0 is traced anew with it."""
        retrace = False
        for name, rate in rates.items():
            rate = float(rate)
            self.rate_variables[name].assign(rate)
            self._adaptive_rates[name] = rate
            # ``rates`` are those the step was traced with: once it drops,
            # it reads the rate from the variable, 0 included.
            if rate > 0 and not self.rates[name]:
                self.rates[name] = rate
                retrace = True
        if retrace:
            self.make_train_function(force=True)

    def current_rates(self):
        """The adaptive rates, by name, as the next batch reads them."""
        return dict(self._adaptive_rates)

    def _dropped(self, training):
        """This batch's dropped weights (none outside training)."""
        if not training or not any(self.rates.values()):
            return None
        rates = {
            name: self.rate_variables.get(name, rate) if rate else 0.0
            for name, rate in self.rates.items()
        }
        return dropped_weights(
            self._net,
            rates["weight"],
            rates["embedding"],
            self.mask_seed,
            outputs=rates["outputs"],
        )

    def _forward(self, ids, keep, training):
        """Logits from the carried states (rows with ``keep`` 0 from zeros;
        ``keep`` None: every row from zeros), and the new states."""
        if keep is None:
            states = self._net.zero_states(tf.shape(ids)[0])
        else:
            states = [s * keep[:, None] for s in self.states]
        x, new_states = self._net.features(
            ids, states, training=training, dropped=self._dropped(training)
        )
        return self._net.head(x), new_states

    def _fused_forward(self, ids, keep, training):
        """Time-major features (time, batch, features) of the fused path
        before the output layer, from the carried states (``keep`` as in
        :meth:`_forward`), and the new states."""
        batch, time = tf.shape(ids)[0], tf.shape(ids)[1]
        if keep is None:
            if self.shape is not None:  # padded with id 0, cut after the LSTMs
                rows, steps = self.shape
                more_rows = tf.maximum(rows - batch, 0)
                ids = tf.pad(ids, [[0, more_rows], [0, tf.maximum(steps - time, 0)]])
            states = self._net.zero_states(tf.shape(ids)[0])
        else:
            states = [s * keep[:, None] for s in self.states]
        return self._net.fused_features(
            tf.transpose(ids),
            states,
            training=training,
            jit=self.jit,
            table=self.table,
            unpadded=(time, batch),
            dropped=self._dropped(training),
        )

    def train_step(self, data):
        if self.rows is None and not self.fused and not any(self.rates.values()):
            return self._logs_for_reduction(super().train_step(data))
        if self.rows is None:
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            keep = None
        else:
            (x, keep), y = data
        # As Keras's own train_step, with the states carried and the weights
        # dropped.
        with tf.GradientTape() as tape:
            if self.fused:
                features, new_states = self._fused_forward(x, keep, training=True)
                loss, hits = self._fused_loss(y, features, training=True)
            else:
                logits, new_states = self._forward(x, keep, training=True)
                loss = self._compute_loss(x=x, y=y, y_pred=logits, training=True)
            self._loss_tracker.update_state(
                unscale_loss_for_distribution(loss),
                sample_weight=tf.shape(x)[0],
            )
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_weights
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        if self.rows is not None:
            for state, value in zip(self.states, new_states, strict=True):
                state.assign(tf.stop_gradient(value))
        if self.fused:
            return self._fused_logs(hits)
        return self._logs_for_reduction(self.compute_metrics(x, y, logits))

    def test_step(self, data):
        if not self.fused:
            return self._logs_for_reduction(super().test_step(data))
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        features, _ = self._fused_forward(x, None, training=False)
        loss, hits = self._fused_loss(y, features, training=False)
        self._loss_tracker.update_state(
            unscale_loss_for_distribution(loss), sample_weight=tf.shape(x)[0]
        )
        return self._fused_logs(hits)

    def _fused_loss(self, y, features, training):
        """The loss of Keras' ``compute_loss`` (mean cross-entropy, scaled
        for the replicas, plus the regularisers' losses) from time-major
        features, and each position's hit, without the logits of the whole
        batch (:func:`sklstm._fused_loss.linear_cross_entropy`)."""
        head = self._net.head
        loss, hits = linear_cross_entropy(
            tf.reshape(features, [-1, tf.shape(features)[-1]]),
            head.kernel,
            head.bias,
            tf.reshape(tf.transpose(y), [-1]),  # time-major, as the features
            training=training,
            jit=self.jit,
        )
        loss = scale_loss_for_distribution(loss)
        for extra in self.losses:
            loss += self._aggregate_additional_loss(extra)
        return loss, hits

    def _fused_logs(self, hits):
        """The step's logs. Every position is one sample of the accuracy, so
        that batches weigh by their tokens as in Keras' own step."""
        self._accuracy.update_state(hits)
        return self._logs_for_reduction(self.get_metrics_result())

    def _logs_for_reduction(self, logs):
        """Step logs as Keras can average them over the replicas.

        Across machines (MultiWorkerMirroredStrategy with a cluster), Keras
        averages each log with ``strategy.reduce("MEAN", value, axis=0)``,
        which fails on scalars (keras-team/keras#20585): give them that axis,
        along which the reduction averages over the replicas as intended.
        """
        if not _across_machines(self.distribute_strategy):
            return logs
        return {key: tf.reshape(value, [1]) for key, value in logs.items()}


def _across_machines(strategy):
    """Whether ``strategy`` is a MultiWorkerMirroredStrategy over a cluster."""
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


class Budget(keras.callbacks.Callback):
    """Learning-rate schedule over the run, and a time limit.

    Progress ``p`` is the larger of the fraction of planned steps done and
    the fraction of ``max_time`` spent. ``"cosine"`` sets the learning rate
    to ``base * (1 + cos(pi * p)) / 2`` before every batch, so it falls
    smoothly to zero whichever limit ends training; ``"constant"`` leaves it.
    Training stops after the first batch that ends past ``max_time``.
    """

    def __init__(self, base_lr, schedule, total_steps, max_time):
        super().__init__()
        self.base_lr = float(base_lr)
        self.schedule = schedule
        self.total_steps = total_steps
        self.max_time = max_time
        self.timed_out = False
        self.elapsed = 0.0

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()
        self.step = 0

    def progress(self):
        p = 0.0
        if self.total_steps:
            p = self.step / self.total_steps
        if self.max_time is not None:
            p = max(p, (time.monotonic() - self.start) / self.max_time)
        return min(p, 1.0)

    def on_train_batch_begin(self, batch, logs=None):
        if self.schedule == "cosine":
            lr = self.base_lr * 0.5 * (1.0 + math.cos(math.pi * self.progress()))
            self.model.optimizer.learning_rate.assign(lr)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.elapsed = time.monotonic() - self.start
        if self.max_time is not None and self.elapsed >= self.max_time:
            self.timed_out = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.elapsed = time.monotonic() - self.start


class RatesByPasses(keras.callbacks.Callback):
    """``"auto"`` rates (``weight_dropout``, ``dropout``) in a fit that
    ``max_time`` limits.

    After each epoch, the passes over the text the fit will make (the
    epochs done, plus those the time left allows at the pace so far, at
    most ``epochs``) set the next epochs' adaptive rates of the trainer
    (:data:`sklstm._regularisers.AUTO_RATES`). ``budget`` is the run's
    :class:`Budget`, whose clock it reads; ``rates`` are the rates the last
    epoch trained with, by name.
    """

    def __init__(self, budget, epochs=None):
        super().__init__()
        self.budget, self.epochs = budget, epochs
        self.done = 0
        self.rates = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.rates = self.model.current_rates()

    def on_epoch_end(self, epoch, logs=None):
        self.done += 1
        elapsed = time.monotonic() - self.budget.start
        if self.model.stop_training or elapsed <= 0:
            return
        left = max(self.budget.max_time - elapsed, 0.0)
        passes = self.done + left * self.done / elapsed
        if self.epochs is not None:
            passes = min(passes, self.epochs)
        self.model.set_rates(
            **{name: AUTO_RATES[name](passes) for name in self.model.rate_variables}
        )


def clock(seconds):
    """``65`` -> ``"1:05"``, ``3725`` -> ``"1:02:05"``."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TimeProgress(keras.callbacks.Callback):
    """Progress of a run that only ``max_time`` limits, against the budget.

    Keras would count epochs out of the huge number asked for; this prints
    ``epoch 2, 1:05 of 5:00 - 12/50 - loss: 1.2345`` instead: on one line
    updated after each batch with ``verbose=1`` (a terminal), and one line
    per epoch with ``verbose=2``. ``budget`` is the run's :class:`Budget`,
    whose clock it reads.
    """

    # Seconds between updates of the line with verbose=1.
    INTERVAL = 0.1

    def __init__(self, budget, verbose, steps, stream=None):
        super().__init__()
        self.budget, self.verbose, self.steps = budget, verbose, steps
        self.stream = stream
        self.width = 0
        self.shown = 0.0

    def _write(self, text):
        stream = sys.stdout if self.stream is None else self.stream
        stream.write(text)
        stream.flush()

    def _line(self, logs):
        spent = time.monotonic() - self.budget.start
        parts = [
            f"epoch {self.epoch + 1}, {clock(spent)} of {clock(self.budget.max_time)}",
            f"{self.done}/{self.steps}",
        ]
        parts += [f"{key}: {float(value):.4f}" for key, value in (logs or {}).items()]
        return " - ".join(parts)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.done = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        now = time.monotonic()
        if self.verbose == 1 and now - self.shown >= self.INTERVAL:
            self.shown = now
            line = self._line(logs)
            self._write("\r" + line.ljust(self.width))
            self.width = len(line)

    def on_epoch_end(self, epoch, logs=None):
        line = self._line(logs)
        start = "\r" if self.verbose == 1 else ""
        self._write(start + line.ljust(self.width if start else 0) + "\n")
        self.width = 0
