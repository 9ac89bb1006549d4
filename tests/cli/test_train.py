"""``sklstm train``: fitting on text files or the embedded corpus, and saving."""

import contextlib
import io
import math
import re

import joblib
import keras
import pytest
from corpora import TEXT_FILES as DOCS
from corpora import TINY_ARGS as TINY
from helpers import assert_user_error, run

import sklstm
from sklstm import LSTMTextGenerator
from sklstm.callbacks import BestWeights
from sklstm.cli import main


def test_train_on_a_folder_saves_a_safe_model_and_summarises(trained, model):
    path, out = trained
    assert "Training on 3 documents" in out  # sub/c.txt in, notes.md out
    assert "Epoch 2/2" in out  # one line per epoch when not on a terminal
    assert "Trained 2 epochs" in out
    best = model.best_epoch_
    bpc = model.history_["val_loss"][best] / math.log(2)
    assert f"weights of epoch {best + 1}" in out
    assert f"{bpc:.4f} bits per character" in out
    assert f"Saved to {path}" in out
    params = model.get_params()
    assert (params["units"], params["embedding_dim"], params["epochs"]) == (8, 4, 2)
    assert params["random_state"] == 0 and model.n_epochs_ == 2
    assert model.training_kernel_ == "fused"  # "auto" on a CPU


def test_train_joblib_output_and_word_level(word_joblib):
    fitted = joblib.load(word_joblib)
    assert isinstance(fitted, LSTMTextGenerator)
    assert fitted.sequencer_.level == "word"
    assert fitted.training_kernel == fitted.training_kernel_ == "keras"
    # The regularisers' options reach the estimator.
    assert (fitted.weight_dropout, fitted.embedding_dropout) == (0.3, 0.1)
    embedding = fitted.model_.get_layer("embedding")
    assert fitted.tie_weights is True
    assert isinstance(embedding, keras.layers.ReversibleEmbedding)  # shared


def test_train_without_paths_uses_the_embedded_corpus(monkeypatch, tmp_path):
    calls = []

    def small_docs():
        calls.append(1)
        return list(DOCS.values())

    monkeypatch.setattr(sklstm, "load_python_docs", small_docs)
    status, out, err = run("train", *TINY, "-o", tmp_path / "m.sklstm")
    assert status == 0, err
    assert calls and "Training on 3 documents" in out and "embedded corpus" in out
    assert (tmp_path / "m.sklstm").exists()


@pytest.mark.parametrize(
    ("tty", "quiet", "verbose"), [(True, False, 1), (False, False, 2), (True, True, 0)]
)
def test_train_progress_follows_the_terminal(
    tty, quiet, verbose, corpus, tmp_path, monkeypatch
):
    seen = []

    def fit(self, X, y=None):
        seen.append(self.verbose)
        raise KeyboardInterrupt

    monkeypatch.setattr(LSTMTextGenerator, "fit", fit)
    out = io.StringIO()
    out.isatty = lambda: tty
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        argv = ["train", str(corpus), "-o", str(tmp_path / "m.sklstm")]
        status = main(argv + ["--quiet"] * quiet)
    assert seen == [verbose]
    assert status == 130  # interrupted before training: nothing saved
    assert not (tmp_path / "m.sklstm").exists()


def test_interrupted_training_saves_the_best_epoch(corpus, tmp_path, monkeypatch):
    original = BestWeights.on_epoch_end

    def stop_after_first(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt

    monkeypatch.setattr(BestWeights, "on_epoch_end", stop_after_first)
    path = tmp_path / "m.sklstm"
    status, out, err = run("train", corpus, *TINY, "--epochs", "3", "-o", path)
    assert status == 0
    assert "interrupted" in err and str(path) in err
    assert "Traceback" not in err
    assert sklstm.load(path).n_epochs_ == 1


def test_interrupted_before_an_epoch_ends_saves_nothing(corpus, tmp_path, monkeypatch):
    def interrupt(self, logs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(BestWeights, "on_train_begin", interrupt)
    path = tmp_path / "m.sklstm"
    status, _, err = run("train", corpus, *TINY, "-o", path)
    assert status == 130
    assert "nothing saved" in err
    assert not path.exists()


def test_train_reports_library_warnings_tidily(tmp_path):
    (tmp_path / "one.txt").write_text(DOCS["a.txt"], encoding="utf-8")  # 1 para
    path = tmp_path / "m.sklstm"
    args = ("--validation-fraction", "0.001", "-o", path, "-q")  # 0 tokens
    status, out, err = run("train", tmp_path / "one.txt", *TINY, *args)
    assert status == 0
    assert re.search(r"^sklstm train: warning: validation_fraction=", err, re.M)
    assert "Training loss:" in out  # no validation loss to report


def test_max_time_is_passed_on_or_refused(corpus, tmp_path, monkeypatch):
    seen = []

    def fit(self, X, y=None):
        seen.append((self.epochs, self.get_params().get("max_time")))
        raise KeyboardInterrupt

    monkeypatch.setattr(LSTMTextGenerator, "fit", fit)
    argv = ["train", corpus, "--max-time", "1.5", "--epochs", "none"]
    status, _, err = run(*argv, "-o", tmp_path / "m.sklstm")
    if "max_time" in LSTMTextGenerator().get_params():
        assert (status, seen) == (130, [(None, 1.5)])
    else:
        assert_user_error(status, err, "train")
        assert "--max-time is not supported" in err and not seen


def test_progress_with_a_time_budget_shows_the_budget(corpus, tmp_path):
    args = [a for a in TINY if a not in ("--epochs", "1")]
    status, out, err = run(
        "train", corpus, *args, "--max-time", "2", "--epochs", "none",
        "-o", tmp_path / "m.sklstm",
    )  # fmt: skip
    assert status == 0, err
    assert re.search(r"^epoch 1, \d+:\d\d of 0:02 - \d+/\d+ - ", out, re.M), out
    assert "Epoch" not in out and "1000000000" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--units", "0"], "'units' parameter"),
        (["--dropout", "1.5"], "'dropout' parameter"),
        (["--level", "word", "--max-words", "2"], "'max_words' parameter"),
    ],
)
def test_invalid_training_values_are_errors(args, message, corpus, tmp_path):
    status, _, err = run("train", corpus, *args, "-o", tmp_path / "m.sklstm")
    assert_user_error(status, err, "train")
    assert message in err


def test_vocab_size_sizes_a_subword_vocabulary(subword_model):
    _, model = subword_model
    assert model.sequencer_.level == "subword"
    assert model.get_params()["sequencer__vocab_size"] == 270
    assert 259 <= model.vocab_size_ <= 270


@pytest.mark.parametrize("level", ["char", "word"])
def test_vocab_size_at_another_level_is_an_error(level, corpus, tmp_path):
    path = tmp_path / "m.sklstm"
    status, _, err = run(
        "train", corpus, "--level", level, "--vocab-size", "300", "-o", path
    )
    assert_user_error(status, err, "train")
    assert "'vocab_size' parameter" in err and "subword vocabularies only" in err
    assert not path.exists()


def test_train_input_errors(corpus, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.txt").write_text(" \n\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    out = tmp_path / "m.sklstm"
    cases = [
        ([tmp_path / "missing", "-o", out], "no such file or folder"),
        ([tmp_path / "empty" / "blank.txt", "-o", out], "no text to use"),
        ([tmp_path / "empty", "--pattern", "*.rst", "-o", out], "no files matching"),
        ([tmp_path / "latin1.txt", "-o", out], "not UTF-8 text"),
        ([corpus, "-o", tmp_path / "no" / "m.sklstm"], "does not exist"),
        ([corpus, "-o", tmp_path], "is a folder"),
    ]
    for args, message in cases:
        status, _, err = run("train", *args)
        assert_user_error(status, err, "train")
        assert message in err, err
    assert not out.exists()


def test_train_stream_reads_each_file_from_disk(corpus, tmp_path):
    path = tmp_path / "streamed.sklstm"
    status, out, err = run("train", corpus, "--stream", *TINY, "-o", path)
    assert status == 0, err
    size = sum(len(text.encode("utf-8")) for text in DOCS.values())
    assert f"Training on {size:,} bytes of text from 3 files, streamed." in out
    fitted = sklstm.load(path)
    assert fitted.sequencer_.input == "filename"
    status, out, err = run("generate", path, "the ", "--max-new-tokens", "5")
    assert status == 0 and out.startswith("the "), err
    status, out, err = run("evaluate", path, corpus)  # files read as text again
    assert status == 0, err


def test_train_stream_errors(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    status, _, err = run("train", tmp_path / "latin1.txt", "--stream", *TINY)
    assert_user_error(status, err, "train")
    assert "cannot decode" in err and "latin1.txt" in err
    status, _, err = run("train", "--stream", *TINY)
    assert status == 2 and "--stream reads files" in err
