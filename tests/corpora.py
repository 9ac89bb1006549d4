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

# For seeded fits that compare the training kernels: validation without
# early stopping, so that both kernels run every epoch (helpers.kernel_fit).
KERNEL_FIT = dict(
    embedding_dim=8,
    units=16,
    sequence_length=20,
    batch_size=8,
    epochs=3,
    validation_fraction=0.2,
    early_stopping=False,
    random_state=0,
    learning_rate=0.01,
)

# Two epochs without validation or early stopping: for tests that train
# their own model and compare fits or learning (helpers.quick_generator).
QUICK = dict(
    embedding_dim=4,
    units=12,
    sequence_length=10,
    epochs=2,
    validation_fraction=0,
    early_stopping=False,
    random_state=0,
)

# TINY as options of ``sklstm train`` (validation left at the command's default).
TINY_ARGS = [
    arg
    for name in ("units", "embedding_dim", "sequence_length", "epochs", "random_state")
    for arg in (f"--{name.replace('_', '-')}", str(TINY[name]))
]

# The files of a corpus folder, name -> text (one in a subfolder): what the
# command line's tests train on.
TEXT_FILES = {
    "a.txt": "the cat sat on the mat. the dog sat on the log.\n" * 3,
    "b.txt": "a bird sang in the tree while the cat slept.\n" * 3,
    "sub/c.txt": "the dog ran to the log and the cat ran away.\n" * 3,
}

# Three sentences about animals, repeated: the corpus of the tests of
# continued training, callbacks and parameters.
ANIMALS = [
    "the cat sat on the mat and the dog sat on the log. " * 3,
    "a bird sang in the tree while the cat slept. " * 3,
    "the dog ran after the cat across the garden. " * 3,
]

# Four sayings, each repeated: the corpus of the generation and sampling tests.
SAYINGS = [
    "the quick brown fox jumps over the lazy dog. " * 6,
    "a stitch in time saves nine, said the old tailor. " * 6,
    "to be or not to be, that is the question. " * 6,
    "all that glitters is not gold; all who wander are not lost. " * 6,
]

# Many short identical documents: the stream reads "<eod> a b c ... h <eod> a ...",
# so every token determines the next one and a small model learns it in 3 epochs.
PATTERN = "abcdefgh"
PATTERNS = [PATTERN] * 200

# Cheap settings for tests that fit their own model (the generator's tests).
SMALL_SHORT = dict(SMALL, sequence_length=10, batch_size=8)

# Accents written both precomposed and with combining marks, emoji (four
# UTF-8 bytes each), tabs, newlines and runs of spaces: the subword corpus.
SUBWORD_DOCS = [
    "the cat sat on the mat. the dog sat on the log.\n" * 3,
    "a bird sang in the tree while the cat slept \U0001f431\U0001f431.\n" * 3,
    "caf\u00e9, cafe\u0301 and na\u00efve\tthings \u2603  cost 42 \u20ac.\n" * 3,
    "the tree, the log and the mat: \U0001f333 \U0001f431 \u2603\n" * 3,
]
# The sequencer settings of the subword tests.
SUBWORD = dict(level="subword", vocab_size=300)
