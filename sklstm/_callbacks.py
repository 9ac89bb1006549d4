"""Keras callbacks used inside ``fit``."""

from __future__ import annotations

import math

import keras


class BestWeights(keras.callbacks.Callback):
    """Keep the weights of the best epoch; optionally stop when it is old.

    Unlike ``keras.callbacks.EarlyStopping``, the best weights are restored
    at the end of training whether or not training stopped early.

    Parameters
    ----------
    monitor : str
        Loss to minimise, such as ``"val_loss"``.
    patience : int or None
        Stop after this many epochs without improvement; None never stops.
    """

    def __init__(self, monitor, patience):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.best = math.inf
        self.best_epoch = -1
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        if value < self.best:
            self.best, self.best_epoch = value, epoch
            self.best_weights = self.model.get_weights()
        elif self.patience is not None and epoch - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.patience is not None and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
