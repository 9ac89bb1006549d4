"""Keras callbacks for :class:`~sklstm.LSTMTextGenerator`.

Pass callbacks to ``LSTMTextGenerator(callbacks=[...])`` as classes or as
instances: each ``fit`` works on fresh copies, so the objects you passed
never hold a trained model (and ``clone`` stays cheap).
"""

from __future__ import annotations

import copy
import math
import sys

import keras
import numpy as np

__all__ = ["EstimatorCallback", "SampleText"]


class EstimatorCallback(keras.callbacks.Callback):
    """A Keras callback that can also reach the estimator being fitted.

    ``fit`` calls :meth:`set_estimator` before training, so ``self.estimator``
    is the :class:`~sklstm.LSTMTextGenerator` (with ``sequencer_`` and the
    compiled generation engine) while ``self.model`` is its Keras network.
    Subclass it and override the Keras hooks (``on_epoch_end`` and so on).

    Attributes
    ----------
    estimator : LSTMTextGenerator or None
        The estimator being fitted; None before ``fit`` sets it.

    Examples
    --------
    A callback that reports the training loss in bits per token:

    >>> import math
    >>> from sklstm import LSTMTextGenerator
    >>> from sklstm.callbacks import EstimatorCallback
    >>> class Bits(EstimatorCallback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         level = self.estimator.sequencer_.level
    ...         bits = logs["loss"] / math.log(2)
    ...         print(f"epoch {epoch + 1}: {bits:.1f} bits per {level}")
    >>> docs = ["the cat sat on the mat. " * 10, "the dog sat on the log. " * 10]
    >>> model = LSTMTextGenerator(units=8, embedding_dim=4, sequence_length=10,
    ...                           epochs=2, validation_fraction=0, random_state=0,
    ...                           callbacks=[Bits])
    >>> _ = model.fit(docs)
    epoch 1: ... bits per char
    epoch 2: ... bits per char
    """

    estimator = None

    def set_estimator(self, estimator):
        """Give the callback the estimator it trains (``fit`` calls this)."""
        self.estimator = estimator


class SampleText(EstimatorCallback):
    """Print generated text every few epochs, to watch a model learn.

    Parameters
    ----------
    every : int, default=1
        Print after every ``every`` epochs.
    prompt : str, default=""
        Prompt to continue; the empty prompt starts a new document.
    max_new_tokens : int, default=200
        Length of each sample.
    temperature : float, default=0.8
        Sampling temperature.
    random_state : int, default=0
        Seed of each sample, so samples differ only as the model learns.
    file : file-like or None, default=None
        Where to print; None is standard output.

    Examples
    --------
    >>> from sklstm import LSTMTextGenerator
    >>> from sklstm.callbacks import SampleText
    >>> docs = ["the cat sat on the mat. " * 10, "the dog sat on the log. " * 10]
    >>> model = LSTMTextGenerator(
    ...     units=8, embedding_dim=4, sequence_length=10, epochs=2,
    ...     validation_fraction=0, random_state=0,
    ...     callbacks=[SampleText(every=2, prompt="the ", max_new_tokens=20)],
    ... )
    >>> _ = model.fit(docs)
    <BLANKLINE>
    [epoch 2] the ...
    """

    def __init__(
        self,
        every=1,
        prompt="",
        max_new_tokens=200,
        temperature=0.8,
        random_state=0,
        file=None,
    ):
        super().__init__()
        self.every = every
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.random_state = random_state
        self.file = file

    def __deepcopy__(self, memo):
        # Copies made for each fit print to the same file, not to a copy.
        twin = type(self).__new__(type(self))
        memo[id(self)] = twin
        for key, value in self.__dict__.items():
            setattr(twin, key, value if key == "file" else copy.deepcopy(value, memo))
        return twin

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or self.estimator is None:
            return
        text = self.estimator.generate(
            self.prompt,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            random_state=self.random_state,
        )
        if not isinstance(text, str):  # a model fitted on ids
            text = " ".join(map(str, text))
        out = self.file if self.file is not None else sys.stdout
        print(f"\n[epoch {epoch + 1}] {self.prompt}{text}", file=out, flush=True)


class BestWeights(keras.callbacks.Callback):
    """Keep the weights of the best epoch; stop when it is old or on NaN.

    Unlike ``keras.callbacks.EarlyStopping``, the best weights are restored
    at the end of training whether or not training stopped early. It also
    records every epoch's logs (so they survive an interruption) and stops
    training when a batch loss is NaN or infinite, restoring the last good
    weights.

    Parameters
    ----------
    monitor : str
        Loss to minimise, such as ``"val_loss"``.
    patience : int or None
        Stop after this many epochs without improvement; None never stops
        for that reason (and keeps the last epoch's weights).
    """

    def __init__(self, monitor, patience):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.best = math.inf
        self.best_epoch = -1
        self.best_weights = None
        self.last_weights = None
        self.epoch_logs = []
        self.diverged_at = None  # epoch where the loss became NaN or infinite

    def on_train_begin(self, logs=None):
        self.last_weights = self.model.get_weights()  # good, if nothing else

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged_at = self._epoch
            self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged_at is not None:
            return  # this epoch's weights are not finite
        weights = self.model.get_weights()
        if not all(np.isfinite(w).all() for w in weights):
            self.diverged_at = epoch  # the last update broke the weights
            self.model.stop_training = True
            return
        logs = dict(logs or {})
        self.epoch_logs.append(logs)
        self.last_weights = weights
        value = logs.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        if value < self.best:
            self.best, self.best_epoch = value, epoch
            self.best_weights = self.last_weights
        elif self.patience is not None and epoch - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def restore(self, interrupted=False):
        """Put back the weights to keep: the best epoch's, or the last good.

        After an interruption or a divergence the weights in the model are
        those of an unfinished epoch, so something is always put back.
        """
        use_best = self.patience is not None or interrupted
        if use_best and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        elif (interrupted or self.diverged_at is not None) and self.last_weights:
            self.model.set_weights(self.last_weights)

    def on_train_end(self, logs=None):
        self.restore()
