"""``sklstm evaluate``: bits per character and perplexity on held-out text."""

import json
import math
import re

import pytest
from corpora import TEXT_FILES as DOCS
from helpers import assert_user_error, run

import sklstm
from sklstm.cli import main, read_documents


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


def test_evaluate_input_errors(trained, tmp_path):
    status, _, err = run("evaluate", trained[0], tmp_path / "nothing.txt")
    assert_user_error(status, err, "evaluate")
    assert main(["evaluate", str(trained[0])]) == 2  # PATHS are required
