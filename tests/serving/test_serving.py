"""``create_app`` and ``serve``: the serving package's public API and the
server that ``sklstm serve`` runs."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import AUTH, KEY, ROOT, sse_payloads

pytest.importorskip("starlette", reason="needs the serve extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")
httpx = pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from live_server import free_port  # noqa: E402

from sklstm.serving import create_app  # noqa: E402


def test_missing_starlette_names_the_install_command(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette", None)
    with pytest.raises(ImportError, match=r"pip install 'sklstm\[serve\]'"):
        create_app(model)


def test_invalid_server_settings_raise_clear_errors(model):
    with pytest.raises(ValueError, match="'max_batch' parameter of create_app"):
        create_app(model, max_batch=0)
    with pytest.raises(ValueError, match="'model_name' parameter of create_app"):
        create_app(model, model_name="")


def test_sklstm_serve_answers_over_http(saved, model):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    env["SKLSTM_API_KEY"] = KEY
    command = [sys.executable, "-m", "sklstm", "serve", str(saved / "tiny.sklstm"),
               "--port", str(port), "--no-warm-up", "--max-batch", "4"]  # fmt: skip
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # bounded: until the server answers or the deadline
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "sklstm serve did not start"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        models = httpx.get(f"{url}/v1/models", headers=AUTH, timeout=10).json()
        assert models["data"][0]["id"] == "tiny"
        assert httpx.get(f"{url}/v1/models", timeout=10).status_code == 401
        reply = httpx.post(
            f"{url}/v1/completions",
            json={"model": "tiny", "prompt": "the ", "max_tokens": 25, "seed": 2},
            headers=AUTH,
            timeout=120,
        )
        assert reply.status_code == 200
        text = reply.json()["choices"][0]["text"]
        assert text == model.generate("the ", max_new_tokens=25, random_state=2)
        request = {"prompt": "the ", "max_tokens": 25, "seed": 2, "stream": True}
        with httpx.stream(
            "POST", f"{url}/v1/completions", json=request, headers=AUTH, timeout=120
        ) as events:
            payloads = sse_payloads(list(events.iter_lines()))
        assert payloads[-1] == "[DONE]"
        pieces = [json.loads(p)["choices"][0]["text"] for p in payloads[:-1]]
        assert "".join(pieces) == text
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
    assert server.returncode == 0


def test_serve_is_part_of_the_public_api():
    import sklstm.serving

    assert sklstm.serve is sklstm.serving.serve
    assert "serve" in sklstm.__all__
