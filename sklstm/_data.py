"""Training windows over one id stream, without materialising them.

Documents are joined into a single int32 stream, each one preceded and the
last one followed by the end-of-document id::

    EOD d1[0] d1[1] ... EOD d2[0] ... EOD

A window of length ``L`` starting at ``s`` is ``stream[s : s + L]`` and its
targets are ``stream[s + 1 : s + L + 1]``: every position predicts its next
token. Windows are gathered batch by batch inside ``tf.data``; the only array
that scales with the corpus is the stream itself. A stream kept on disk (a
:class:`~sklstm._corpus.DiskStream`) is read with ``tf.data`` file readers
instead, so that memory holds a fixed buffer of windows, not the stream.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sklstm._corpus import DiskStream, id_dtype
from sklstm._tokens import EOD_ID

# Streams on disk: windows per block read in one go, blocks read at once (in
# random order), and windows shuffled in memory.
_BLOCK_WINDOWS = 256
_CYCLE_BLOCKS = 16
_SHUFFLE_WINDOWS = 8192
_READ_BUFFER = 1 << 16
# Batches prepared ahead of the training step.
_PREFETCH_BATCHES = 2
# tf.data converts the functions it maps with AutoGraph unless told not to;
# these hold no control flow over tensors (converting them costs a fresh
# process about 0.1 s).
_python_only = tf.autograph.experimental.do_not_convert


def join_documents(sequences, vocab_size=None):
    """Concatenate id sequences into one stream with end-of-document ids.

    With ``vocab_size``, the stream takes the smallest dtype that holds the
    ids (uint16 up to 65,536 ids: half of int32's memory); training casts
    each batch to int32.
    """
    total = sum(len(s) for s in sequences) + len(sequences) + 1
    dtype = np.int32 if vocab_size is None else id_dtype(vocab_size)
    stream = np.empty(total, dtype=dtype)
    pos = 0
    for seq in sequences:
        stream[pos] = EOD_ID
        stream[pos + 1 : pos + 1 + len(seq)] = seq
        pos += len(seq) + 1
    stream[pos] = EOD_ID
    return stream


def stream_tensor(stream):
    """An in-memory id stream as a host tensor, its dtype kept (the numpy
    array can then go: training holds one copy of the ids)."""
    with tf.device("/cpu:0"):
        return tf.convert_to_tensor(stream)


def count_documents(stream):
    """Documents in a joined stream (in memory or on disk)."""
    if isinstance(stream, DiskStream):
        return stream.n_docs
    ends = tf.reduce_sum(tf.cast(tf.equal(stream, EOD_ID), tf.int64))
    return int(ends) - 1


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


@_python_only
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
    if isinstance(stream, DiskStream):
        return _finish(
            _disk_window_dataset(
                stream, window, batch_size, seed=seed, shuffle=shuffle,
                first_epoch=first_epoch,
            )
        )  # fmt: skip
    stream = stream_tensor(stream)
    count = n_windows(int(stream.shape[0]), window, shuffle=shuffle)
    span = tf.range(window + 1)
    # The last window, stream[offset + (count - 1) * window :][: window + 1],
    # must end inside the stream.
    max_offset = min(window - 1, int(stream.shape[0]) - 1 - count * window)

    @_python_only
    def epoch(e):
        if shuffle:
            key, offset = _epoch_draw(seed, e, max_offset)
            order = tf.random.experimental.stateless_shuffle(
                tf.range(count), seed=key + 1
            )
        else:
            offset = tf.constant(0, tf.int32)
            order = tf.range(count)

        @_python_only
        def gather(idx):
            starts = offset + idx * window  # (batch,)
            rows = tf.gather(stream, starts[:, None] + span[None, :])
            rows = tf.cast(rows, tf.int32)
            return rows[:, :-1], rows[:, 1:]  # (batch, window) each

        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).map(gather)

    if not shuffle:  # one pass, of known length
        return _finish(epoch(tf.constant(0, tf.int64)))
    epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
    return _finish(epochs.flat_map(epoch))


def _finish(dataset):
    """Prefetch a fixed number of batches, with tf.data's autotuning off;
    under a tf.distribute strategy, shard by batch, not by file.

    The pipelines are a gather from memory or a few sequential file reads,
    so there is nothing to tune, and the autotuner costs time: destroying
    an iterator waits for the autotuning thread's current sleep, which
    added 20 to 45 s to the end of about half of the one-epoch fits timed
    on a 2-core machine (tf.data's optimisation loop backs off to long
    sleeps).
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    options.autotune.enabled = False
    return dataset.with_options(options).prefetch(_PREFETCH_BATCHES)


def _block(stream, start, count, window):
    """(inputs, targets) of ``count`` consecutive windows from token
    ``start`` on, read as one record of ``count * window + 1`` ids."""
    size = stream.dtype.itemsize
    header = tf.cast(start, tf.int64) * size
    length = tf.cast(count, tf.int64) * window + 1
    records = tf.data.FixedLengthRecordDataset(
        stream.path,
        record_bytes=length * size,
        header_bytes=header,
        footer_bytes=stream.n_tokens * size - header - length * size,
        buffer_size=_READ_BUFFER,
    )
    dtype = tf.as_dtype(stream.dtype)

    @_python_only
    def split(record):
        ids = tf.cast(tf.io.decode_raw(record, dtype), tf.int32)
        return tf.reshape(ids[:-1], [-1, window]), tf.reshape(ids[1:], [-1, window])

    return records.map(split).unbatch()


def _block_reader(stream, start, count, window):
    """A function of ``b`` that reads block ``b`` of the ``count`` windows
    from ``start``: windows ``b * _BLOCK_WINDOWS`` on, as a dataset."""

    @_python_only
    def block(b):
        first = tf.cast(b, tf.int64) * _BLOCK_WINDOWS
        size = tf.minimum(tf.constant(_BLOCK_WINDOWS, tf.int64), count - first)
        return _block(stream, start + first * window, size, window)

    return block


def _disk_window_dataset(stream, window, batch_size, *, seed, shuffle, first_epoch):
    """:func:`window_dataset` for a stream on disk.

    A shuffled epoch starts at a random offset, as in memory; its windows are
    read in blocks of consecutive windows, the blocks in a random order and
    several at a time, and the windows then pass through a shuffle buffer,
    so memory holds a fixed number of windows whatever the corpus size.
    """
    count = n_windows(stream.n_tokens, window, shuffle=shuffle)
    n_blocks = -(-count // _BLOCK_WINDOWS)
    if not shuffle:  # one pass; Keras needs to know its length
        block = _block_reader(stream, 0, count, window)
        windows = tf.data.Dataset.range(n_blocks).flat_map(block)
        batches = windows.batch(batch_size)
        n_batches = -(-count // batch_size)
        return batches.apply(tf.data.experimental.assert_cardinality(n_batches))
    max_offset = min(window - 1, stream.n_tokens - 1 - count * window)

    @_python_only
    def epoch(e):
        key, offset = _epoch_draw(seed, e, max_offset)
        start = tf.cast(offset, tf.int64)
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n_blocks, dtype=tf.int64), seed=key + 1
        )
        shuffle_seed = tf.random.stateless_uniform(
            [], seed=key + 2, minval=0, maxval=np.iinfo(np.int64).max, dtype=tf.int64
        )

        block = _block_reader(stream, start, count, window)
        windows = tf.data.Dataset.from_tensor_slices(order).interleave(
            block, cycle_length=_CYCLE_BLOCKS, block_length=1
        )
        return windows.shuffle(_SHUFFLE_WINDOWS, seed=shuffle_seed).batch(batch_size)

    epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
    return epochs.flat_map(epoch)


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
    if isinstance(stream, DiskStream):
        return _finish(
            _disk_stateful_dataset(
                stream, window, rows, steps, max_offset, seed=seed,
                first_epoch=first_epoch, reset_rate=reset_rate,
            )
        )  # fmt: skip
    stream = stream_tensor(stream)

    @_python_only
    def epoch(e):
        key, offset = _epoch_draw(seed, e, max_offset)
        x = tf.reshape(stream[offset : offset + length], [rows, steps * window])
        y = tf.reshape(stream[offset + 1 : offset + 1 + length], [rows, steps * window])
        draws = tf.random.stateless_uniform([steps, rows], seed=key + 1)
        keep = tf.cast(draws >= reset_rate, tf.float32)
        keep = tf.concat([tf.zeros([1, rows]), keep[1:]], axis=0)

        @_python_only
        def batch(j):
            j = tf.cast(j, tf.int32)
            cols = slice(None), slice(j * window, (j + 1) * window)
            return (tf.cast(x[cols], tf.int32), keep[j]), tf.cast(y[cols], tf.int32)

        return tf.data.Dataset.range(steps).map(batch)

    epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
    return _finish(epochs.flat_map(epoch))


def _disk_stateful_dataset(
    stream, window, rows, steps, max_offset, *, seed, first_epoch, reset_rate
):
    """:func:`stateful_dataset` for a stream on disk: one reader per row,
    holding one block of its windows at a time."""

    @_python_only
    def epoch(e):
        key, offset = _epoch_draw(seed, e, max_offset)
        start = tf.cast(offset, tf.int64)

        n_blocks = -(-steps // _BLOCK_WINDOWS)

        @_python_only
        def row(r):  # the row's windows, block by block
            block = _block_reader(stream, start + r * steps * window, steps, window)
            return tf.data.Dataset.range(n_blocks).flat_map(block)

        windows = tf.data.Dataset.range(rows).interleave(
            row, cycle_length=rows, block_length=1
        )

        @_python_only
        def with_keep(j, batch):
            x, y = batch
            draws = tf.random.stateless_uniform(
                [rows], seed=tf.random.experimental.stateless_fold_in(key + 1, j)
            )
            keep = tf.cast(draws >= reset_rate, tf.float32) * tf.cast(j > 0, tf.float32)
            return (x, keep), y

        return windows.batch(rows).enumerate().map(with_keep)

    epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
    return epochs.flat_map(epoch)
