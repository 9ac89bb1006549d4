"""One rule finds the language model inside a fitted object.

``sklstm.generate`` and ``sklstm.stream``, the command line (on a saved
file), ``bits_per_character`` and ``plot_history`` accept the same
containers (a model, a pipeline ending in one, a search over either) and
refuse the same inputs with the same words.
"""

import contextlib
import importlib.util
import io
import json
import math
import re

import joblib
import numpy as np
import pytest
from corpora import SENTENCES, TINY
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer, bits_per_character
from sklstm.cli import join_text, main

DOCS = SENTENCES
# One train/test split: a search fits one candidate once, then refits it.
ONE_SPLIT = [(np.arange(16), np.arange(16, 24))]
PROMPT = "the black"
GEN = dict(max_new_tokens=8, random_state=0)
EXPECTED = (
    "a fitted LSTMTextGenerator, a Pipeline ending in one, or a fitted search "
    "over either"
)
PLOT_EXPECTED = (
    "a fitted LSTMTextGenerator, a Pipeline ending in one, a fitted search over "
    "either, or a history dict such as model.history_"
)
NOT_FITTED = (
    "This {} instance is not fitted yet. Call 'fit' with appropriate arguments "
    "before using this estimator."
)


def _word_pipeline():
    return make_pipeline(TextSequencer(level="word"), LSTMTextGenerator(**TINY))


def run(*argv):
    """``sklstm`` with its output captured: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def pipeline(tiny_word_pipeline):
    return tiny_word_pipeline


@pytest.fixture(scope="module")
def search():
    grid = {"units": [8]}
    return GridSearchCV(LSTMTextGenerator(**TINY), grid, cv=ONE_SPLIT).fit(DOCS)


@pytest.fixture(scope="module")
def pipeline_search():
    grid = {"lstmtextgenerator__units": [8]}
    return GridSearchCV(_word_pipeline(), grid, cv=ONE_SPLIT).fit(DOCS)


KINDS = ["model", "pipeline", "search", "pipeline_search"]


@pytest.fixture(params=KINDS)
def fitted(request):
    """(fitted object, the fitted generator or pipeline it stands for)."""
    obj = request.getfixturevalue(request.param)
    return obj, getattr(obj, "best_estimator_", obj)


def _expected_text(inner, prompt, **controls):
    """The continuation, computed from the generator and sequencer directly."""
    if isinstance(inner, LSTMTextGenerator):
        return inner.generate(prompt, **controls)
    sequencer, generator = inner[0], inner[-1]
    prompts = [prompt] if isinstance(prompt, str) else prompt
    ids = generator.generate(list(sequencer.transform(prompts)), **controls)
    texts = sequencer.inverse_transform(ids)
    return texts[0] if isinstance(prompt, str) else texts


def _sequencer(inner):
    """The TextSequencer of a bare model or of a pipeline's first step."""
    return inner.sequencer_ if isinstance(inner, LSTMTextGenerator) else inner[0]


# ------------------------------------------------------------ the containers
def test_generate_and_stream_continue_with_the_model_inside(fitted):
    obj, inner = fitted
    text = sklstm.generate(obj, PROMPT, **GEN)
    assert text == _expected_text(inner, PROMPT, **GEN)
    assert "".join(sklstm.stream(obj, PROMPT, **GEN)) == text
    batch = sklstm.generate(obj, [PROMPT, "a"], **GEN)
    assert batch == _expected_text(inner, [PROMPT, "a"], **GEN)
    assert batch != [text, text]


def test_bits_per_character_scores_with_the_model_inside(fitted):
    obj, inner = fitted
    n_chars = sum(len(doc) + 1 for doc in DOCS)
    expected = -inner.score_samples(DOCS).sum() / n_chars / math.log(2)
    assert bits_per_character(obj, DOCS) == pytest.approx(expected, rel=1e-12)


def test_plot_history_draws_the_history_of_the_model_inside(fitted):
    pytest.importorskip("matplotlib")
    from sklstm.plotting import plot_history

    obj, inner = fitted
    generator = inner if isinstance(inner, LSTMTextGenerator) else inner[-1]
    ax = plot_history(obj).axes[0]
    assert ax.get_lines()[0].get_ydata().tolist() == generator.history_["loss"]
    unit = "character" if _sequencer(inner).level == "char" else "token"
    assert ax.get_ylabel() == f"loss (nats per {unit})"


def test_the_command_line_reads_the_model_inside_a_saved_file(fitted, tmp_path):
    obj, inner = fitted
    path = tmp_path / "fitted.joblib"
    joblib.dump(obj, path)
    status, out, err = run("info", path, "--trust-pickle", "--json")
    assert status == 0, err
    info = json.loads(out)
    assert info["type"] == type(obj).__name__
    assert info["level"] == _sequencer(inner).level

    status, out, err = run(
        "generate", path, PROMPT, "--trust-pickle", "--max-new-tokens", "8",
        "--seed", "0",
    )  # fmt: skip
    assert status == 0, err
    shown = join_text(_sequencer(inner), PROMPT, _expected_text(inner, PROMPT, **GEN))
    assert out == shown if shown.endswith("\n") else out == shown + "\n"


# ---------------------------------------------------------------- the errors
def _fitted_search_without_a_model():
    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 1, 0, 1])
    return GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2).fit(X, y)


def _fitted_search_over_a_classifier_pipeline():
    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 1, 0, 1])
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    grid = {"logisticregression__C": [1.0]}
    return RandomizedSearchCV(pipe, grid, n_iter=1, cv=2).fit(X, y)


@pytest.fixture(scope="module")
def refit_false():
    grid = {"units": [8]}
    search = GridSearchCV(LSTMTextGenerator(**TINY), grid, cv=ONE_SPLIT, refit=False)
    return search.fit(DOCS)


# name: (make the object, error class, its class name, reason after the name)
ERRORS = {
    "unfitted-search": (
        lambda: GridSearchCV(LSTMTextGenerator(**TINY), {"units": [8]}),
        TypeError,
        "GridSearchCV",
        " " + NOT_FITTED.format("GridSearchCV"),
    ),
    "refit-false": (
        None,  # the refit_false fixture
        TypeError,
        "GridSearchCV",
        " It was fitted with refit=False, which keeps no best_estimator_: fit it "
        "with refit=True.",
    ),
    "no-model": (LogisticRegression, TypeError, "LogisticRegression", ""),
    "str": (lambda: "model.sklstm", TypeError, "str", ""),
    "pipeline-ending-elsewhere": (
        lambda: make_pipeline(TextSequencer(), LogisticRegression()),
        TypeError,
        "Pipeline",
        " Its last step is LogisticRegression, not an LSTMTextGenerator.",
    ),
    "pipeline-ending-in-passthrough": (
        lambda: make_pipeline(TextSequencer(), "passthrough"),
        TypeError,
        "Pipeline",
        " Its last step is 'passthrough', not an LSTMTextGenerator.",
    ),
    "search-without-model": (
        _fitted_search_without_a_model,
        TypeError,
        "GridSearchCV",
        " Its best_estimator_ is LogisticRegression.",
    ),
    "search-over-pipeline-ending-elsewhere": (
        _fitted_search_over_a_classifier_pipeline,
        TypeError,
        "RandomizedSearchCV",
        " Its best_estimator_ is a Pipeline whose last step is LogisticRegression, "
        "not an LSTMTextGenerator.",
    ),
}


# An unfitted model gets the error its own methods raise, word for word.
NOT_FITTED_MODELS = {
    "unfitted-model": LSTMTextGenerator,
    "unfitted-pipeline": _word_pipeline,
}


@pytest.fixture(params=list(ERRORS))
def wrong(request):
    """(object, error class, its class name, the reason after the name)."""
    make, error, name, reason = ERRORS[request.param]
    obj = request.getfixturevalue("refit_false") if make is None else make()
    return obj, error, name, reason


def _message(where, expected, arrived, reason):
    return "^" + re.escape(f"{where} expects {expected}; {arrived}.{reason}") + "$"


def test_generate_and_stream_refuse_with_one_message(wrong):
    obj, error, name, reason = wrong
    for where, call in (("generate", sklstm.generate), ("stream", sklstm.stream)):
        with pytest.raises(
            error, match=_message(where, EXPECTED, f"got {name}", reason)
        ):
            call(obj, PROMPT)


def test_bits_per_character_refuses_with_the_same_message(wrong):
    obj, error, name, reason = wrong
    where = "bits_per_character"
    with pytest.raises(error, match=_message(where, EXPECTED, f"got {name}", reason)):
        bits_per_character(obj, DOCS)


def test_plot_history_refuses_with_the_same_message(wrong, tmp_path):
    pytest.importorskip("matplotlib")
    from sklstm.plotting import plot_history

    obj, error, name, reason = wrong
    match = _message("plot_history", PLOT_EXPECTED, f"got {name}", reason)
    with pytest.raises(error, match=match):
        plot_history(obj, tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()


def test_the_command_line_refuses_a_saved_file_with_the_same_message(wrong, tmp_path):
    obj, _, name, reason = wrong
    path = tmp_path / "wrong.joblib"
    joblib.dump(obj, path)
    article = "an" if name[0] in "AEIOUaeiou" or name.startswith("LSTM") else "a"
    holds = f"the file holds {article} {name}"
    for command, args in (("info", ()), ("generate", (PROMPT,))):
        status, out, err = run(command, path, *args, "--trust-pickle")
        assert status == 1
        assert out == ""
        message = f"{command} expects {EXPECTED}; {holds}.{reason}"
        assert err == f"sklstm {command}: error: {message}\n"


def test_text_entry_points_refuse_a_model_fitted_on_ids(pipeline, tmp_path):
    on_ids = pipeline[-1]
    message = (
        "{} got text, but this LSTMTextGenerator was fitted on token ids and has "
        "no sequencer. Pass the pipeline that encoded them: "
        "sklstm.generate(pipeline, prompt)."
    )
    for where, call in (("generate", sklstm.generate), ("stream", sklstm.stream)):
        with pytest.raises(TypeError, match=re.escape(message.format(where))):
            call(on_ids, PROMPT)
    path = tmp_path / "ids.joblib"
    joblib.dump(on_ids, path)
    status, _, err = run("generate", path, PROMPT, "--trust-pickle")
    assert status == 1
    assert err == f"sklstm generate: error: {message.format('generate')}\n"
    status, out, err = run("info", path, "--trust-pickle", "--json")  # no text
    assert status == 0, err
    assert json.loads(out)["level"] is None


@pytest.mark.parametrize("kind", list(NOT_FITTED_MODELS))
def test_every_entry_point_refuses_an_unfitted_model_as_its_methods_do(kind, tmp_path):
    obj = NOT_FITTED_MODELS[kind]()
    message = NOT_FITTED.format("LSTMTextGenerator")
    with pytest.raises(NotFittedError, match=f"^{re.escape(message)}$"):
        LSTMTextGenerator().generate("the ")  # the method's own error
    calls = [
        lambda: sklstm.generate(obj, PROMPT),
        lambda: sklstm.stream(obj, PROMPT),
        lambda: bits_per_character(obj, DOCS),
    ]
    if importlib.util.find_spec("matplotlib") is not None:
        from sklstm.plotting import plot_history

        calls.append(lambda: plot_history(obj))
    for call in calls:
        with pytest.raises(NotFittedError, match=f"^{re.escape(message)}$"):
            call()
    path = tmp_path / "unfitted.joblib"
    joblib.dump(obj, path)
    for command, args in (("info", ()), ("generate", (PROMPT,))):
        status, out, err = run(command, path, *args, "--trust-pickle")
        assert (status, out) == (1, "")
        assert err == f"sklstm {command}: error: {message}\n"
