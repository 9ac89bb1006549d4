"""Sharing GPUs between processes: memory growth instead of TensorFlow's grab."""

from __future__ import annotations

import os
import threading

import tensorflow as tf

# TensorFlow reads this variable itself when it initialises the GPUs; when
# the user has set it (to anything, "false" included) the choice is theirs.
ALLOW_GROWTH_ENV = "TF_FORCE_GPU_ALLOW_GROWTH"

_lock = threading.Lock()
_done = False


def share_gpus() -> None:
    """Let several processes train on one GPU: turn on memory growth.

    By default TensorFlow reserves almost all the memory of every GPU in the
    first process that touches it, so a second process on the same GPU (a
    dask worker, a joblib process of a search with ``n_jobs > 1``) fails
    with an out-of-memory error. With memory growth each process takes only
    the memory it uses.

    Memory growth is turned on for every physical GPU unless

    - the environment sets ``TF_FORCE_GPU_ALLOW_GROWTH`` (``true`` or
      ``false``: TensorFlow applies it, and it is the user's choice);
    - a GPU has a logical device configuration (a memory limit or virtual
      GPUs set with ``tf.config.set_logical_device_configuration``);
    - TensorFlow has already initialised its devices, when memory growth can
      no longer change;
    - there is no GPU.

    Only the first call does anything; later calls return at once. Call it
    before TensorFlow builds a model or places a tensor.
    """
    global _done
    if _done:  # read without the lock: the cheap path of every later call
        return
    with _lock:
        if _done:
            return
        _done = True
        if os.environ.get(ALLOW_GROWTH_ENV):
            return
        gpus = tf.config.list_physical_devices("GPU")
        if any(tf.config.get_logical_device_configuration(gpu) for gpu in gpus):
            return
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                # "Physical devices cannot be modified after being
                # initialized": TensorFlow already placed something, and
                # initialises all GPUs at once, so none can change.
                return
