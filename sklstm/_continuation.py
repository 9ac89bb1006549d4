"""Continue a text prompt with any fitted model, pipeline or search.

:func:`generate` and :func:`stream` take whatever :func:`sklstm._resolve.resolve`
accepts, encode text prompts with the steps before the generator and decode
the continuation with them.
"""

from __future__ import annotations

from sklstm._generation import parse_controls
from sklstm._resolve import resolve
from sklstm._validation import check_documents, check_prompts


def generate(estimator, prompt="", **controls):
    """Continue a text prompt with a fitted model, pipeline or search.

    One call for every way a model can be fitted: an
    :class:`LSTMTextGenerator` trained on raw text, a
    :class:`~sklearn.pipeline.Pipeline` ending in one (its earlier steps, such
    as a :class:`TextSequencer`, encode the prompt and decode the result), or
    a fitted search such as :class:`~sklearn.model_selection.GridSearchCV`
    (its ``best_estimator_`` is used).

    Parameters
    ----------
    estimator : LSTMTextGenerator, Pipeline or fitted search
        The fitted model.
    prompt : str or list of str, default=""
        Text to continue; a list continues several prompts in one batch.
    **controls
        Generation controls of :meth:`LSTMTextGenerator.generate`
        (``max_new_tokens``, ``temperature``, ``top_k``, ``top_p``, ``stop``,
        ``random_state``, ...).

    Returns
    -------
    text : str or list of str
        The continuation: one str for one prompt and one sequence, else a
        list.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklstm import LSTMTextGenerator, TextSequencer, generate
    >>> docs = ["the cat sat on the mat. " * 20, "the dog sat on the log. " * 20]
    >>> pipe = make_pipeline(
    ...     TextSequencer(level="word"),
    ...     LSTMTextGenerator(units=16, embedding_dim=8, sequence_length=10,
    ...                       epochs=1, validation_fraction=0, random_state=0),
    ... ).fit(docs)
    >>> generate(pipe, "the cat", max_new_tokens=5, random_state=0)
    '...'
    """
    ctrl = parse_controls(controls, "generate")
    lm = resolve(estimator, "generate", text=True)
    check_prompts(prompt, "generate")
    single = isinstance(prompt, str)
    prompts = check_documents([prompt] if single else prompt, "generate")
    out = lm.continue_text(lm.encode(prompts), ctrl)
    return out[0] if single and ctrl.num_return_sequences == 1 else out


def stream(estimator, prompt="", **controls):
    """Yield the continuation of a text prompt piece by piece.

    Like :func:`generate` (a fitted model, pipeline or search; the same
    controls except ``num_return_sequences``), for one str prompt.

    Yields
    ------
    piece : str
        Newly generated text.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklstm import LSTMTextGenerator, TextSequencer, generate, stream
    >>> docs = ["the cat sat on the mat", "the dog sat on the log"] * 10
    >>> pipe = make_pipeline(
    ...     TextSequencer(level="word"),
    ...     LSTMTextGenerator(units=16, embedding_dim=8, epochs=1,
    ...                       sequence_length=5, random_state=0),
    ... ).fit(docs)
    >>> pieces = list(stream(pipe, "the cat", max_new_tokens=5, random_state=0))
    >>> "".join(pieces) == generate(pipe, "the cat", max_new_tokens=5,
    ...                             random_state=0)
    True
    """
    ctrl = parse_controls(controls, "stream")
    lm = resolve(estimator, "stream", text=True)
    if not isinstance(prompt, str):
        raise TypeError(f"stream expects one str prompt; got {type(prompt).__name__}.")
    if ctrl.num_return_sequences != 1:
        raise ValueError("stream continues one prompt; use generate for more.")
    return lm.stream_text(lm.encode([prompt])[0], ctrl)
