"""sklstm: LSTM text generators that behave like scikit-learn estimators.

``TextSequencer`` turns documents into token ids and back;
``LSTMTextGenerator`` trains an LSTM language model and continues prompts;
``generate`` continues a text prompt from a fitted model, pipeline or search;
``serve`` serves one over HTTP with an OpenAI-compatible API.

TensorFlow is imported only when the generator is first used.

Examples
--------
>>> import sklstm
>>> docs = sklstm.load_python_docs()[:3]
>>> model = sklstm.LSTMTextGenerator(units=16, embedding_dim=8,
...                                  sequence_length=20, epochs=1,
...                                  random_state=0).fit(docs)
>>> text = sklstm.generate(model, "The ", max_new_tokens=20, random_state=0)
>>> isinstance(text, str)
True
>>> bool(sklstm.bits_per_character(model, docs[:1]) > 0)
True
"""

from importlib import import_module

from sklstm._corpus import IdCorpus
from sklstm._version import __version__
from sklstm.datasets import load_python_docs
from sklstm.metrics import (
    bits_per_character,
    copied_text,
    neg_bits_per_character_scorer,
)
from sklstm.sequencer import TextSequencer

__all__ = [
    "LSTMTextGenerator",
    "TextSequencer",
    "IdCorpus",
    "generate",
    "stream",
    "serve",
    "load",
    "load_python_docs",
    "bits_per_character",
    "neg_bits_per_character_scorer",
    "copied_text",
    "__version__",
]

_LAZY = {
    "LSTMTextGenerator": "sklstm.generator",
    "generate": "sklstm._continuation",
    "stream": "sklstm._continuation",
    "load": "sklstm.persistence",
    "serve": "sklstm.serving",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sklstm' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
