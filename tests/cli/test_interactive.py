"""``sklstm generate --interactive``: a text built token by token."""

import io
import re
import sys

import joblib
import numpy as np
from helpers import run


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
