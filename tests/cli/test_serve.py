"""``sklstm serve``: the command's options and its refusals."""

import sys

import pytest

pytest.importorskip("starlette", reason="needs the serve extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")


def test_serve_command_refuses_pickle_without_trust(saved, capsys):
    from sklstm.cli import main

    assert main(["serve", str(saved / "tiny.joblib"), "--port", "1"]) == 1
    assert "--trust-pickle" in capsys.readouterr().err


def test_serve_help_and_usage_errors(capsys):
    from sklstm.cli import main

    assert main(["serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "address to bind (default: 127.0.0.1)" in out
    assert "--max-batch" in out and "--max-tokens-limit" in out
    assert "SKLSTM_API_KEY" in out and "--trust-pickle" in out
    assert main(["serve", "m.sklstm", "--port", "70000"]) == 2
    assert "--port must be from 0 to 65535" in capsys.readouterr().err


def test_serve_command_without_the_extra_names_the_install_command(
    saved, capsys, monkeypatch
):
    from sklstm.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve", str(saved / "tiny.sklstm")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sklstm serve: error: Serving models needs Starlette")
    assert "pip install 'sklstm[serve]'" in err
