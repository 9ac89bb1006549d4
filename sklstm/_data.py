"""Training windows over one id stream, without materialising them.

Documents are joined into a single int32 stream, each one preceded and the
last one followed by the end-of-document id::

    EOD d1[0] d1[1] ... EOD d2[0] ... EOD

A window of length ``L`` starting at ``s`` is ``stream[s : s + L]`` and its
targets are ``stream[s + 1 : s + L + 1]``: every position predicts its next
token. Windows are gathered batch by batch inside ``tf.data``; the only array
that scales with the corpus is the stream itself.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sklstm._tokens import EOD_ID


def join_documents(sequences):
    """Concatenate id sequences into one stream with end-of-document ids."""
    total = sum(len(s) for s in sequences) + len(sequences) + 1
    stream = np.empty(total, dtype=np.int32)
    pos = 0
    for seq in sequences:
        stream[pos] = EOD_ID
        stream[pos + 1 : pos + 1 + len(seq)] = seq
        pos += len(seq) + 1
    stream[pos] = EOD_ID
    return stream


def n_windows(stream_length, window, *, shuffle):
    """Windows per epoch.

    Shuffled epochs start at a random offset, so they count the windows that
    fit after the largest offset (the same every epoch); a stream with room
    for a single window keeps it, with a smaller range of offsets.
    """
    if shuffle:
        if stream_length <= window:
            return 0
        return max(1, (stream_length - window) // window)
    return max(0, (stream_length - 1) // window)


def _epoch_draw(seed, epoch, max_offset):
    """The stateless key of an epoch, and its start offset in [0, max_offset]."""
    key = tf.stack([tf.constant(seed, tf.int64), epoch])
    offset = tf.random.stateless_uniform(
        [], seed=key, minval=0, maxval=max_offset + 1, dtype=tf.int32
    )
    return key, offset


def window_dataset(stream, window, batch_size, *, seed, shuffle, first_epoch=0):
    """A ``tf.data.Dataset`` of ``(inputs, targets)`` batches, both (batch, window).

    With ``shuffle``, each epoch starts at a random offset in ``[0, window)``
    (so window boundaries move between epochs) and visits the windows in a
    random order; both are drawn from ``seed`` and the epoch number with
    stateless ops, so the same seed gives the same batches. Without it, one
    pass over the windows in order. The shuffled dataset repeats forever:
    pass ``steps_per_epoch`` to ``fit``. ``first_epoch`` numbers the first
    epoch, so that training continued later sees new orders.
    """
    stream = tf.constant(stream, dtype=tf.int32)
    count = n_windows(int(stream.shape[0]), window, shuffle=shuffle)
    span = tf.range(window + 1)
    # The last window, stream[offset + (count - 1) * window :][: window + 1],
    # must end inside the stream.
    max_offset = min(window - 1, int(stream.shape[0]) - 1 - count * window)

    def epoch(e):
        if shuffle:
            key, offset = _epoch_draw(seed, e, max_offset)
            order = tf.random.experimental.stateless_shuffle(
                tf.range(count), seed=key + 1
            )
        else:
            offset = tf.constant(0, tf.int32)
            order = tf.range(count)

        def gather(idx):
            starts = offset + idx * window  # (batch,)
            rows = tf.gather(stream, starts[:, None] + span[None, :])
            return rows[:, :-1], rows[:, 1:]  # (batch, window) each

        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).map(gather)

    if not shuffle:  # one pass, of known length
        return epoch(tf.constant(0, tf.int64)).prefetch(tf.data.AUTOTUNE)
    epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
    return epochs.flat_map(epoch).prefetch(tf.data.AUTOTUNE)


def stateful_layout(stream_length, window, batch_size):
    """Rows, steps per epoch and largest start offset of stateful batches.

    The stream (less a random offset) is cut into ``rows`` contiguous
    segments of ``steps * window`` tokens, one per batch row. Fewer rows than
    ``batch_size`` are used when the stream is too short for every row to
    hold a window.
    """
    if stream_length <= window:
        return 0, 0, 0
    rows = min(batch_size, max(1, (stream_length - window) // window))
    steps = (stream_length - 1) // rows // window
    max_offset = min(window - 1, stream_length - 1 - rows * steps * window)
    return rows, steps, max_offset


def stateful_dataset(
    stream, window, batch_size, *, seed, first_epoch=0, reset_rate=0.0
):
    """Batches in which each row continues the previous batch's row.

    For truncated backpropagation through time: row ``r`` of batch ``j + 1``
    is the text that follows row ``r`` of batch ``j``, so the LSTM states at
    the end of one batch are the right initial states for the next. Each
    epoch starts the segments at a new random offset. Yields
    ``((inputs, keep), targets)`` forever, inputs and targets of shape
    (rows, window); pass ``steps_per_epoch`` to ``fit``. ``keep`` (rows,) is
    0.0 where a row's carried states are to be reset to zero before the
    batch (with probability ``reset_rate``, and for every row at an epoch's
    first batch), else 1.0. Everything random is drawn statelessly from
    ``seed`` and the epoch number.
    """
    rows, steps, max_offset = stateful_layout(len(stream), window, batch_size)
    length = rows * steps * window
    stream = tf.constant(stream, dtype=tf.int32)

    def epoch(e):
        key, offset = _epoch_draw(seed, e, max_offset)
        x = tf.reshape(stream[offset : offset + length], [rows, steps * window])
        y = tf.reshape(stream[offset + 1 : offset + 1 + length], [rows, steps * window])
        draws = tf.random.stateless_uniform([steps, rows], seed=key + 1)
        keep = tf.cast(draws >= reset_rate, tf.float32)
        keep = tf.concat([tf.zeros([1, rows]), keep[1:]], axis=0)

        def batch(j):
            j = tf.cast(j, tf.int32)
            cols = slice(None), slice(j * window, (j + 1) * window)
            return (x[cols], keep[j]), y[cols]

        return tf.data.Dataset.range(steps).map(batch)

    epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
    return epochs.flat_map(epoch).prefetch(tf.data.AUTOTUNE)
