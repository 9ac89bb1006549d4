"""``sklstm generate``: the prompt, its streamed continuation and every control."""

import io
import sys

from helpers import assert_user_error, run

import sklstm
from sklstm.cli import main


def test_generate_help_shows_the_generation_defaults(capsys):
    assert main(["generate", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--max-new-tokens N most tokens to generate (default: 100)" in out
    assert "0 is greedy" in out
    assert "--trust-pickle" in out and "--interactive" in out


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
