"""Training windows and carried-state batches over id streams, in memory and
on disk."""

import numpy as np
import pytest
import tensorflow as tf

from sklstm import _corpus, _data
from sklstm._tokens import EOD_ID


# --------------------------------------------------------- streamed datasets
def _stream(docs, vocab):
    writer = _corpus.CorpusWriter(vocab)
    for doc in docs:
        writer.write(doc[:3])
        writer.write(doc[3:])
        writer.end_document()
    return writer.close()


@pytest.mark.parametrize("block_windows", [3, 256])
@pytest.mark.parametrize("shuffle", [False, True])
def test_windows_read_from_disk_are_the_windows_kept_in_memory(
    shuffle, block_windows, monkeypatch
):
    monkeypatch.setattr(_data, "_BLOCK_WINDOWS", block_windows)
    rng = np.random.default_rng(0)
    docs = [rng.integers(3, 40, size=n).astype(np.int32) for n in (900, 1, 0, 444)]
    corpus = _stream(docs, 40)
    memory = _data.join_documents(docs)
    n = _data.n_windows(len(memory), 20, shuffle=shuffle)
    steps = -(-n // 8)

    def windows(stream):
        ds = _data.window_dataset(stream, 20, 8, seed=3, shuffle=shuffle)
        rows = [np.concatenate([x, y[:, -1:]], 1) for x, y in ds.take(steps)]
        return np.concatenate(rows)

    on_disk, in_memory = windows(corpus.stream()), windows(memory)
    assert on_disk.shape == in_memory.shape == (n, 21)
    if not shuffle:
        np.testing.assert_array_equal(on_disk, in_memory)
    else:  # the same windows (same epoch offset), in another order
        assert sorted(map(tuple, on_disk)) == sorted(map(tuple, in_memory))


@pytest.mark.parametrize("block_windows", [3, 256])
def test_stateful_batches_read_from_disk_match_memory(block_windows, monkeypatch):
    monkeypatch.setattr(_data, "_BLOCK_WINDOWS", block_windows)
    rng = np.random.default_rng(1)
    docs = [rng.integers(3, 40, size=n).astype(np.int32) for n in (700, 300)]
    corpus, memory = _stream(docs, 40), _data.join_documents(docs)
    rows, steps, _ = _data.stateful_layout(len(memory), 10, 4)
    disk = _data.stateful_dataset(corpus.stream(), 10, 4, seed=5, reset_rate=0.5)
    mem = _data.stateful_dataset(memory, 10, 4, seed=5, reset_rate=0.5)
    for ((xd, kd), yd), ((xm, km), ym) in zip(
        disk.take(2 * steps), mem.take(2 * steps), strict=True
    ):
        np.testing.assert_array_equal(xd, xm)
        np.testing.assert_array_equal(yd, ym)
        assert kd.shape == km.shape == (rows,)


def test_training_datasets_prefetch_without_autotuning():
    # tf.data's autotuner made ending a fit wait for its thread's sleep (20 s
    # and more): every training pipeline, in memory or on disk, windows or
    # carried states, prefetches a fixed number of batches with it off.
    docs = [np.arange(3, 40, dtype=np.int32)] * 20
    corpus, memory = _stream(docs, 40), _data.join_documents(docs)
    datasets = [
        _data.window_dataset(stream, 10, 4, seed=0, shuffle=shuffle)
        for stream in (memory, corpus.stream())
        for shuffle in (True, False)
    ] + [
        _data.stateful_dataset(stream, 10, 4, seed=0)
        for stream in (memory, corpus.stream())
    ]
    for ds in datasets:
        assert ds.options().autotune.enabled is False
        assert ds.options().experimental_distribute.auto_shard_policy == (
            tf.data.experimental.AutoShardPolicy.DATA
        )


# ------------------------------------------------------ carried states
@pytest.mark.parametrize("length", [11, 12, 25, 57, 400, 1001])
@pytest.mark.parametrize("window", [1, 5, 10])
@pytest.mark.parametrize("batch", [1, 3, 64])
def test_stateful_batches_continue_each_row(length, window, batch):
    if length <= window:
        pytest.skip("too short for one window")
    stream = np.arange(length, dtype=np.int32)
    rows, steps, max_offset = _data.stateful_layout(length, window, batch)
    assert 1 <= rows <= batch and steps >= 1 and 0 <= max_offset < window
    ds = _data.stateful_dataset(stream, window, batch, seed=3, reset_rate=0.5)
    batches = list(ds.take(2 * steps).as_numpy_iterator())
    for epoch in range(2):
        these = batches[epoch * steps : (epoch + 1) * steps]
        x = np.concatenate([x for (x, _), _ in these], axis=1)
        y = np.concatenate([y for _, y in these], axis=1)
        keep = np.stack([keep for (_, keep), _ in these])
        assert x.shape == (rows, steps * window) and keep.shape == (steps, rows)
        # Each row is one stretch of the stream, targets one ahead, and rows
        # follow each other: the states carried from batch to batch belong.
        np.testing.assert_array_equal(y, x + 1)
        np.testing.assert_array_equal(np.diff(x, axis=1), 1)
        np.testing.assert_array_equal(np.diff(x[:, 0]), steps * window)
        assert x[-1, -1] + 1 < length
        # Every epoch starts from zero states; later batches keep or reset.
        assert not keep[0].any() and set(np.unique(keep)) <= {0.0, 1.0}


def test_stateful_resets_follow_the_rate():
    stream = np.arange(20000, dtype=np.int32)
    _, steps, _ = _data.stateful_layout(20000, 10, 16)
    for rate in (0.0, 0.25):
        ds = _data.stateful_dataset(stream, 10, 16, seed=0, reset_rate=rate)
        keep = np.stack([k for (_, k), _ in ds.take(steps).as_numpy_iterator()])
        assert abs((1 - keep[1:].mean()) - rate) < 0.03


def test_stateful_epochs_start_at_different_offsets():
    stream = np.arange(5000, dtype=np.int32)
    _, steps, _ = _data.stateful_layout(5000, 50, 8)
    ds = _data.stateful_dataset(stream, 50, 8, seed=1)
    firsts = [
        int(x[0, 0])
        for i, ((x, _), _) in enumerate(ds.take(6 * steps).as_numpy_iterator())
        if i % steps == 0
    ]
    assert len(set(firsts)) > 1


def test_end_of_document_id_is_what_stateful_rows_cross():
    # Documents are joined with end-of-document ids, so a carried state passes
    # from one document into the next only through that marker.
    stream = _data.join_documents([np.array([5, 6]), np.array([7])])
    assert list(stream) == [EOD_ID, 5, 6, EOD_ID, 7, EOD_ID]
