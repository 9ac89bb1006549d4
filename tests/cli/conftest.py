"""Models that ``sklstm train`` fits once per test session, for the command line.

Every fixture here is read only: tests read the saved files and the models
loaded from them, and write files of their own in ``tmp_path``.
"""

import pytest
from corpora import TEXT_FILES as DOCS
from corpora import TINY_ARGS as TINY
from helpers import run

import sklstm

# Characters of two to four UTF-8 bytes, which subword tokens may split.
ACCENTED = {
    "a.txt": "caf\u00e9 na\u00efve r\u00e9sum\u00e9, 5 \u20ac.\n" * 4,
    "b.txt": "the caf\u00e9 sold cr\u00e8me br\u00fbl\u00e9e \U0001f370.\n" * 4,
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    for name, text in DOCS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "notes.md").write_text("not a .txt file\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def trained(corpus, tmp_path_factory):
    """A char model trained by ``sklstm train`` on the folder: (path, stdout)."""
    path = tmp_path_factory.mktemp("models") / "char.sklstm"
    status, out, err = run("train", corpus, *TINY, "--epochs", "2", "-o", path)
    assert status == 0, err
    return path, out


@pytest.fixture(scope="session")
def model(trained):
    return sklstm.load(trained[0])


@pytest.fixture(scope="session")
def word_joblib(corpus, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "word.joblib"
    status, _, err = run(
        "train", corpus / "a.txt", "--level", "word", *TINY,
        "--sequence-length", "4", "-o", path, "--quiet", "--training-kernel", "keras",
        "--weight-dropout", "0.3", "--embedding-dropout", "0.1", "--tie-weights",
    )  # fmt: skip
    assert status == 0, err
    return path


@pytest.fixture(scope="session")
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
