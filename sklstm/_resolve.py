"""The language model inside a fitted object, found by one rule.

:func:`sklstm.generate` and :func:`sklstm.stream`, the command line, the
metrics and the plots all accept a fitted :class:`LSTMTextGenerator`, a
:class:`~sklearn.pipeline.Pipeline` ending in one (usually a
:class:`TextSequencer` then the generator), or a fitted search (anything with
a ``best_estimator_``, such as ``GridSearchCV``) over either. :func:`resolve`
finds the generator and the steps that feed it, and refuses everything else
with one wording: what was expected, what arrived, and why it does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from sklstm._inputs import encode
from sklstm._validation import check_documents
from sklstm.generator import (
    LSTMTextGenerator,
    continue_sequences,
    sampler,
    stream_sequence,
)
from sklstm.sequencer import TextSequencer, decode_ids, encode_texts

KINDS = (
    "a fitted LSTMTextGenerator",
    "a Pipeline ending in one",
    "a fitted search over either",
)
# check_is_fitted's sentence, for a search that is not fitted.
NOT_FITTED = (
    "This {} instance is not fitted yet. Call 'fit' with appropriate arguments "
    "before using this estimator."
)


@dataclass(frozen=True)
class FittedLM:
    """A fitted generator and the pipeline steps before it.

    Attributes
    ----------
    generator : LSTMTextGenerator
        The fitted language model.
    steps : tuple of (name, step)
        The steps of the pipeline before the generator, in order; empty for a
        bare model.
    front : Pipeline or None
        Those steps as a pipeline, which decodes ids back to text; None for a
        bare model.
    where : str
        The caller's name, used in error messages.
    """

    generator: LSTMTextGenerator
    steps: tuple
    front: Pipeline | None
    where: str

    @property
    def sequencer(self):
        """The TextSequencer whose tokens the generator reads, or None.

        The generator's own ``sequencer_`` when it was fitted on text, else
        the last TextSequencer among the steps before it.
        """
        if self.generator.sequencer_ is not None:
            return self.generator.sequencer_
        found = [s for _, s in self.steps if isinstance(s, TextSequencer)]
        return found[-1] if found else None

    @property
    def reader(self):
        """The TextSequencer that reads the raw documents, or None.

        The first step before the generator (skipping ``"passthrough"``) when
        it is a TextSequencer, or the generator's own sequencer when no step
        comes before it.
        """
        first = next((s for _, s in self.steps if not _skipped(s)), None)
        if first is None:
            return self.generator.sequencer_
        return first if isinstance(first, TextSequencer) else None

    def encode(self, docs):
        """Id sequences of a list of str prompts, encoded whole (no padding)."""
        for _, step in self.steps:
            if _skipped(step):
                continue
            if isinstance(step, TextSequencer):
                check_is_fitted(step, "vocabulary_")
                docs = encode_texts(step, check_documents(docs, self.where))
            else:
                docs = step.transform(docs)
        return encode(self.generator, list(docs), self.where, prompts=True)

    def decode(self, sequences):
        """The text of a list of id arrays."""
        if self.generator.sequencer_ is not None:
            return decode_ids(self.generator.sequencer_, sequences)
        return list(self.front.inverse_transform(sequences))

    def continue_text(self, sequences, controls):
        """Continuations, as text, of id sequences under parsed controls."""
        return continue_sequences(self.generator, sequences, controls, self.decode)

    def stream_text(self, sequence, controls):
        """An iterator over the pieces of text that continue one id sequence."""
        return stream_sequence(self.generator, sequence, controls, self.decode)

    @property
    def sampler(self):
        """The generator's compiled generation loop (for the server's batches)."""
        return sampler(self.generator)


def resolve(estimator, where, *, text=False, source=None, also=None):
    """The fitted language model inside ``estimator``, as a :class:`FittedLM`.

    Parameters
    ----------
    estimator : object
        A fitted LSTMTextGenerator, a Pipeline ending in one, or a fitted
        search (``best_estimator_``) over either.
    where : str
        The caller's name, which starts the error messages (all but the one
        for an unfitted LSTMTextGenerator, which is the one its own methods
        raise).
    text : bool, default=False
        Whether the caller reads text: then a generator fitted on token ids
        without a TextSequencer before it is refused.
    source : str or None, default=None
        Where ``estimator`` came from, such as ``"the file"``: errors then say
        "the file holds a ..." instead of "got ...".
    also : str or None, default=None
        One more kind of input the caller accepts, named in errors.

    Raises
    ------
    TypeError
        When ``estimator`` holds no LSTMTextGenerator where one is expected,
        or is a search that is unfitted or was fitted with ``refit=False``.
    sklearn.exceptions.NotFittedError
        When the LSTMTextGenerator is not fitted, with the message of
        ``check_is_fitted``.
    """
    kinds = (*KINDS, also) if also else KINDS
    expected = f"{', '.join(kinds[:-1])}, or {kinds[-1]}"
    name = type(estimator).__name__
    if source is None:
        arrived = f"got {name}"
    else:
        arrived = f"{source} holds {_article(name)} {name}"
    prefix = f"{where} expects {expected}; {arrived}."
    generator, steps, front = _locate(estimator, prefix)
    # The estimator's own methods' error, word for word.
    check_is_fitted(generator, "model_")
    if (
        text
        and generator.sequencer_ is None
        and not any(isinstance(s, TextSequencer) for _, s in steps)
    ):
        raise TypeError(
            f"{where} got text, but this LSTMTextGenerator was fitted on token "
            "ids and has no sequencer. Pass the pipeline that encoded them: "
            "sklstm.generate(pipeline, prompt)."
        )
    return FittedLM(generator, steps, front, where)


def _locate(estimator, prefix):
    """(generator, steps before it, those steps as a Pipeline or None).

    Looks inside a fitted search's ``best_estimator_``, then at a pipeline's
    last step; refuses anything else with ``prefix`` and the reason.
    """
    fitted, inside = estimator, ""
    if _is_search(estimator):
        if not hasattr(estimator, "best_estimator_"):
            raise TypeError(f"{prefix} {_unfitted_search(estimator)}")
        fitted, inside = estimator.best_estimator_, "Its best_estimator_ is "
    if isinstance(fitted, Pipeline):
        last = fitted.steps[-1][1]
        if not isinstance(last, LSTMTextGenerator):
            whose = "a Pipeline whose last step" if inside else "Its last step"
            raise TypeError(
                f"{prefix} {inside}{whose} is {_label(last)}, not an LSTMTextGenerator."
            )
        return last, tuple(fitted.steps[:-1]), fitted[:-1]
    if isinstance(fitted, LSTMTextGenerator):
        return fitted, (), None
    raise TypeError(prefix + (f" {inside}{_label(fitted)}." if inside else ""))


def _is_search(estimator):
    """Whether ``estimator`` is a hyper-parameter search, fitted or not."""
    if hasattr(estimator, "best_estimator_") or hasattr(estimator, "cv_results_"):
        return True
    return hasattr(estimator, "estimator") and (
        hasattr(estimator, "param_grid") or hasattr(estimator, "param_distributions")
    )


def _unfitted_search(search):
    """Why a search without ``best_estimator_`` holds no model to use."""
    if hasattr(search, "cv_results_"):
        return (
            "It was fitted with refit=False, which keeps no best_estimator_: "
            "fit it with refit=True."
        )
    return NOT_FITTED.format(type(search).__name__)


def _article(name):
    """The article before a class name: "an LSTMTextGenerator", "a dict"."""
    return "an" if name[:1] in "aeiouAEIOU" or name.startswith("LSTM") else "a"


def _skipped(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


def _label(step):
    """A step's class name, or the string or None standing for one."""
    return repr(step) if step is None or isinstance(step, str) else type(step).__name__
