"""Tiny corpora shared by test modules."""

# 24 one-line documents from a grid of words: enough documents for
# cross-validation folds, few enough characters for tiny models.
SENTENCES = [
    f"the {a} {b} sat on the {c}. it was {d}.\n"
    for a in ("black", "white", "grey")
    for b in ("cat", "dog")
    for c in ("mat", "log")
    for d in ("happy", "tired")
]
