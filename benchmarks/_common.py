"""Shared pieces of the training benchmarks (``bench_train``, ``bench_quality``).

Nothing here imports TensorFlow at module level, so that a parent process
that only starts children stays light; the Keras callbacks are built on
first use by :func:`keras_callbacks`.
"""

from __future__ import annotations

import datetime
import os
import platform
import resource
import shlex
import sys
import time

import numpy as np

from sklstm._tokens import EOD_ID, OOV_ID, PAD_ID  # noqa: F401 - for the scripts


# ------------------------------------------------------------------ machine
def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or the platform's guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions():
    """Versions of Python and of the libraries the benchmarks use."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"Python": platform.python_version()}
    for label, dist in (
        ("sklstm", "sklstm"),
        ("TensorFlow", "tensorflow"),
        ("Keras", "keras"),
        ("NumPy", "numpy"),
        ("scikit-learn", "scikit-learn"),
        ("tokenizers", "tokenizers"),
    ):
        try:
            out[label] = version(dist)
        except PackageNotFoundError:
            continue
    return out


def describe_run():
    """Lines naming the machine, the date, the versions and the command."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    libs = ", ".join(f"{k} {v}" for k, v in versions().items())
    command = shlex.join(["python", *sys.argv])
    return [
        f"Date: {datetime.datetime.now():%Y-%m-%d %H:%M}",
        f"Machine: {os.cpu_count()} CPUs, {cpu_model()} (load average {load})",
        f"Versions: {libs}",
        f"Command: {command}",
    ]


# ---------------------------------------------------------------- children
RESULT_TAG = "RESULT "


def run_child(command, label):
    """Run a benchmark child process; return the dict it printed, or None.

    The child prints one line ``RESULT <json>``; ``wall`` (seconds) is
    added. A failure prints the end of the child's output under ``label``.
    """
    import json
    import subprocess

    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    lines = [x for x in proc.stdout.splitlines() if x.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        print(f"  {label} failed ({proc.returncode}):\n{tail}", flush=True)
        return None
    result = json.loads(lines[-1][len(RESULT_TAG) :])
    result["wall"] = wall
    return result


# ------------------------------------------------------------------- memory
def rss_now():
    """Current resident set size in bytes (from /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return peak_rss()


def peak_rss():
    """Peak resident set size of this process in bytes (``ru_maxrss``, KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mb(n_bytes):
    return f"{n_bytes / 2**20:,.0f}"


def human_bytes(n_bytes):
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:,.1f} {unit}"
    return f"{n_bytes} B"


# --------------------------------------------------------------------- text
def load_corpus(fraction=1.0, repeat=1):
    """The embedded corpus: each document cut to ``fraction`` of its length,
    then the whole list repeated ``repeat`` times."""
    from sklstm import load_python_docs

    docs = load_python_docs()
    if fraction < 1:
        docs = [d[: max(1, int(len(d) * fraction))] for d in docs]
    return docs * repeat


CORPORA = {
    "docs": "the embedded corpus: CPython's documentation topics (English prose)",
    "vim": "Vim's documentation (English prose; Debian's vim-runtime package)",
    "vim-ascii": (
        "Vim's documentation with every character outside ASCII removed "
        "(English prose with a keyboard's alphabet: the whole documentation "
        "holds ~1,400 distinct characters, from its digraph and Unicode tables)"
    ),
    "stdlib": "the Python standard library's top-level modules (code)",
}


def load_named_corpus(name, max_chars=3_000_000):
    """Documents of one of :data:`CORPORA`, whole files in sorted order up to
    ``max_chars`` characters in all (the embedded corpus is whole)."""
    import glob
    import sysconfig

    if name == "docs":
        return load_corpus()
    if name in ("vim", "vim-ascii"):
        paths = sorted(glob.glob("/usr/share/vim/vim*/doc/*.txt"))
        if not paths:
            raise SystemExit(
                "The vim corpus is Vim's documentation, which this machine lacks; "
                "on Debian: apt-get install vim-runtime. Or choose another corpus."
            )
    elif name == "stdlib":
        paths = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    else:
        raise SystemExit(f"unknown corpus {name!r}; choose from {sorted(CORPORA)}")
    docs, total = [], 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if name == "vim-ascii":
            text = text.encode("ascii", "ignore").decode("ascii")
        if total + len(text) > max_chars:
            break
        docs.append(text)
        total += len(text)
    return docs


def join_documents(sequences):
    """One int32 stream: ``EOD d1 EOD d2 ... EOD``, exactly as sklstm trains on."""
    from sklstm._data import join_documents as join

    return join(sequences)


def reference_windows(stream, window):
    """The plain Keras reference's data: ``(x, y)``, the non-overlapping
    windows of ``window`` ids of ``stream`` and the same shifted by one."""
    n = (len(stream) - 1) // window
    return (
        stream[: n * window].reshape(n, window),
        stream[1 : n * window + 1].reshape(n, window),
    )


def reference_model(vocab, embedding_dim, units, dense_units=None):
    """The plain Keras many-to-many reference, seeded and compiled:
    Embedding -> an LSTM (return_sequences) per entry of ``units`` -> relu
    Dense when ``dense_units`` -> Dense logits; Adam with Keras' defaults,
    sparse categorical cross-entropy from logits."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.Embedding(vocab, embedding_dim, name="embedding")(inputs)
    for k, u in enumerate(units):
        h = keras.layers.LSTM(u, return_sequences=True, name=f"lstm_{k}")(h)
    if dense_units:
        h = keras.layers.Dense(dense_units, activation="relu", name="dense")(h)
    model = keras.Model(inputs, keras.layers.Dense(vocab, name="logits")(h))
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def stream_tokens(sequences):
    """Tokens of the stream :func:`join_documents` would build."""
    return sum(len(s) for s in sequences) + len(sequences) + 1


def stream_bytes(sequences, vocab_size):
    """Bytes of the id stream sklstm's ``fit`` trains from (uint16 ids while
    the vocabulary has at most 65,536 of them, else int32)."""
    from sklstm._corpus import id_dtype

    return id_dtype(vocab_size).itemsize * stream_tokens(sequences)


def split_documents(docs, test_fraction=0.1, seed=0):
    """Split whole documents: (train, test), test at least one document."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(docs))
    n_test = max(1, round(test_fraction * len(docs)))
    test_idx = set(order[:n_test].tolist())
    train = [d for i, d in enumerate(docs) if i not in test_idx]
    test = [d for i, d in enumerate(docs) if i in test_idx]
    return train, test


# -------------------------------------------------------------------- FLOPs
def measure_peak(n=2048, repeats=10):
    """Best float32 FLOP/s of ``tf.linalg.matmul`` on (n, n) matrices."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((n, n), dtype=np.float32))
    b = tf.constant(rng.standard_normal((n, n), dtype=np.float32))
    tf.reduce_sum(tf.linalg.matmul(a, b)).numpy()  # warm-up
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        tf.reduce_sum(tf.linalg.matmul(a, b)).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def forward_macs(vocab, embedding_dim, units, dense_units):
    """Multiply-adds of one position: (LSTM stack, head after the LSTMs).

    An LSTM layer costs ``4 * (in + units + 1) * units`` per position, a
    Dense layer ``in * out``; the embedding lookup is negligible.
    """
    units = (units,) if isinstance(units, int) else tuple(units)
    lstm, n_in = 0, embedding_dim
    for u in units:
        lstm += 4 * (n_in + u + 1) * u
        n_in = u
    head = 0
    if dense_units:
        head += n_in * dense_units
        n_in = dense_units
    head += n_in * vocab
    return lstm, head


def train_flops_per_target(vocab, embedding_dim, units, dense_units, positions=1):
    """Training FLOPs per target token: 3 x forward (forward + backward),
    2 FLOPs per multiply-add. ``positions`` > 1 is a many-to-one window: the
    LSTMs run over every position and the head once."""
    lstm, head = forward_macs(vocab, embedding_dim, units, dense_units)
    return 3 * 2 * (positions * lstm + head)


# ---------------------------------------------------------------- callbacks
_CALLBACKS = None


def keras_callbacks():
    """``(BatchTimer, TimeLimit)``, Keras callback classes built on first use.

    Both may be passed to ``LSTMTextGenerator(callbacks=[...])``, which copies
    callbacks at each ``fit``: the copies share the ``record`` dict of the
    instance passed, so the caller reads what the copy measured.
    """
    global _CALLBACKS
    if _CALLBACKS is not None:
        return _CALLBACKS
    import keras

    class _Shared(keras.callbacks.Callback):
        def __deepcopy__(self, memo):
            twin = type(self).__new__(type(self))
            memo[id(self)] = twin
            twin.__dict__.update(self.__dict__)  # same record dict
            return twin

    class BatchTimer(_Shared):
        """Time training batches and count the rows (windows) they held.

        A batch's time is the wall time from the end of the previous batch
        (or the start of its epoch) to its end, so it includes the input
        pipeline; the time between epochs (validation, epoch-end callbacks)
        is recorded apart. Rows are read from the model's loss tracker, whose
        count Keras increments by each batch's size, so partial batches
        count exactly. The first ``warmup`` batches (tracing) are not timed.
        With ``seconds``, training stops once that much batch time is timed.
        """

        def __init__(self, warmup=5, seconds=None):
            super().__init__()
            self.warmup = warmup
            self.seconds = seconds
            self.record = {
                "batches": 0,
                "timed_batches": 0,
                "timed_rows": 0,
                "timed_seconds": 0.0,
                "rows": 0,
                "epochs": 0.0,
                "between_epochs_seconds": 0.0,
                "train_seconds": 0.0,
                "first_batch_seconds": 0.0,
            }

        def _rows(self):
            return int(self._tracker.count.numpy())

        def on_train_begin(self, logs=None):
            self._tracker = next(
                m
                for m in self.model.metrics
                if m.name == "loss" and hasattr(m, "count")
            )
            self._t0 = time.perf_counter()
            self._last_end = None
            self._epoch_batches = 0
            self._done = 0  # epochs run to their end

        def on_epoch_begin(self, epoch, logs=None):
            now = time.perf_counter()
            if self._last_end is not None:
                self.record["between_epochs_seconds"] += now - self._last_end
            self._t_prev, self._rows_prev = now, 0
            self._epoch_batches = 0

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            rows = self._rows()  # rows so far in this epoch
            rec = self.record
            if not rec["batches"]:
                rec["first_batch_seconds"] = now - self._t0
            rec["batches"] += 1
            rec["rows"] += rows - self._rows_prev
            self._epoch_batches += 1
            if rec["batches"] > self.warmup:
                rec["timed_batches"] += 1
                rec["timed_rows"] += rows - self._rows_prev
                rec["timed_seconds"] += now - self._t_prev
            self._t_prev, self._rows_prev, self._last_end = now, rows, now
            steps = (self.params or {}).get("steps")
            rec["epochs"] = self._done + (self._epoch_batches / steps if steps else 0.0)
            if self.seconds is not None and rec["timed_seconds"] >= self.seconds:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            steps = (self.params or {}).get("steps")
            if not steps or self._epoch_batches >= steps:
                self._done += 1

        def on_train_end(self, logs=None):
            self.record["train_seconds"] = time.perf_counter() - self._t0

    class TimeLimit(_Shared):
        """Stop training at the first batch end after ``seconds`` of training
        (counted from the start of ``fit``'s training loop)."""

        def __init__(self, seconds):
            super().__init__()
            self.seconds = seconds
            self.record = {"stopped": False}

        def on_train_begin(self, logs=None):
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - self._t0 >= self.seconds:
                self.model.stop_training = True
                self.record["stopped"] = True

    _CALLBACKS = (BatchTimer, TimeLimit)
    return _CALLBACKS


def supports_max_time():
    """Whether ``LSTMTextGenerator`` takes a ``max_time`` parameter."""
    from sklstm import LSTMTextGenerator

    return "max_time" in LSTMTextGenerator().get_params()


# -------------------------------------------------------------------- table
def print_table(header, rows, align=None):
    """A markdown table; ``align`` is a string of 'l'/'r' per column."""
    align = align or "l" + "r" * (len(header) - 1)
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if a == "l" else "---:" for a in align) + "|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
