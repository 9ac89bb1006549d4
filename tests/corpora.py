"""Tiny corpora and tiny model settings shared by test modules.

The fitted models built from them, shared by the whole session, are the
fixtures of ``conftest.py``.
"""

# 24 one-line documents from a grid of words: enough documents for
# cross-validation folds, few enough characters for tiny models.
SENTENCES = [
    f"the {a} {b} sat on the {c}. it was {d}.\n"
    for a in ("black", "white", "grey")
    for b in ("cat", "dog")
    for c in ("mat", "log")
    for d in ("happy", "tired")
]

# Three proverbs, each repeated: the corpus of the served models.
PROVERBS = [
    "the quick brown fox jumps over the lazy dog. " * 4,
    "a stitch in time saves nine, said the old tailor. " * 4,
    "to be or not to be, that is the question. " * 4,
]

# The smallest settings that train and generate: for tests that need a
# fitted model, not a good one. One epoch, no validation, seeded.
TINY = dict(
    embedding_dim=4,
    units=8,
    sequence_length=8,
    epochs=1,
    validation_fraction=0,
    random_state=0,
)

# A little larger, for tests whose models must tell tokens apart.
SMALL = dict(TINY, embedding_dim=8, units=16, sequence_length=16)

# TINY as options of ``sklstm train`` (validation left at the command's default).
TINY_ARGS = [
    arg
    for name in ("units", "embedding_dim", "sequence_length", "epochs", "random_state")
    for arg in (f"--{name.replace('_', '-')}", str(TINY[name]))
]
