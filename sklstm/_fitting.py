"""Training an LSTMTextGenerator, in four stages.

:func:`fit` is what ``LSTMTextGenerator.fit`` and ``partial_fit`` run, after
checking the parameters:

1. :func:`prepare`: learn the vocabulary (a new network) or keep the
   fitted one (warm start), encode ``X``, hold out validation text, join
   the documents into id streams, choose the window length and the seeds;
2. :func:`build` a new network and its optimizer, or
   :func:`continue_optimizer` of the fitted one;
3. :func:`run_epochs`: the training and validation datasets, the
   :class:`~sklstm._training.Trainer` (the fused CPU kernel or Keras' own
   layers), the learning-rate schedule and the best weights, through Keras'
   ``fit``;
4. :func:`record` the epochs in ``history_``, ``n_epochs_``,
   ``best_epoch_`` and ``training_time_``, and warn when training was
   interrupted or diverged.

The caller says which schedule to follow (``fit``: the
``learning_rate_schedule`` over its epochs; ``partial_fit``: one epoch at
the constant rate) and whether training continues a fitted network.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from sklearn.base import clone
from sklearn.utils import check_random_state

from sklstm import _data, _distribute, _lstm_cpu
from sklstm._corpus import IdCorpus, id_dtype
from sklstm._generation import MAX_SEED
from sklstm._inputs import encode, split_input
from sklstm._logs import expected_retracing
from sklstm._model import build_model, lstm_layers
from sklstm._regularisers import AUTO_RATES
from sklstm._tokens import N_RESERVED
from sklstm._training import Budget, RatesByPasses, TimeProgress, Trainer
from sklstm.callbacks import BestWeights, EstimatorCallback
from sklstm.sequencer import TextSequencer, encode_for_training

# Stateful training resets a batch row's carried states with this probability,
# so that the network also learns to start from zero states, as it does at
# the start of every document it scores or generates.
_RESET_RATE = 0.125
# stateful="auto" carries states when documents average this many windows.
_AUTO_STATEFUL = 4
# Epochs to ask Keras for when only max_time limits training.
_UNLIMITED_EPOCHS = 10**9

_WARNED = set()


@dataclass(frozen=True)
class Prepared:
    """The training text as :func:`prepare` leaves it.

    ``train`` and ``val`` are id streams (a tensor in memory, or a stream of
    a corpus on disk); ``val`` is None without validation. ``window`` is the
    tokens per training window; the seeds are those of the new network's
    weights and of the order of the training windows.
    """

    train: object
    val: object
    window: int
    model_seed: int
    data_seed: int


@dataclass(frozen=True)
class Run:
    """What :func:`run_epochs` leaves for :func:`record`."""

    best: BestWeights
    budget: Budget
    interrupted: bool


def fit(model, X, units, epochs, *, schedule, where, warm_from=None):
    """Train ``model`` for ``epochs`` more epochs (None: until ``max_time``).

    Parameters
    ----------
    model : LSTMTextGenerator
        With valid parameters; its fitted attributes are set here.
    X : documents, id sequences or an IdCorpus
    units : tuple of int
        The units of each LSTM layer (the checked ``units`` parameter).
    epochs : int or None
    schedule : {"cosine", "constant"}
        The learning-rate schedule of this run.
    where : str
        The caller, such as ``"LSTMTextGenerator.fit"``, for error messages.
    warm_from : sklstm._model.Network or None
        The fitted network to continue training (its vocabulary is kept), or
        None to learn a vocabulary and build a new network.
    """
    callbacks = make_callbacks(model)
    if warm_from is not None:
        check_same_network(model, warm_from, units)
    data = prepare(model, X, where, warm=warm_from is not None)
    if warm_from is not None:
        continue_optimizer(model)
    else:
        build(model, units, data.model_seed)
    run = run_epochs(model, data, epochs, callbacks, schedule)
    record(model, run)


# ------------------------------------------------------------ 1. prepare
def prepare(model, X, where, *, warm):
    """The vocabulary (learnt unless ``warm``), then the id streams of ``X``
    for training and validation, the window length and the seeds."""
    if warm:
        sequences = encode(model, X, where, training=True)
    else:
        sequences = learn_vocabulary(model, X, where)
    rng = check_random_state(model.random_state)
    train, val = split_documents(sequences, model.validation_fraction, rng)
    if isinstance(sequences, IdCorpus):  # streamed from disk
        train_stream = train.stream()
        val_stream = val.stream() if len(val) else None
    else:
        vocab = model.vocab_size_
        # Joined in the smallest dtype, then held once, as a tensor.
        train_stream = _data.stream_tensor(_data.join_documents(train, vocab))
        val_stream = (
            _data.stream_tensor(_data.join_documents(val, vocab)) if val else None
        )
    del sequences, train, val  # the streams hold what training needs
    window = training_window(
        train_stream, int(model.sequence_length), held_out=val_stream is not None
    )
    model_seed, data_seed = (int(s) for s in rng.randint(MAX_SEED, size=2))
    return Prepared(train_stream, val_stream, window, model_seed, data_seed)


def learn_vocabulary(model, X, where):
    """Fit ``sequencer_`` (text) or size the vocabulary (ids); encode X."""
    kind, data = split_input(model, X, where, reset=True)
    if kind == "text":
        sequencer = model.sequencer if model.sequencer is not None else TextSequencer()
        model.sequencer_ = clone(sequencer).fit(data)
        model.vocab_size_ = model.sequencer_.vocab_size_
        dtype = id_dtype(model.vocab_size_)
        return encode_for_training(model.sequencer_, data, dtype)
    model.sequencer_ = None
    if kind == "corpus":
        model.vocab_size_ = max(data.max_id() + 1, N_RESERVED)
        return data
    highest = max((int(s.max()) for s in data if s.size), default=0)
    model.vocab_size_ = max(highest + 1, N_RESERVED)
    return data


def split_documents(sequences, fraction, rng):
    """Hold out whole documents for validation or, when there are too
    few, the end of every document (IdCorpus: new files)."""
    n_docs = len(sequences)
    if fraction == 0:
        return sequences, sequences[:0]
    n_val = min(n_docs - 1, round(fraction * n_docs))
    if n_val >= 1:
        order = rng.permutation(n_docs)
        if isinstance(sequences, IdCorpus):
            return (
                sequences.subset(np.sort(order[n_val:])),
                sequences.subset(np.sort(order[:n_val])),
            )
        val_idx = set(order[:n_val].tolist())
        train = [s for i, s in enumerate(sequences) if i not in val_idx]
        val = [s for i, s in enumerate(sequences) if i in val_idx]
        return train, val
    # Too few documents to hold out whole ones at this fraction: each
    # document's last `fraction` of tokens is held out instead.
    if isinstance(sequences, IdCorpus):
        lengths = sequences.lengths().tolist()
    else:
        lengths = [len(s) for s in sequences]
    cuts = [n - round(fraction * n) for n in lengths]
    if all(cut == n for cut, n in zip(cuts, lengths, strict=True)):
        warnings.warn(
            f"validation_fraction={fraction} of {n_docs} document(s) of "
            f"{sum(lengths)} tokens leaves not one token to hold out; "
            "training without validation.",
            UserWarning,
            stacklevel=4,  # the estimator's _fit
        )
        return sequences, sequences[:0]
    heads = [(i, 0, cut) for i, cut in enumerate(cuts) if cut > 0]
    tails = [(i, cut, None) for i, cut in enumerate(cuts) if cut < lengths[i]]
    if isinstance(sequences, IdCorpus):
        return sequences.pieces(heads), sequences.pieces(tails)
    return (
        [sequences[i][a:b] for i, a, b in heads],
        [sequences[i][a:b] for i, a, b in tails],
    )


def training_window(stream, sequence_length, *, held_out):
    """Tokens per training window: ``sequence_length``, or, when the training
    stream is too short for one such window, the longest window it holds
    (with one warning). Raises when the text has fewer than 2 tokens."""
    n_tokens = len(stream)
    if n_tokens > sequence_length:
        return sequence_length
    n_text = n_tokens - _data.count_documents(stream) - 1
    if n_text < 2:
        held = " after holding out validation text" if held_out else ""
        fix = " or a smaller validation_fraction" if held_out else ""
        raise ValueError(
            f"The training text has {n_text} token(s){held} (end-of-document "
            f"markers not counted); training needs at least 2. Pass more "
            f"text{fix}."
        )
    window = n_tokens - 1
    warnings.warn(
        f"The training text has {n_tokens} tokens (end-of-document markers "
        f"included), fewer than the {sequence_length + 1} that one window of "
        f"sequence_length={sequence_length} needs; training on windows of "
        f"{window} tokens, the longest it holds. Pass more text or a smaller "
        "sequence_length to train on windows of sequence_length tokens.",
        UserWarning,
        stacklevel=6,  # fit or partial_fit's caller
    )
    return window


# -------------------------------------------------------------- 2. build
def build(model, units, seed):
    """Build and compile a new network; reset the training record."""
    if model.recurrent_dropout:
        _warn_once(
            "recurrent_dropout > 0 rules out the cuDNN LSTM kernel: on a GPU "
            "training runs the generic kernel, several times slower. "
            "dropout regularises without that cost.",
        )
    strategy = _distribute.get_strategy(model.distribution_strategy)
    # Under a strategy, the variables (weights, optimizer slots, metrics)
    # are created as distributed variables: mirrored on every replica.
    with _distribute.strategy_scope(strategy):
        # Plain Python numbers: Keras refuses numpy integers for layer
        # sizes, and searches often draw parameters from numpy arrays.
        model.model_ = build_model(
            int(model.vocab_size_),
            embedding_dim=int(model.embedding_dim),
            units=units,
            dense_units=None if model.dense_units is None else int(model.dense_units),
            dropout=_layer_dropout(model),
            recurrent_dropout=float(model.recurrent_dropout),
            l2=float(model.l2),
            seed=seed,
            dtype_policy=str(model.dtype_policy),
            tie_weights=bool(model.tie_weights),
        )
        clipnorm = None if model.clipnorm is None else float(model.clipnorm)
        optimizer = keras.optimizers.Adam(
            learning_rate=float(model.learning_rate), clipnorm=clipnorm
        )
        if model.dtype_policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        _compile(model.model_, optimizer)
        # Adam's moments created now, eagerly: inside the first traced step
        # they would cost a good part of a small fit's time.
        optimizer.build(model.model_.trainable_variables)
    model.history_ = {}
    model.n_epochs_ = 0
    model.best_epoch_ = -1


def _layer_dropout(model):
    """The rate of the network's Dropout layers: ``dropout``, or 0 where it
    is ``"auto"`` (the trainer drops the LSTM layers' outputs itself)."""
    return 0.0 if isinstance(model.dropout, str) else float(model.dropout)


def continue_optimizer(model):
    """Give the fitted network's optimizer the current ``learning_rate`` and
    ``clipnorm`` (its state, the moments of Adam, is kept)."""
    optimizer = model.model_.optimizer
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    optimizer.learning_rate.assign(float(model.learning_rate))
    optimizer.clipnorm = None if model.clipnorm is None else float(model.clipnorm)


def check_same_network(model, network, units):
    """Refuse to continue training when parameters that the network was
    built with changed (its shape, regularisation and precision)."""
    dropout = next(iter(network.dropouts.values()), None)
    regularizer = network.lstms[0].kernel_regularizer
    have = {
        "embedding_dim": network.embedding.output_dim,
        "units": tuple(network.units),
        "dense_units": None if network.dense is None else network.dense.units,
        "dropout": 0.0 if dropout is None else float(dropout.rate),
        "recurrent_dropout": float(network.lstms[0].recurrent_dropout),
        "l2": 0.0 if regularizer is None else float(regularizer.l2),
        "dtype_policy": network.embedding.dtype_policy.name,
        "tie_weights": network.tied,
    }
    want = {
        "embedding_dim": model.embedding_dim,
        "units": units,
        "dense_units": model.dense_units,
        "dropout": _layer_dropout(model),
        "recurrent_dropout": float(model.recurrent_dropout),
        "l2": float(model.l2),
        "dtype_policy": model.dtype_policy,
        "tie_weights": bool(model.tie_weights),
    }
    changed = [
        name
        for name in have
        if not (
            np.isclose(have[name], want[name], rtol=1e-6)
            if isinstance(have[name], float)
            else have[name] == want[name]
        )
    ]
    if changed:
        built = ", ".join(f"{name}={have[name]!r}" for name in changed)
        asked = ", ".join(f"{name}={want[name]!r}" for name in changed)
        raise ValueError(
            "warm_start and partial_fit continue training the fitted network, "
            f"which was built with {built}; the parameters now ask for "
            f"{asked}. Set warm_start=False to train a new network."
        )


# --------------------------------------------------------- 3. run epochs
def run_epochs(model, data, epochs, callbacks, schedule):
    """Train ``epochs`` more epochs (None: until ``max_time``) on windows of
    ``data.window`` tokens, following the learning-rate ``schedule``."""
    first = model.n_epochs_
    train_ds, rows, steps = training_data(model, data, first)
    # The masks' seed differs between warm-started fits of one seed.
    mask_seed = (data.data_seed + 104_729 * (first + 1)) % MAX_SEED
    trainer = make_trainer(
        model,
        rows,
        data.window,
        steps * epochs if epochs else None,
        seed=mask_seed,
        epochs=epochs,
    )
    val_ds = validation_data(data.val, data.window, int(model.batch_size))
    monitor = "val_loss" if val_ds is not None else "loss"
    best = BestWeights(
        monitor, model.n_iter_no_change if model.early_stopping else None
    )
    n_epochs = _UNLIMITED_EPOCHS if epochs is None else int(epochs)
    max_time = None if model.max_time is None else float(model.max_time)
    budget = Budget(
        float(model.learning_rate),
        schedule,
        None if epochs is None else n_epochs * steps,
        max_time,
    )
    own = [budget, best]
    by_passes = None
    if trainer.rate_variables:  # "auto" rates under max_time
        by_passes = RatesByPasses(budget, epochs)
        own.append(by_passes)
    verbose = model.verbose
    if epochs is None and verbose:
        # Keras would count epochs out of _UNLIMITED_EPOCHS.
        own.append(TimeProgress(budget, verbose, steps))
        verbose = 0
    try:
        with expected_retracing():  # a new network traces Keras' step anew
            trainer.fit(
                train_ds,
                initial_epoch=first,
                epochs=first + n_epochs,
                steps_per_epoch=steps,
                validation_data=val_ds,
                callbacks=[*own, *callbacks],
                shuffle=False,  # the dataset shuffles itself
                verbose=verbose,
            )
        interrupted = False
    except KeyboardInterrupt:
        best.restore(interrupted=True)
        interrupted = True
    finally:
        # The schedule leaves the rate near zero; the optimizer keeps the
        # peak rate, as continued training expects.
        model.model_.optimizer.learning_rate.assign(float(model.learning_rate))
        rates = dict(trainer.rates)
        if by_passes is not None:
            rates.update(by_passes.rates)
        model.weight_dropout_ = rates["weight"]
        model.dropout_ = rates["outputs"] or _layer_dropout(model)
    return Run(best, budget, interrupted)


def training_data(model, data, first):
    """The training windows' dataset from epoch ``first`` on, the rows of
    a stateful batch (None when states are not carried) and the steps per
    epoch; sets ``stateful_``."""
    window, batch_size = data.window, int(model.batch_size)
    if model.stateful == "auto":
        n_docs = max(1, _data.count_documents(data.train))
        stateful = (
            model.distribution_strategy is None  # see sklstm._params
            and len(data.train) / n_docs >= _AUTO_STATEFUL * window
        )
    else:
        stateful = bool(model.stateful)
    model.stateful_ = stateful
    order = dict(seed=data.data_seed, first_epoch=first)  # of the windows
    if stateful:
        rows, steps, _ = _data.stateful_layout(len(data.train), window, batch_size)
        train_ds = _data.stateful_dataset(
            data.train, window, batch_size, reset_rate=_RESET_RATE, **order
        )
        return train_ds, rows, steps
    train_ds = _data.window_dataset(
        data.train, window, batch_size, shuffle=True, **order
    )
    n_train = _data.n_windows(len(data.train), window, shuffle=True)
    return train_ds, None, -(-n_train // batch_size)


def validation_data(stream, window, batch_size):
    """The validation windows' dataset, in order; None without validation."""
    if stream is None:
        return None
    val_window = min(window, len(stream) - 1)
    return _data.window_dataset(stream, val_window, batch_size, seed=0, shuffle=False)


def make_trainer(
    model, rows=None, window=None, planned_steps=None, seed=0, epochs=None
):
    """The compiled training wrapper of ``model.model_`` (``rows`` as in
    :class:`~sklstm._training.Trainer`; ``seed`` of its weight and
    embedding dropout masks), under the network's strategy; sets
    ``training_kernel_``.

    ``weight_dropout="auto"`` and ``dropout="auto"`` train at the rates of
    ``epochs`` passes (:data:`~sklstm._regularisers.AUTO_RATES`), or where
    ``max_time`` limits the fit, make an adaptive trainer, at none until an
    epoch's pace is known (:class:`~sklstm._training.RatesByPasses`).
    """
    strategy = _distribute.get_strategy(model.distribution_strategy)
    built = model.model_.distribute_strategy
    wanted = tf.distribute.get_strategy() if strategy is None else strategy
    if built is not wanted:
        raise ValueError(
            "warm_start and partial_fit continue training the fitted network, "
            f"which was built under {_distribute.describe(built)}, but "
            "distribution_strategy asks for "
            f"{_distribute.describe(strategy, built)}. A network trains only "
            "under the strategy it was built with (one loaded from a file or "
            "a pickle was built without one). Set distribution_strategy back, "
            "or fit a new network (warm_start=False)."
        )
    model.training_kernel_ = choose_kernel(model, strategy)
    replicas = 1 if strategy is None else strategy.num_replicas_in_sync
    shape = (rows or -(-int(model.batch_size) // replicas), window)
    fused = model.training_kernel_ == "fused"
    jit = False
    if fused:
        units = [layer.units for layer in lstm_layers(model.model_)]
        inputs = [model.model_.get_layer("embedding").output_dim, *units[:-1]]
        jit = _lstm_cpu.use_xla(
            shape,
            list(zip(inputs, units, strict=True)),
            planned_steps,
            None if model.max_time is None else float(model.max_time),
        )
    # "auto" rates: a fit that max_time limits adapts them (from 0), one of
    # a number of epochs takes that number's.
    rates, adaptive = {"weight": 0.0, "outputs": 0.0}, []
    for name, value in (("weight", model.weight_dropout), ("outputs", model.dropout)):
        if not isinstance(value, str):
            # A float dropout is the network's Dropout layers', not ours.
            rates[name] = float(value) if name == "weight" else 0.0
        elif model.max_time is not None:
            adaptive.append(name)
        else:
            rates[name] = AUTO_RATES[name](epochs)
    # Keras distributes the datasets over the replicas of the strategy
    # in scope when the trainer is created.
    with _distribute.strategy_scope(strategy):
        trainer = Trainer(
            model.model_,
            rows,
            fused=fused,
            jit=jit,
            shape=shape,
            weight_dropout=rates["weight"],
            embedding_dropout=float(model.embedding_dropout),
            seed=seed,
            dropout=rates["outputs"],
            adaptive=tuple(adaptive),
        )
        # The trainer shares the network's optimizer, so its state is
        # what warm starts and saved files keep.
        _compile(trainer, model.model_.optimizer)
    return trainer


def choose_kernel(model, strategy):
    """``"fused"`` or ``"keras"``, as ``training_kernel`` asks."""
    if model.training_kernel == "keras":
        return "keras"
    refusal = _lstm_cpu.fused_refusal(lstm_layers(model.model_))
    if model.training_kernel == "fused":
        if refusal is not None:
            raise ValueError(
                f"training_kernel='fused' cannot train this network: {refusal}. "
                "Set training_kernel='auto' (which trains such networks "
                "through Keras' own layer) or 'keras'."
            )
        return "fused"
    if refusal is not None or _lstm_cpu.on_gpu(strategy):
        return "keras"  # cuDNN on a GPU; the settings the fused path lacks
    return "fused"


def make_callbacks(model):
    """Fresh copies of the user's callbacks (classes are instantiated)."""
    if model.callbacks is None:
        return []
    # Checked with the parameters: a list of callbacks or their classes.
    made = [c() if isinstance(c, type) else _fresh_copy(c) for c in model.callbacks]
    for callback in made:
        if isinstance(callback, EstimatorCallback):
            callback.set_estimator(model)
    return made


# ------------------------------------------------------------- 4. record
def record(model, run):
    """Extend ``history_`` with the finished epochs; set ``n_epochs_``,
    ``training_time_`` and ``best_epoch_``; warn when training was
    interrupted or diverged."""
    best = run.best
    for logs in best.epoch_logs:
        for key, value in logs.items():
            model.history_.setdefault(key, []).append(float(value))
    model.n_epochs_ = len(model.history_.get("loss", []))
    model.training_time_ = run.budget.elapsed
    if (model.early_stopping or run.interrupted) and best.best_epoch >= 0:
        model.best_epoch_ = best.best_epoch
    else:
        model.best_epoch_ = model.n_epochs_ - 1
    kept = (
        f"the weights of epoch {model.best_epoch_ + 1} are kept"
        if model.n_epochs_
        else "no epoch finished, so the weights are the initial ones"
    )
    if run.interrupted:
        warnings.warn(
            f"Training was interrupted after {model.n_epochs_} epoch(s); "
            f"{kept} and history_ holds the finished epochs.",
            UserWarning,
            stacklevel=4,  # the estimator's fit or partial_fit
        )
    if best.diverged_at is not None:
        warnings.warn(
            f"The training loss became NaN or infinite in epoch "
            f"{best.diverged_at + 1}; training stopped and {kept}. Try a "
            "lower learning_rate or a smaller clipnorm.",
            RuntimeWarning,
            stacklevel=4,
        )


def _compile(model, optimizer):
    """Compile for next-token training: sparse cross-entropy on logits."""
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        # XLA is slower on Keras' CPU loop and bypasses cuDNN on a GPU; on
        # the fused path's step too (its loops are compiled by XLA alone).
        jit_compile=False,
    )


def _warn_once(message):
    """Warn with ``message`` the first time only, in this process."""
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, UserWarning, stacklevel=4)  # the estimator's _fit


def _fresh_copy(callback):
    """A deep copy of ``callback``, or a shallow one when it cannot be deep
    copied (it holds a file or a lock, say); never with a model attached."""
    try:
        twin = copy.deepcopy(callback)
    except (TypeError, copy.Error, RuntimeError):
        twin = copy.copy(callback)
    twin.set_model(None)
    return twin
