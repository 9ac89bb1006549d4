"""What the commands share: reading documents, loading model files, joining
words."""

from pathlib import Path

import joblib
from corpora import TEXT_FILES as DOCS
from helpers import assert_user_error, run

from sklstm import TextSequencer
from sklstm.cli import join_text, read_documents, split_paragraphs


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
