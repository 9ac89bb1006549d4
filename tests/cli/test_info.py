"""``sklstm info``: a saved model's parameters, vocabulary and history."""

import json
import re

from helpers import run


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
