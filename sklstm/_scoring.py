"""What a fitted network says about id sequences: log-likelihoods and the
next token's logits, probabilities and most likely id.

Every function takes the network's compiled functions (a
:class:`sklstm._model.Network`) and a list of id sequences, each read after
an end-of-document id as in training. Each distinct sequence is run once,
in the order of :func:`distinct_in_order`, so that a sequence gets the same
numbers wherever it stands in the input and however often.
``LSTMTextGenerator``'s ``predict_proba``, ``predict``, ``score_samples``
and ``score`` are these functions over the sequences it encoded.
"""

from __future__ import annotations

import hashlib

import numpy as np
import tensorflow as tf

from sklstm._generation import left_pad
from sklstm._tokens import EOD_ID, PAD_ID

# Logits held at once while scoring: tokens per call scale down with the
# vocabulary so that (tokens, vocab) float32 stays near 32 MB.
_SCORE_LOGITS = 2**23
_SCORE_CHUNK = 128


def log_likelihood(network, sequences):
    """Per sequence: summed log-likelihood and number of predicted tokens.

    Each sequence is read after an end-of-document id and must predict
    its own tokens followed by end-of-document, as in training.
    """
    # Each distinct sequence once, shortest first (``firsts`` indexes
    # ``sequences``; rows of ``loglik`` and ``lengths`` follow it).
    firsts, where, sizes = distinct_in_order(sequences)
    lengths = sizes + 1  # predicted tokens
    loglik = np.zeros(len(firsts))
    rows_per_call = max(1, _SCORE_LOGITS // (network.vocab_size * _SCORE_CHUNK))
    for start in range(0, len(firsts), rows_per_call):
        idx = np.arange(start, min(start + rows_per_call, len(firsts)))
        width = int(lengths[idx].max())
        inputs = np.full((len(idx), width), PAD_ID, dtype=np.int32)
        targets = np.full((len(idx), width), PAD_ID, dtype=np.int32)
        for row, i in enumerate(idx):
            n, doc = lengths[i], sequences[firsts[i]]
            inputs[row, 0] = EOD_ID
            inputs[row, 1:n] = doc
            targets[row, : n - 1] = doc
            targets[row, n - 1] = EOD_ID
        states = network.zero_states(len(idx))
        total = np.zeros(len(idx))
        for t in range(0, width, _SCORE_CHUNK):
            nll, _, states = network.score_chunk(
                inputs[:, t : t + _SCORE_CHUNK],
                targets[:, t : t + _SCORE_CHUNK],
                states,
            )
            total += nll.numpy()
        loglik[idx] = -total
    return loglik[where], lengths[where]


def mean_log_likelihood(network, sequences):
    """Mean log-likelihood per predicted token over all ``sequences``."""
    loglik, lengths = log_likelihood(network, sequences)
    return float(loglik.sum() / lengths.sum())


def next_token_logits(network, sequences, batch_size=256):
    """Logits (n_sequences, vocab) of the token after each sequence."""
    logits, where = distinct_next_token_logits(network, sequences, batch_size)
    return logits[where]


def distinct_next_token_logits(network, sequences, batch_size=256):
    """Logits after each distinct sequence, and each sequence's row."""
    firsts, where, _ = distinct_in_order(sequences)
    out = np.empty((len(firsts), network.vocab_size), dtype=np.float32)
    for start in range(0, len(firsts), batch_size):
        chunk = [sequences[i] for i in firsts[start : start + batch_size]]
        logits, _ = network.last_logits(left_pad(chunk))
        out[start : start + len(chunk)] = logits.numpy()
    return out, where


def next_token_proba(network, sequences):
    """Probabilities (n_sequences, vocab) of the token after each sequence."""
    # The softmax of each distinct row, computed once (vectorised exp can
    # round a value differently by its place in the array).
    logits, where = distinct_next_token_logits(network, sequences)
    return tf.nn.softmax(logits, axis=-1).numpy()[where]


def most_likely_next(network, sequences):
    """The id of the most likely token after each sequence (never padding)."""
    logits = next_token_logits(network, sequences)
    logits[:, PAD_ID] = -np.inf  # padding is never a real next token
    return logits.argmax(axis=1)


def distinct_in_order(sequences):
    """The distinct id sequences, sorted by length then content digest: the
    index of one copy of each, for every sequence the position of its copy,
    and the distinct sequences' lengths.

    Scoring and next-token logits run each distinct sequence once, in this
    order, so a sequence gets the same numbers wherever it stands in the
    input and however often (float32 matrix products can round a row
    differently by its place in a batch). Sequences are read once (documents
    on disk too), and only their digests are kept.
    """
    keys = [
        (len(s), hashlib.blake2b(np.asarray(s, dtype=np.int64).tobytes()).digest())
        for s in sequences
    ]
    firsts = {}
    for i, key in enumerate(keys):
        firsts.setdefault(key, i)
    ordered = sorted(firsts)
    position = {key: k for k, key in enumerate(ordered)}
    where = np.array([position[key] for key in keys], dtype=np.intp)
    sizes = np.array([size for size, _ in ordered], dtype=np.int64)
    return np.array([firsts[key] for key in ordered], dtype=np.intp), where, sizes
