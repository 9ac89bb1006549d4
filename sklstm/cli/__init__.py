"""The ``sklstm`` command: train, generate, evaluate and inspect models.

``sklstm train`` fits an :class:`~sklstm.LSTMTextGenerator` on text files (or
the embedded corpus) and saves it; ``sklstm generate`` continues a prompt,
streaming, or step by step with ``--interactive``; ``sklstm evaluate``
measures bits per character and perplexity on held-out text; ``sklstm info``
shows a model's parameters and training history; ``sklstm serve`` serves a
model over HTTP with an OpenAI-compatible API and a playground page.

Run ``sklstm COMMAND --help`` for the options of each command. :func:`main`
is the entry point of both the console script and ``python -m sklstm``.

The package: ``_main`` (the parser and :func:`main`), ``_options`` (the
options of ``train`` as one table, argument types, library defaults),
``_shared`` (errors, output, documents, loading models), ``_quiet``
(TensorFlow's start-up log), one module per command (``_train``,
``_generate``, ``_interactive``, ``_evaluate``, ``_copied``, ``_info``,
``_plot``, ``_serve``).
"""

from sklstm.cli._evaluate import evaluate
from sklstm.cli._info import describe
from sklstm.cli._interactive import Interactive, interactive
from sklstm.cli._main import COMMANDS, build_parser, main
from sklstm.cli._options import (
    TRAIN_OPTIONS,
    Option,
    library_defaults,
    train_params,
)
from sklstm.cli._quiet import quiet_tensorflow
from sklstm.cli._shared import (
    PROG,
    UsageError,
    UserError,
    join_text,
    load_model,
    read_documents,
    split_paragraphs,
)

__all__ = [
    "COMMANDS",
    "PROG",
    "TRAIN_OPTIONS",
    "Interactive",
    "Option",
    "UsageError",
    "UserError",
    "build_parser",
    "describe",
    "evaluate",
    "interactive",
    "library_defaults",
    "load_model",
    "main",
    "quiet_tensorflow",
    "read_documents",
    "split_paragraphs",
    "train_params",
    "join_text",
]
