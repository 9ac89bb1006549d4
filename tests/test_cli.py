"""The ``sklstm`` command line: train, generate, evaluate, info, plot."""

import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from corpora import TINY_ARGS as TINY

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer
from sklstm.callbacks import BestWeights
from sklstm.cli import join_text, main, read_documents, split_paragraphs

DOCS = {
    "a.txt": "the cat sat on the mat. the dog sat on the log.\n" * 3,
    "b.txt": "a bird sang in the tree while the cat slept.\n" * 3,
    "sub/c.txt": "the dog ran to the log and the cat ran away.\n" * 3,
}
# Characters of two to four UTF-8 bytes, which subword tokens may split.
ACCENTED = {
    "a.txt": "caf\u00e9 na\u00efve r\u00e9sum\u00e9, 5 \u20ac.\n" * 4,
    "b.txt": "the caf\u00e9 sold cr\u00e8me br\u00fbl\u00e9e \U0001f370.\n" * 4,
}
ROOT = Path(__file__).resolve().parent.parent


def run(*argv):
    """``main(argv)`` with its output captured: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def assert_user_error(status, err, command):
    assert status == 1
    assert err.startswith(f"sklstm {command}: error: ")
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    for name, text in DOCS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "notes.md").write_text("not a .txt file\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """A char model trained by ``sklstm train`` on the folder: (path, stdout)."""
    path = tmp_path_factory.mktemp("models") / "char.sklstm"
    status, out, err = run("train", corpus, *TINY, "--epochs", "2", "-o", path)
    assert status == 0, err
    return path, out


@pytest.fixture(scope="module")
def model(trained):
    return sklstm.load(trained[0])


@pytest.fixture(scope="module")
def word_joblib(corpus, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "word.joblib"
    status, _, err = run(
        "train", corpus / "a.txt", "--level", "word", *TINY,
        "--sequence-length", "4", "-o", path, "--quiet", "--training-kernel", "keras",
    )  # fmt: skip
    assert status == 0, err
    return path


@pytest.fixture(scope="module")
def subword_model(tmp_path_factory):
    """A subword model trained by ``sklstm train --vocab-size``: (path, model)."""
    folder = tmp_path_factory.mktemp("accents")
    for name, text in ACCENTED.items():
        (folder / name).write_text(text, encoding="utf-8")
    path = tmp_path_factory.mktemp("models") / "subword.sklstm"
    status, _, err = run(
        "train", folder, "--level", "subword", "--vocab-size", "270", *TINY,
        "-o", path, "--quiet",
    )  # fmt: skip
    assert status == 0, err
    return path, sklstm.load(path)


# --------------------------------------------------------------------- help
def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("train", "generate", "evaluate", "info", "plot"):
        assert command in out
    assert "examples:" in out


def test_train_help_shows_the_estimators_defaults(capsys):
    assert main(["train", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    options = out.split("options:", 1)[1]  # past the usage line
    defaults = LSTMTextGenerator().get_params()
    for option, name in [
        ("--epochs", "epochs"),
        ("--embedding-dim", "embedding_dim"),
        ("--sequence-length", "sequence_length"),
        ("--learning-rate", "learning_rate"),
        ("--validation-fraction", "validation_fraction"),
    ]:
        shown = re.search(rf"{option} \S+ .*?\(default: ([^)]*)\)", options)
        assert shown and shown.group(1) == str(defaults[name]), option
    assert "blank lines" in out  # a single file is split into paragraphs
    assert "sklstm train" in out  # examples


def test_train_options_set_the_estimator_parameters_they_name():
    from sklstm.cli import TRAIN_OPTIONS, build_parser, library_defaults, train_params

    defaults = library_defaults()[0]
    rows = [option for option in TRAIN_OPTIONS if option.param is not None]
    assert len(rows) >= 10 and all(option.param in defaults for option in rows)
    parser = build_parser("train")
    given = ["--units", "8,4", "--dropout", "0.25", "--level", "word"]
    params = train_params(parser.parse_args(["train", *given]), LSTMTextGenerator())
    assert params.pop("units") == (8, 4) and params.pop("dropout") == 0.25
    assert params.pop("sequencer__level") == "word"
    assert params == {name: defaults[name] for name in params}  # the rest
    assert "max_time" not in params  # passed only when given
    args = parser.parse_args(["train", "--max-time", "3"])
    assert train_params(args, LSTMTextGenerator())["max_time"] == 3.0


def test_generate_help_shows_the_generation_defaults(capsys):
    assert main(["generate", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--max-new-tokens N most tokens to generate (default: 100)" in out
    assert "0 is greedy" in out
    assert "--trust-pickle" in out and "--interactive" in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["fly"],
        ["train", "--epochs", "many"],
        ["train", "--units", "8,x"],
        ["generate"],
        ["generate", "m.sklstm", "--temperature", "hot"],
        ["info", "m.sklstm", "--colour"],
    ],
)
def test_usage_errors_exit_with_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: sklstm" in err and "Traceback" not in err


def test_python_m_sklstm_runs_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "sklstm", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: sklstm" in result.stdout


def test_console_script_runs_the_command_line():
    script = Path(sys.executable).parent / "sklstm"
    if not script.exists():
        pytest.skip("the sklstm console script is not installed")
    result = subprocess.run(
        [str(script), "info", "--help"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "usage: sklstm info" in result.stdout


TF_START_UP = ("oneDNN custom operations", "cuda drivers", "absl::InitializeLog")


def _python_m_sklstm(*argv, level=None):
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    return subprocess.run(
        [sys.executable, "-m", "sklstm", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )


def test_tensorflows_start_up_lines_do_not_reach_the_terminal(trained):
    # ``info`` loads a model, ``generate --help`` the library's defaults:
    # both import TensorFlow.
    for argv in (["info", trained[0]], ["generate", "--help"]):
        result = _python_m_sklstm(*argv)
        assert result.returncode == 0, result.stderr
        assert not [line for line in TF_START_UP if line in result.stderr]
        assert result.stdout


def test_a_users_own_tensorflow_log_level_is_respected():
    result = _python_m_sklstm("generate", "--help", level="0")
    assert result.returncode == 0, result.stderr
    assert any(line in result.stderr for line in TF_START_UP)
    assert "usage: sklstm generate" in result.stdout


# -------------------------------------------------------------- documents
def test_documents_one_per_file_and_paragraphs_of_a_single_file(corpus, tmp_path):
    docs, _ = read_documents([corpus])  # recursive, *.txt only
    assert sorted(docs) == sorted(DOCS.values())
    docs, _ = read_documents([corpus], pattern="*.md")
    assert docs == ["not a .txt file"]  # one file: its paragraphs

    text = "First para\nstill first.\n\n\n  Second, indented.\n \t\nThird.\n"
    (tmp_path / "one.txt").write_text(text, encoding="utf-8")
    expected = ["First para\nstill first.", "  Second, indented.", "Third."]
    assert split_paragraphs(text) == expected
    assert read_documents([tmp_path / "one.txt"])[0] == expected


# -------------------------------------------------------------------- train
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


# ----------------------------------------------------------------- generate
def test_generate_streams_the_prompt_and_its_continuation(trained, model):
    status, out, err = run(
        "generate", trained[0], "the ", "--max-new-tokens", "30", "--seed", "3"
    )
    assert status == 0, err
    expected = model.generate("the ", max_new_tokens=30, random_state=3)
    assert out.rstrip("\n") == "the " + expected.rstrip("\n")
    status, out, _ = run(
        "generate", trained[0], "the ", "--max-new-tokens", "30", "--seed", "3",
        "--no-prompt",
    )  # fmt: skip
    assert out.rstrip("\n") == expected.rstrip("\n")


def test_generate_passes_every_control(trained, monkeypatch):
    seen = []

    def fake_stream(fitted, prompt, **controls):
        seen.append((prompt, controls))
        yield "ok"

    monkeypatch.setattr(sklstm, "stream", fake_stream)
    status, out, err = run(
        "generate", trained[0], "the", "--max-new-tokens", "7",
        "--min-new-tokens", "2", "--temperature", "0", "--top-k", "5",
        "--top-p", "0.9", "--repetition-penalty", "1.2", "--stop", r"\n\n",
        "--stop", "cat", "--no-stop-at-eod", "--seed", "11",
    )  # fmt: skip
    assert status == 0, err
    assert out == "theok\n"  # char level: no space added
    assert seen == [
        (
            "the",
            dict(
                max_new_tokens=7,
                min_new_tokens=2,
                temperature=0.0,
                top_k=5,
                top_p=0.9,
                repetition_penalty=1.2,
                stop=["\n\n", "cat"],
                stop_at_eod=False,
                random_state=11,
            ),
        )
    ]
    seen.clear()
    assert run("generate", trained[0], "--temperature", "1,0.5")[0] == 0
    assert seen == [("", {"temperature": [1.0, 0.5]})]  # library defaults


def test_temperature_zero_is_greedy(trained):
    outputs = {
        run("generate", trained[0], "the", "--temperature", "0", "--seed", seed)[1]
        for seed in ("0", "1")
    }
    assert len(outputs) == 1


def test_generate_several_sequences_with_separators(trained, model):
    argv = ["generate", trained[0], "a ", "-n", "2", "--max-new-tokens", "12"]
    status, out, err = run(*argv, "--seed", "5")
    assert status == 0, err
    texts = model.generate("a ", max_new_tokens=12, num_return_sequences=2,
                           random_state=5)  # fmt: skip
    assert "--- sequence 1 of 2 ---\na " + texts[0] in out
    assert "--- sequence 2 of 2 ---\na " + texts[1] in out


def test_prompt_from_stdin_or_a_file(trained, monkeypatch, tmp_path):
    prompts = []

    def fake_stream(fitted, prompt, **controls):
        prompts.append(prompt)
        yield ""

    monkeypatch.setattr(sklstm, "stream", fake_stream)
    monkeypatch.setattr(sys, "stdin", io.StringIO("the dog\n"))
    assert run("generate", trained[0], "-")[0] == 0
    (tmp_path / "p.txt").write_text("a bird\n\n", encoding="utf-8")
    assert run("generate", trained[0], "--prompt-file", tmp_path / "p.txt")[0] == 0
    assert prompts == ["the dog", "a bird\n"]  # one final line break dropped

    status, _, err = run("generate", trained[0], "x", "--prompt-file", "p.txt")
    assert status == 2 and "not both" in err
    status, _, err = run("generate", trained[0], "-", "--interactive")
    assert status == 2 and "standard input" in err


def test_invalid_generation_values_are_errors(trained):
    for args, message in [
        (["--top-k", "0"], "'top_k' parameter"),
        (["--top-p", "1.5"], "'top_p' parameter"),
        (["--min-new-tokens", "9", "--max-new-tokens", "3"], "min_new_tokens"),
    ]:
        status, out, err = run("generate", trained[0], "the", *args)
        assert_user_error(status, err, "generate")
        assert message in err and out == ""


def test_pickle_files_load_only_when_trusted(word_joblib):
    status, _, err = run("generate", word_joblib, "the")
    assert_user_error(status, err, "generate")
    assert "--trust-pickle" in err and "runs whatever code" in err
    status, out, err = run(
        "generate", word_joblib, "the", "--trust-pickle", "--max-new-tokens", "3",
        "--seed", "0",
    )  # fmt: skip
    assert status == 0, err
    fitted = joblib.load(word_joblib)
    continuation = fitted.generate("the", max_new_tokens=3, random_state=0)
    assert out == join_text(fitted.sequencer_, "the", continuation) + "\n"


def test_words_are_joined_as_the_sequencer_detokenises():
    word = TextSequencer(level="word", strip_punctuation=False).fit(["a (b) c."])
    assert join_text(word, "the", "cat sat") == "the cat sat"
    assert join_text(word, "the cat", ".") == "the cat."
    assert join_text(word, "see (", "this") == "see (this"
    assert join_text(word, "the ", "cat") == "the cat"
    assert join_text(word, "", "cat") == "cat"
    char = TextSequencer().fit(["ab"])
    assert join_text(char, "a", "b") == "ab"


# -------------------------------------------------------------- interactive
def interact(path, commands, *args, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{c}\n" for c in commands)))
    return run("generate", path, *args, "--interactive")


def choice_rows(out):
    """The numbered choices of each step: list of [(label, percent)]."""
    steps = []
    for block in out.split("\n--- text (")[1:]:
        rows = re.findall(r"^ +\d+  (.+?) +(\d+\.\d\d)%$", block, flags=re.M)
        steps.append([(label, float(p)) for label, p in rows])
    return steps


def test_interactive_choices_commands_and_generation(trained, model, monkeypatch):
    commands = ["1", ":b", ":b", "hello", r"\:q", ":x", "99", ":g 4", ":q"]
    status, out, err = interact(
        trained[0], commands, "the", "--top-n", "3", "--seed", "0",
        monkeypatch=monkeypatch,
    )  # fmt: skip
    assert status == 0, err
    # The choices are the model's most likely next tokens.
    proba = model.predict_proba(["the"])[0]
    proba[:2] = -1  # padding and out-of-vocabulary are never offered
    top = np.argsort(-proba, kind="stable")[:3]
    tokens = model.sequencer_.inverse_transform([[i] for i in top])
    first = choice_rows(out)[0]
    assert [p for _, p in first] == [round(100 * proba[i], 2) for i in top]
    assert [label for label, _ in first] == [
        "<end of document>" if i == 2 else (repr(t) if t.isspace() else t)
        for i, t in zip(top, tokens, strict=True)
    ]
    assert "Nothing to undo." in out
    assert "Unknown command ':x'" in out
    assert "Choose a number from 1 to 3." in out
    generated = model.generate(
        "thehello:q", max_new_tokens=4, random_state=np.random.RandomState(0)
    )
    assert out.endswith(f"--- final text ---\nthehello:q{generated}\n")


def test_interactive_end_of_document_and_end_of_input(trained, model, monkeypatch):
    proba = model.predict_proba([""])[0]
    proba[:2] = -1
    rank = list(np.argsort(-proba, kind="stable")).index(2) + 1  # end of document
    n = model.vocab_size_ - 2
    commands = [str(rank), "more", ":b", "x"]  # then end of input
    status, out, err = interact(
        trained[0], commands, "--top-n", str(n), monkeypatch=monkeypatch
    )
    assert status == 0, err
    assert "<end of document>" in out and "--- end of document ---" in out
    assert "The document has ended" in out
    assert out.endswith("--- final text ---\nx\n")
    assert len(choice_rows(out)[0]) == n


def test_interactive_builds_the_text_from_ids_at_word_level(word_joblib, monkeypatch):
    fitted = joblib.load(word_joblib)
    proba = fitted.predict_proba(["The"])[0]
    proba[:2] = -1
    order = [int(i) for i in np.argsort(-proba, kind="stable")]
    k = next(k for k, i in enumerate(order) if i != 2)  # not end of document
    word = fitted.sequencer_.inverse_transform([[order[k]]])[0]
    status, out, err = interact(
        word_joblib, [str(k + 1), "Dog"], "The", "--trust-pickle", "--top-n", "3",
        monkeypatch=monkeypatch,
    )  # fmt: skip
    assert status == 0, err
    # The prompt and typed words are kept as typed, picked words decoded.
    assert out.endswith(f"--- final text ---\nThe {word} Dog\n")


def rank(model, ids, token):
    """Where ``token`` is among the choices shown after ``ids`` (from 1)."""
    proba = model.predict_proba([np.array(ids, dtype=np.int32)])[0]
    proba[:2] = -1
    return list(np.argsort(-proba, kind="stable")).index(token) + 1


def test_interactive_picks_tokens_that_are_parts_of_a_character(
    subword_model, monkeypatch
):
    from sklstm.sequencer import _BYTE_OF_CHAR

    path, model = subword_model
    char_of_byte = {b: c for c, b in _BYTE_OF_CHAR.items()}
    lead, tail = (model.sequencer_.vocabulary_[char_of_byte[b]] for b in b"\xc3\xa9")
    prompt = [int(i) for i in model.sequencer_.transform(["caf"])[0]]
    first = rank(model, prompt, lead)
    second = rank(model, [*prompt, lead], tail)
    n = model.vocab_size_ - 2  # every token is a choice
    commands = [str(first), str(second), ":b", ":b", str(first), str(second), "!"]
    status, out, err = interact(
        path, commands, "caf", "--top-n", n, monkeypatch=monkeypatch
    )
    assert status == 0, err
    steps = out.split("\n--- text (")[1:]
    # The first byte of "\u00e9" adds no character yet: it shows as a byte,
    # and the text stays "caf"; the second completes the character.
    assert re.search(rf"^ *{first}  <bytes C3> +\d", steps[0], flags=re.M)
    assert steps[1].startswith("3 characters) ---\ncaf")
    assert re.search(rf"^ *{second}  \u00e9 +\d", steps[1], flags=re.M)
    assert steps[2].startswith("4 characters) ---\ncaf\u00e9")
    assert "Nothing to undo." not in out
    assert out.endswith("--- final text ---\ncaf\u00e9!\n")


# ----------------------------------------------------------------- evaluate
def test_evaluate_prints_bits_per_character_and_perplexity(trained, model, corpus):
    status, out, err = run("evaluate", trained[0], corpus / "sub", "--json")
    assert status == 0, err
    result = json.loads(out)
    docs, _ = read_documents([corpus / "sub"])  # one file: its paragraphs
    assert docs == [DOCS["sub/c.txt"].strip()]
    assert result["documents"] == 1
    assert result["bits_per_character"] == pytest.approx(
        sklstm.bits_per_character(model, docs), rel=1e-6
    )
    assert result["perplexity"] == pytest.approx(math.exp(-model.score(docs)))
    assert result["tokens"] == len(docs[0]) + 1  # char level, end included

    status, out, _ = run("evaluate", trained[0], corpus)
    assert status == 0
    assert "bits per character" in out and "perplexity per token" in out
    assert re.search(r"documents +3$", out, flags=re.M)


def _copies_lines(report, where, label):
    """The summary line and the first listed copy, as the CLI prints them."""
    summary = (
        f"{report['copied_fraction']:.1%} of {report['total_chars']:,} characters "
        f"lie in copies of at least {report['min_chars']} characters from {where}; "
        f"longest copy: {report['longest_copy']:,} characters"
    )
    top = max(report["spans"], key=lambda s: s["length"])
    first = (
        f"  {label} {top['text'] + 1}, characters {top['start']:,}-{top['end']:,} "
        f"({top['length']:,}): document {top['document'] + 1}, character "
        f"{top['position']:,}: "
    )
    return summary, first


def test_generate_reports_copied_text(trained, model, corpus):
    argv = ["generate", trained[0], "the ", "-n", "2", "--max-new-tokens", "60"]
    status, out, err = run(*argv, "--seed", "4", "--check-copies", corpus,
                           "--min-chars", "2")  # fmt: skip
    assert status == 0, err
    texts = model.generate("the ", max_new_tokens=60, num_return_sequences=2,
                           random_state=4)  # fmt: skip
    docs, where = read_documents([corpus])
    report = sklstm.copied_text(texts, docs, min_chars=2)
    assert report["spans"]  # two characters: some copies, even from this model
    text_part, report_part = out.split("\ncopied text: ")
    assert "--- sequence 2 of 2 ---\nthe " + texts[1] in text_part
    summary, first = _copies_lines(report, where, "sequence")
    assert report_part.startswith(summary + "\n" + first)
    status, out, err = run(*argv, "--check-copies", corpus / "missing")
    assert_user_error(status, err, "generate")
    assert not out  # the corpus is read before generating
    assert main(["generate", str(trained[0]), "--check-copies", str(corpus),
                 "--min-chars", "0"]) == 2  # fmt: skip


def test_evaluate_reports_copied_text_of_samples(trained, model, corpus):
    argv = [
        "evaluate",
        trained[0],
        corpus / "sub",
        "--check-copies",
        corpus,
        "--min-chars",
        "2",
        "--copy-samples",
        "3",
        "--copy-tokens",
        "40",
    ]
    # fmt: skip
    status, out, err = run(*argv, "--json")
    assert status == 0, err
    samples = model.generate("", max_new_tokens=40, num_return_sequences=3,
                             random_state=0)  # fmt: skip
    docs, where = read_documents([corpus])
    report = sklstm.copied_text(samples, docs, min_chars=2)
    assert report["spans"] and json.loads(out)["copies"] == report
    status, out, err = run(*argv)
    assert status == 0, err
    summary, first = _copies_lines(report, where, "sample")
    assert f"copied text in 3 sample(s) of up to 40 tokens (seed 0): {summary}\n" in out
    assert first in out


def test_evaluate_input_errors(trained, tmp_path):
    status, _, err = run("evaluate", trained[0], tmp_path / "nothing.txt")
    assert_user_error(status, err, "evaluate")
    assert main(["evaluate", str(trained[0])]) == 2  # PATHS are required


# --------------------------------------------------------------------- info
def test_info_table_and_json(trained, model):
    status, out, err = run("info", trained[0], "--json")
    assert status == 0, err
    info = json.loads(out)
    assert info["level"] == "char"
    assert info["vocab_size"] == model.vocab_size_
    assert info["parameters"] == model.model_.count_params()
    assert (info["epochs"], info["best_epoch"]) == (2, model.best_epoch_ + 1)
    assert info["history"] == model.history_
    assert info["params"]["units"] == 8
    assert info["params"]["sequencer__level"] == "char"
    assert "sequencer" not in info["params"]

    status, out, _ = run("info", trained[0])
    assert status == 0
    assert re.search(r"^vocabulary size +\d+$", out, flags=re.M)
    assert re.search(r"^epoch +loss +accuracy +val_loss +val_accuracy$", out, re.M)
    assert re.search(rf"^{model.best_epoch_ + 1} \* ", out, flags=re.M)


def test_info_on_a_trusted_pickle(word_joblib):
    status, out, err = run("info", word_joblib, "--trust-pickle", "--json")
    assert status == 0, err
    assert json.loads(out)["level"] == "word"


def test_model_file_errors(trained, tmp_path):
    damaged = tmp_path / "damaged.sklstm"
    data = Path(trained[0]).read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    (tmp_path / "text.sklstm").write_text("hello", encoding="utf-8")
    joblib.dump({"not": "a model"}, tmp_path / "dict.joblib")
    cases = [
        ([tmp_path / "missing.sklstm"], "no such file"),
        ([tmp_path], "is a folder"),
        ([damaged], "not a readable sklstm model file"),
        ([tmp_path / "text.sklstm"], "not a readable sklstm model file"),
        ([tmp_path / "dict.joblib", "--trust-pickle"], "holds a dict"),
    ]
    for args, message in cases:
        for command in ("info", "generate"):
            status, _, err = run(command, *args)
            assert_user_error(status, err, command)
            assert message in err, err


# --------------------------------------------------------------------- plot
def test_plot_saves_the_learning_curves(trained, model, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    status, out, err = run("plot", trained[0], "-o", path)
    assert status == 0, err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out == (
        f"Saved the learning curves of 2 epochs (best: epoch "
        f"{model.best_epoch_ + 1}) to {path}\n"
    )
    status, _, err = run("plot", trained[0], "-o", tmp_path / "curves.nope")
    assert_user_error(status, err, "plot")
    assert "not supported" in err


def test_plot_refuses_pickles_and_needs_matplotlib(word_joblib, tmp_path, monkeypatch):
    status, _, err = run("plot", word_joblib, "-o", tmp_path / "c.png")
    assert_user_error(status, err, "plot")
    assert "--trust-pickle" in err
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    status, _, err = run("plot", word_joblib, "-o", tmp_path / "c.png")
    assert_user_error(status, err, "plot")
    assert 'pip install "sklstm[plot]"' in err
    assert not (tmp_path / "c.png").exists()


def test_main_reads_sys_argv(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sklstm", "--version"])
    assert main() == 0
    assert capsys.readouterr().out.strip() == f"sklstm {sklstm.__version__}"
