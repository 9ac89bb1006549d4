"""Model quality in a fixed time budget: sklstm against a plain Keras model.

A corpus is split into whole documents, 90% for training and 10% held out
(a fixed seed). ``--corpus`` chooses it: ``docs``, the embedded corpus
(:func:`sklstm.load_python_docs`, 465,000 characters of English prose, the
default); ``vim``, Vim's documentation (English prose; Debian's
``vim-runtime`` package), whole files in sorted order up to
``--corpus-chars`` (3,000,000); ``stdlib``, the Python standard library's
top-level modules (code), likewise. Defaults are chosen on more than one. The held-out
documents are used for nothing but the final measure. Each method gets the
same training documents and ``--budget`` seconds of training (default 300):

- sklstm: ``LSTMTextGenerator()`` with its defaults at char level, trained
  for at most the budget (``max_time=budget, epochs=None``, or where the
  installed version lacks it, a Keras callback that stops training at the
  first batch end past the budget), plus any ``--sklstm-params key=value``
  overrides (``--sklstm-params batch_size=128 dropout=0.1``). It may hold out
  part of the training documents for validation, as its defaults do.
- reference: plain Keras, Embedding 64 -> LSTM 256 -> Dense logits, on
  non-overlapping windows of 100 tokens of the training documents (joined
  with end-of-document ids, in the same char vocabulary), batch 64, Adam
  with Keras' defaults, sparse cross-entropy from logits, no validation;
  stopped by the same callback at the first batch end past the budget.
  ``--reference-units 256,384`` trains one reference per width (ratios are
  against the first).
- ``--levels char,word,subword`` also trains sklstm at those levels with
  the same budget (``TextSequencer(level=...)``; subword needs the
  ``tokenizers`` package and is skipped with a note otherwise).

Both methods' budgets count from the start of Keras' training loop, so
tracing counts and tokenising does not.

The measure is bits per character on the held-out documents, computed for
every model by one evaluator, :func:`heldout_log_likelihood`: it runs the
model's layers (``embedding``, ``lstm_0``, ``lstm_1``..., optional
``dense``, ``logits``) over each document read after an end-of-document id,
with that id as the last target (as ``LSTMTextGenerator.score_samples``
counts), in chunks of 100 tokens that carry the LSTM states, and sums the
log-likelihood; bits per character = -sum / ln 2 / (characters + 1 per
document). For sklstm models ``sklstm.bits_per_character`` is printed too,
as a cross-check of the evaluator.

Run from the repository root (about 2 x the budget, plus a minute;
``--quick``: 10 s budgets on the first 1,500 characters of each document,
under a minute)::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_quality.py
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_quality.py \\
        --levels char,word,subword --sklstm-params batch_size=128
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_quality.py \\
        --corpus vim --variant training_kernel=keras

Everything is seeded; nothing is downloaded and nothing is written.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import math
import os
import time

import _common as common
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PAD_ID, EOD_ID = common.PAD_ID, common.EOD_ID
CHUNK = 100
REFERENCE = {"embedding_dim": 64, "units": 256, "window": 100, "batch_size": 64}


# ---------------------------------------------------------------- evaluator
def _named_layers(model):
    names = {layer.name for layer in model.layers}
    lstms = sorted(
        (layer for layer in model.layers if layer.name.startswith("lstm_")),
        key=lambda layer: int(layer.name.split("_")[1]),
    )
    dense = model.get_layer("dense") if "dense" in names else None
    return model.get_layer("embedding"), lstms, dense, model.get_layer("logits")


def heldout_log_likelihood(model, sequences, chunk=CHUNK, rows=32):
    """Natural-log likelihood of each id sequence under a Keras LSTM model.

    ``model`` has layers named ``embedding``, ``lstm_0``, ``lstm_1``...
    (built with ``return_sequences=True, return_state=True``), optionally
    ``dense``, and ``logits`` (the output layer, logits over the vocabulary).
    Each sequence is read after the end-of-document id and predicts its own
    tokens followed by end-of-document. Sequences run ``rows`` at a time,
    right-padded, in chunks of ``chunk`` positions whose final LSTM states
    start the next chunk; padded targets do not count.
    """
    import tensorflow as tf

    embedding, lstms, dense, head = _named_layers(model)
    units = [layer.units for layer in lstms]
    ids_spec = tf.TensorSpec([None, None], tf.int32)
    state_specs = [tf.TensorSpec([None, u], tf.float32) for u in units for _ in (0, 1)]

    @tf.function(input_signature=[ids_spec, ids_spec, state_specs])
    def run_chunk(ids, targets, states):
        x = embedding(ids)
        new_states = []
        for k, lstm in enumerate(lstms):
            x, h, c = lstm(x, initial_state=states[2 * k : 2 * k + 2])
            new_states += [tf.cast(h, tf.float32), tf.cast(c, tf.float32)]
        if dense is not None:
            x = dense(x)
        logits = tf.cast(head(x), tf.float32)
        logp = tf.nn.log_softmax(logits, axis=-1)  # (rows, time, vocab)
        picked = tf.gather(logp, targets, batch_dims=2)  # (rows, time)
        weight = tf.cast(tf.not_equal(targets, PAD_ID), picked.dtype)
        return tf.reduce_sum(picked * weight, axis=1), new_states

    lengths = np.array([len(s) + 1 for s in sequences])  # predicted tokens
    loglik = np.zeros(len(sequences))
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), rows):
        idx = order[start : start + rows]
        width = int(lengths[idx].max())
        inputs = np.full((len(idx), width), PAD_ID, dtype=np.int32)
        targets = np.full((len(idx), width), PAD_ID, dtype=np.int32)
        for row, i in enumerate(idx):
            n = lengths[i]
            inputs[row, 0] = EOD_ID
            inputs[row, 1:n] = sequences[i]
            targets[row, : n - 1] = sequences[i]
            targets[row, n - 1] = EOD_ID
        states = [tf.zeros([len(idx), u]) for u in units for _ in (0, 1)]
        total = np.zeros(len(idx))
        for t in range(0, width, chunk):
            part, states = run_chunk(
                tf.constant(inputs[:, t : t + chunk]),
                tf.constant(targets[:, t : t + chunk]),
                states,
            )
            total += part.numpy().astype(np.float64)
        loglik[idx] = total
    return loglik


def bits_per_char(loglik, docs):
    """-sum log-likelihood in bits over characters (+1 per document)."""
    n_chars = sum(len(d) + 1 for d in docs)
    return float(-np.sum(loglik) / math.log(2) / n_chars)


# ------------------------------------------------------------------ methods
def parse_params(items):
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (Python literals, or str)."""
    params = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--sklstm-params takes key=value items; got {item!r}")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def fit_sklstm(level, train, budget, overrides, seed):
    from sklstm import LSTMTextGenerator, TextSequencer

    gen = LSTMTextGenerator()
    if level != "char":
        gen.set_params(sequencer=TextSequencer(level=level))
    params = {"random_state": seed}
    has_max_time = common.supports_max_time()
    if has_max_time:
        params["max_time"] = budget
        params["epochs"] = None  # the budget is the only limit
    params.update(overrides)
    gen.set_params(**params)
    batch_timer, time_limit = common.keras_callbacks()
    timer = batch_timer(warmup=0)
    extra = [timer] if has_max_time else [timer, time_limit(budget)]
    gen.set_params(callbacks=[*(gen.callbacks or []), *extra])
    start = time.perf_counter()
    gen.fit(train)
    wall = time.perf_counter() - start
    got = gen.get_params()
    rec = timer.record
    return gen, {
        "tokens": rec["rows"] * got["sequence_length"],
        "epochs": rec["epochs"],
        "train_seconds": rec["train_seconds"],
        "first_batch": rec["first_batch_seconds"],
        "wall": wall,
        "stopped_by": "max_time" if has_max_time else "time-limit callback",
        "note": (
            f"batch_size={got['batch_size']}, sequence_length="
            f"{got['sequence_length']}, epochs={got['epochs']}, "
            f"validation_fraction={got['validation_fraction']}; n_epochs_="
            f"{gen.n_epochs_}, best_epoch_={gen.best_epoch_} (weights kept)"
            + "".join(
                f", {name}={getattr(gen, name):g}"
                for name in ("weight_dropout_", "dropout_")
                if hasattr(gen, name)
            )
            + (" (the last epoch's)" if hasattr(gen, "dropout_") else "")
        ),
    }


def fit_reference(sequencer, train, budget, seed, units=REFERENCE["units"]):
    import keras

    stream = common.join_documents(sequencer.transform(train))
    window = REFERENCE["window"]
    n = (len(stream) - 1) // window  # non-overlapping windows
    x = stream[: n * window].reshape(n, window)
    y = stream[1 : n * window + 1].reshape(n, window)
    vocab = sequencer.vocab_size_

    keras.utils.set_random_seed(seed)
    ids = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.Embedding(vocab, REFERENCE["embedding_dim"], name="embedding")(ids)
    h, _, _ = keras.layers.LSTM(
        units, return_sequences=True, return_state=True, name="lstm_0"
    )(h)
    logits = keras.layers.Dense(vocab, name="logits")(h)
    model = keras.Model(ids, logits)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    batch_timer, time_limit = common.keras_callbacks()
    timer = batch_timer(warmup=0)
    start = time.perf_counter()
    model.fit(
        x,
        y,
        batch_size=REFERENCE["batch_size"],
        epochs=10**6,
        shuffle=True,
        callbacks=[time_limit(budget), timer],
        verbose=0,
    )
    wall = time.perf_counter() - start
    rec = timer.record
    return model, {
        "tokens": rec["rows"] * window,
        "epochs": rec["epochs"],
        "train_seconds": rec["train_seconds"],
        "first_batch": rec["first_batch_seconds"],
        "wall": wall,
        "stopped_by": "time-limit callback",
        "note": (
            f"{n:,} windows of {window}, batch {REFERENCE['batch_size']}, "
            f"embedding {REFERENCE['embedding_dim']}, LSTM {units}, "
            "Adam(), no validation"
        ),
    }


def subword_available():
    from sklstm import sequencer as sequencer_module

    if "subword" not in getattr(sequencer_module, "LEVELS", ()):
        return "this sklstm has no level='subword'"
    if importlib.util.find_spec("tokenizers") is None:
        return "the tokenizers package is not installed"
    return None


# --------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10 s budgets on the first 1,500 characters of each document",
    )
    parser.add_argument(
        "--budget", type=float, help="training seconds per model (300; quick 10)"
    )
    parser.add_argument(
        "--levels", default="char", help="sklstm levels: char, word, subword"
    )
    parser.add_argument(
        "--sklstm-params",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="LSTMTextGenerator parameters, as Python literals",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="KEY=VALUE[,KEY=VALUE...]",
        help="an extra sklstm char run with these parameters on top of "
        "--sklstm-params (repeatable), e.g. --variant batch_size=128",
    )
    parser.add_argument(
        "--max-chars", type=int, help="cut each document (none; quick 1500)"
    )
    parser.add_argument("--corpus", default="docs", choices=sorted(common.CORPORA))
    parser.add_argument(
        "--corpus-chars",
        type=int,
        default=3_000_000,
        help="characters of the vim and stdlib corpora (whole files)",
    )
    parser.add_argument("--seed", type=int, default=0, help="models' seed")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument(
        "--reference-units",
        default=str(REFERENCE["units"]),
        metavar="N[,N...]",
        help="LSTM widths of the plain Keras reference, one model each "
        f"(default {REFERENCE['units']}); ratios are against the first",
    )
    args = parser.parse_args()
    if args.budget is None:
        args.budget = 10.0 if args.quick else 300.0
    if args.max_chars is None and args.quick:
        args.max_chars = 1500
    levels = [level for level in args.levels.split(",") if level]
    for level in levels:
        if level not in ("char", "word", "subword"):
            parser.error(f"unknown level {level!r}")
    overrides = parse_params(args.sklstm_params)
    try:
        reference_widths = [int(u) for u in args.reference_units.split(",")]
    except ValueError:
        parser.error(
            f"--reference-units: expected N[,N...], got {args.reference_units!r}"
        )
    if min(reference_widths) < 1:
        parser.error(
            f"--reference-units: widths must be >= 1, got {args.reference_units!r}"
        )

    import keras  # noqa: F401
    import tensorflow as tf  # noqa: F401

    import sklstm
    from sklstm import TextSequencer

    start = time.perf_counter()
    docs = common.load_named_corpus(args.corpus, args.corpus_chars)
    if args.max_chars:
        docs = [d[: args.max_chars] for d in docs]
    train, test = common.split_documents(docs, 0.1, args.split_seed)
    n_test_chars = sum(len(d) for d in test)
    print(
        f"Corpus: {common.CORPORA[args.corpus]}; "
        f"{len(train)} training documents ({sum(map(len, train)):,} characters), "
        f"{len(test)} held out ({n_test_chars:,} characters); budget "
        f"{args.budget:g} s per model",
        flush=True,
    )

    results = []  # (method, info, bpc by the evaluator, bpc by sklstm or None)
    notes = []
    char_vocabulary = None
    for level in levels:
        if level == "subword":
            missing = subword_available()
            if missing:
                notes.append(f"sklstm subword: skipped ({missing}).")
                continue
        label = f"sklstm {level}"
        print(f"[{time.perf_counter() - start:.0f} s] training {label}", flush=True)
        gen, info = fit_sklstm(level, train, args.budget, overrides, args.seed)
        sequences = gen.sequencer_.transform(test)
        bpc = bits_per_char(heldout_log_likelihood(gen.model_, sequences), test)
        own = sklstm.bits_per_character(gen, test)
        info["vocab"] = gen.vocab_size_
        results.append((label, info, bpc, own))
        if level == "char":
            char_vocabulary = gen.sequencer_.vocabulary_
        print(f"  {info['tokens']:,} tokens, {bpc:.4f} bpc held-out", flush=True)
        del gen

    for variant in args.variant:
        extra = parse_params([v for v in variant.split(",") if v])
        label = "sklstm char " + ", ".join(f"{k}={v!r}" for k, v in extra.items())
        print(f"[{time.perf_counter() - start:.0f} s] training {label}", flush=True)
        gen, info = fit_sklstm(
            "char", train, args.budget, {**overrides, **extra}, args.seed
        )
        sequences = gen.sequencer_.transform(test)
        bpc = bits_per_char(heldout_log_likelihood(gen.model_, sequences), test)
        own = sklstm.bits_per_character(gen, test)
        info["vocab"] = gen.vocab_size_
        results.append((label, info, bpc, own))
        print(f"  {info['tokens']:,} tokens, {bpc:.4f} bpc held-out", flush=True)
        del gen

    widths = [] if args.no_reference else reference_widths
    for k, units in enumerate(widths):
        label = "reference" if k == 0 else f"reference, LSTM {units}"
        print(f"[{time.perf_counter() - start:.0f} s] training {label}", flush=True)
        sequencer = TextSequencer().fit(train)
        if char_vocabulary is not None and sequencer.vocabulary_ != char_vocabulary:
            notes.append("reference: its char vocabulary differs from sklstm's!")
        model, info = fit_reference(sequencer, train, args.budget, args.seed, units)
        sequences = sequencer.transform(test)
        bpc = bits_per_char(heldout_log_likelihood(model, sequences), test)
        info["vocab"] = sequencer.vocab_size_
        results.append((label, info, bpc, None))
        print(f"  {info['tokens']:,} tokens, {bpc:.4f} bpc held-out", flush=True)

    ref = next((bpc for m, _, bpc, _ in results if m == "reference"), None)
    print("\n## Held-out bits per character\n")
    for line in common.describe_run():
        print(line)
    print(
        f"Corpus: {args.corpus} ({common.CORPORA[args.corpus]}). "
        f"Budget: {args.budget:g} s of training per model; split: "
        f"{len(train)} training / {len(test)} held-out documents (seed "
        f"{args.split_seed}), {n_test_chars:,} held-out characters"
        + (f"; documents cut to {args.max_chars:,} chars" if args.max_chars else "")
        + (f"; sklstm overrides: {overrides}" if overrides else "")
        + "\n"
    )
    rows = []
    for method, info, bpc, _ in results:
        diff = "-" if ref is None else f"{100 * (bpc - ref) / ref:+.1f}%"
        rows.append(
            (
                method,
                f"{info['vocab']:,}",
                f"{info['tokens']:,}",
                f"{info['epochs']:.2f}",
                f"{info['train_seconds']:.0f}",
                f"{bpc:.4f}",
                diff,
            )
        )
    header = ("method", "vocabulary", "tokens trained", "epochs", "training s",
              "bpc held-out", "vs reference")  # fmt: skip
    common.print_table(header, rows, "lrrrrrr")
    print()
    for method, info, bpc, own in results:
        line = (
            f"- {method}: {info['note']}; first batch (tracing included) "
            f"{info['first_batch']:.1f} s; stopped by {info['stopped_by']}"
        )
        if info["train_seconds"] < 0.95 * args.budget:
            line += (
                f"; ended {args.budget - info['train_seconds']:.0f} s before the "
                "budget (epochs or early stopping)"
            )
        if own is not None:
            line += (
                f"; sklstm.bits_per_character {own:.6f}, evaluator {bpc:.6f} "
                f"(difference {abs(own - bpc):.1e})"
            )
        print(line + ".")
    for note in notes:
        print(f"- {note}")
    print(
        "\nEpochs: passes over each method's training windows (fractions: a "
        "stopped epoch). Word-level bits per character are a lower bound: the "
        "model is not charged for what normalisation removes."
    )
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
