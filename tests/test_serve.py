"""``sklstm serve``: the OpenAI-compatible HTTP API over a fitted model."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sklstm._inputs import encode

pytest.importorskip("starlette", reason="needs the serve extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")
httpx = pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from live_server import free_port, running  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from sklstm.serving import create_app  # noqa: E402

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model(served_model):
    return served_model


@pytest.fixture(scope="module")
def app(model):
    return create_app(
        model,
        model_name="tiny",
        max_batch=16,
        max_tokens_limit=200,
        max_prompt_tokens=100,
    )


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as client:
        yield client


def complete(client, **body):
    reply = client.post("/v1/completions", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def sse_payloads(lines):
    """The ``data:`` payloads of server-sent event lines, in order."""
    payloads = [line[len("data: ") :] for line in lines if line]
    assert all(line.startswith("data: ") for line in lines if line)
    return payloads


def test_models_lists_the_served_model(client):
    listing = client.get("/v1/models").json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["tiny"]
    assert listing["data"][0]["object"] == "model"
    assert client.get("/v1/models/tiny").json()["id"] == "tiny"
    missing = client.get("/v1/models/other")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"


def test_completion_equals_generate_with_the_same_seed(client, model):
    prompts = ["the qu", "to be"]
    body = complete(
        client, model="tiny", prompt=prompts, max_tokens=30, n=2, seed=3,
        temperature=0.8, stop=["zz"],
    )  # fmt: skip
    expected = model.generate(
        prompts, max_new_tokens=30, num_return_sequences=2, random_state=3,
        temperature=0.8, stop=["zz"],
    )  # fmt: skip
    assert body["object"] == "text_completion"
    assert body["model"] == "tiny"
    assert body["id"].startswith("cmpl-")
    assert isinstance(body["created"], int)
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert [c["text"] for c in body["choices"]] == expected
    ids = [encode(model, [p], "test", prompts=True)[0] for p in prompts]
    usage = body["usage"]
    assert usage["prompt_tokens"] == sum(len(s) for s in ids)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    for choice in body["choices"]:
        assert choice["finish_reason"] in ("length", "stop")
        if choice["finish_reason"] == "length":
            assert len(choice["text"]) == 30  # char level: a token per character


def test_finish_reasons_and_token_counts(client, model):
    # min_tokens = max_tokens bans the end of the document: exactly 12 tokens.
    body = complete(client, prompt="the ", max_tokens=12, min_tokens=12, seed=0)
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "length"
    assert len(choice["text"]) == 12
    assert body["usage"]["completion_tokens"] == 12
    full = model.generate("the ", max_new_tokens=40, min_new_tokens=40, temperature=0)
    stop = full[5:7]
    body = complete(
        client, prompt="the ", max_tokens=40, min_tokens=40, temperature=0, stop=stop
    )
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["text"] == full[: full.find(stop)]
    # Tokens up to the one that completed the stop string.
    assert body["usage"]["completion_tokens"] == full.find(stop) + len(stop)
    empty = complete(client, prompt="the ", max_tokens=0)
    assert empty["choices"][0]["text"] == ""
    assert empty["choices"][0]["finish_reason"] == "length"
    assert empty["usage"]["completion_tokens"] == 0


def test_echo_and_sklstm_controls(client, model):
    controls = dict(top_k=3, top_p=0.9, repetition_penalty=1.3, temperature=0.7)
    body = complete(client, prompt="a st", max_tokens=20, seed=5, echo=True, **controls)
    expected = model.generate("a st", max_new_tokens=20, random_state=5, **controls)
    assert body["choices"][0]["text"] == "a st" + expected


def test_streaming_sends_pieces_then_done(client):
    request = dict(prompt="the qu", max_tokens=40, min_tokens=40, seed=7)
    whole = complete(client, **request)["choices"][0]["text"]
    with client.stream(
        "POST",
        "/v1/completions",
        json={**request, "stream": True, "stream_options": {"include_usage": True}},
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        payloads = sse_payloads(list(reply.iter_lines()))
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    pieces = [c["choices"][0] for c in chunks if c["choices"]]
    assert len(pieces) > 2  # sent as it was made, not in one piece
    assert "".join(p["text"] for p in pieces) == whole
    assert [p["finish_reason"] for p in pieces[:-1]] == [None] * (len(pieces) - 1)
    assert pieces[-1]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 40
    assert all(c["object"] == "text_completion" for c in chunks)


async def _post_all(app, bodies):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        replies = await asyncio.gather(
            *[http.post("/v1/completions", json=b, timeout=120) for b in bodies]
        )
    return [r.json() for r in replies]


def _requests(count):
    prompts = ["the ", "a stitch", "to be or", "quick", "lazy dog", "time"]
    return [
        dict(
            prompt=prompts[i % len(prompts)], max_tokens=20 + i, min_tokens=10,
            seed=100 + i, temperature=0.5 + 0.05 * i,
            **({"top_k": 4} if i % 3 == 0 else {}),
        )
        for i in range(count)
    ]  # fmt: skip


def _expected(model, body):
    return model.generate(
        body["prompt"],
        max_new_tokens=body["max_tokens"],
        min_new_tokens=body["min_tokens"],
        random_state=body["seed"],
        temperature=body["temperature"],
        top_k=body.get("top_k"),
    )


def test_sixteen_concurrent_clients_are_batched_and_get_their_own_text(app, model):
    bodies = _requests(16)
    replies = asyncio.run(_post_all(app, bodies))
    for body, reply in zip(bodies, replies, strict=True):
        assert reply["choices"][0]["text"] == _expected(model, body)
    assert app.state.service.batcher.peak_rows > 1  # decoded together


def test_seeded_text_does_not_depend_on_the_batch(app, client):
    alone = complete(client, prompt="to be", max_tokens=30, seed=11, top_p=0.95)
    others = _requests(15)
    together = asyncio.run(
        _post_all(
            app, [dict(prompt="to be", max_tokens=30, seed=11, top_p=0.95)] + others
        )
    )
    assert together[0]["choices"] == alone["choices"]


def test_one_at_a_time_mode_gives_the_same_text(model):
    app = create_app(model, model_name="tiny", max_batch=1)
    bodies = _requests(4)
    replies = asyncio.run(_post_all(app, bodies))
    for body, reply in zip(bodies, replies, strict=True):
        assert reply["choices"][0]["text"] == _expected(model, body)
    assert app.state.service.batcher.peak_rows == 1
    app.state.service.close()


BAD_REQUESTS = [
    (b"{", 400, None, "not valid JSON"),
    (b"[1, 2]", 400, None, "must be a JSON object"),
    ({"prompt": 3}, 400, "prompt", "must be a string or a non-empty list"),
    ({"prompt": []}, 400, "prompt", "must be a string or a non-empty list"),
    ({"prompt": [1, 2]}, 400, "prompt", "token id prompts are not supported"),
    ({"max_tokens": "10"}, 400, "max_tokens", "must be an integer"),
    ({"max_tokens": -1}, 400, "max_tokens", "must be an integer >= 0"),
    ({"max_tokens": 201}, 400, "max_tokens", "at most 200 tokens"),
    ({"max_tokens": 5, "min_tokens": 6}, 400, "min_tokens", "from 0 to 5"),
    ({"temperature": -0.5}, 400, "temperature", "must be a number >= 0"),
    ({"temperature": "hot"}, 400, "temperature", "must be a number"),
    ({"top_p": 0}, 400, "top_p", r"must be a number > 0 and <= 1"),
    ({"n": 0}, 400, "n", "must be an integer from 1"),
    ({"n": 100, "prompt": ["a", "b"]}, 400, "n", "at most 128"),
    ({"stop": [""]}, 400, "stop", "non-empty"),
    ({"seed": -1}, 400, "seed", "from 0 to 4294967295"),
    ({"stream": "yes"}, 400, "stream", "true or false"),
    ({"repetition_penalty": 0}, 400, "repetition_penalty", "> 0"),
    ({"logprobs": 2}, 400, "logprobs", "not supported"),
    ({"frequency_penalty": 1}, 400, "frequency_penalty", "repetition_penalty"),
    ({"stream_options": {"include_usage": True}}, 400, "stream_options", "stream"),
    ({"max_len": 3}, 400, "max_len", "Unrecognized request argument"),
    ({"model": "gpt-4"}, 404, "model", "does not exist"),
    ({"prompt": "the " * 30}, 413, "prompt", "120 tokens long; .* at most 100"),
    ({"prompt": "a" * 20_000}, 413, "prompt", "20000 tokens long"),  # in a thread
    (b" " * (8 * 2**20 + 1), 413, None, "at most 8388608"),
]


@pytest.mark.parametrize(
    "body, status, param, match",
    BAD_REQUESTS,
    ids=[f"{i}-{b[2] or b[1]}" for i, b in enumerate(BAD_REQUESTS)],
)
def test_bad_request_gets_an_openai_error_and_the_server_goes_on(
    client, body, status, param, match
):
    if isinstance(body, bytes):
        reply = client.post("/v1/completions", content=body)
    else:
        reply = client.post("/v1/completions", json={"max_tokens": 3, **body})
    assert reply.status_code == status
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert re.search(match, error["message"]), error
    assert complete(client, prompt="the ", max_tokens=3)["choices"][0]["index"] == 0


def test_unknown_routes_and_methods_get_json_errors(client):
    reply = client.get("/v1/chat/completion")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"
    reply = client.get("/v1/completions")
    assert reply.status_code == 405
    assert reply.json()["error"]["type"] == "invalid_request_error"


def test_api_key_is_required_on_the_api_only(model):
    app = create_app(model, model_name="tiny", api_key=KEY)
    with TestClient(app) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            reply = client.post(
                "/v1/completions",
                json={"prompt": "a", "max_tokens": 2},
                headers=headers,
            )
            assert reply.status_code == 401
            assert reply.json()["error"]["code"] == "invalid_api_key"
            assert client.get("/v1/models", headers=headers).status_code == 401
        reply = client.post(
            "/v1/completions", json={"prompt": "a", "max_tokens": 2}, headers=AUTH
        )
        assert reply.status_code == 200
        assert client.get("/v1/models", headers=AUTH).status_code == 200
        assert client.get("/").status_code == 200  # the page asks for the key
        assert client.get("/health").json() == {"status": "ok"}


def test_a_failing_generation_answers_500_and_the_server_goes_on(app, client):
    sampler = app.state.service.batcher._sampler
    real = sampler.decode
    calls = []

    def fail_once(*args):
        if not calls:
            calls.append(1)
            raise RuntimeError("simulated failure")
        return real(*args)

    sampler.decode = fail_once
    try:
        reply = client.post("/v1/completions", json={"prompt": "a", "max_tokens": 4})
        assert reply.status_code == 500
        assert reply.json()["error"]["type"] == "server_error"
        assert "simulated failure" in reply.json()["error"]["message"]
        # The next request is served (its text may be empty: a tiny model
        # can end the document at once).
        after = complete(client, prompt="a", max_tokens=4, seed=0)
        assert after["choices"][0]["finish_reason"] in ("length", "stop")
        assert after["usage"]["prompt_tokens"] == 1
    finally:
        sampler.decode = real


def test_missing_starlette_names_the_install_command(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette", None)
    with pytest.raises(ImportError, match=r"pip install 'sklstm\[serve\]'"):
        create_app(model)


def test_invalid_server_settings_raise_clear_errors(model):
    with pytest.raises(ValueError, match="'max_batch' parameter of create_app"):
        create_app(model, max_batch=0)
    with pytest.raises(ValueError, match="'model_name' parameter of create_app"):
        create_app(model, model_name="")


def _wait_idle(batcher, timeout=60.0):
    deadline = time.monotonic() + timeout
    while any(batcher._slots) or batcher._waiting:
        assert time.monotonic() < deadline, "the batcher did not stop the rows"
        time.sleep(0.05)


def test_clients_that_disconnect_free_their_rows(model):
    # 100,000 tokens take many seconds; disconnecting stops them early.
    app = create_app(model, model_name="tiny", max_tokens_limit=100_000)
    batcher = app.state.service.batcher
    body = {"prompt": "the ", "max_tokens": 100_000, "min_tokens": 100_000}
    with running(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        with http.stream("POST", "/v1/completions", json={**body, "stream": True}) as r:
            first = next(r.iter_lines())
            assert first.startswith("data: ")
        _wait_idle(batcher)
        assert batcher.calls < 100_000 // 8 // 2
        calls = batcher.calls
        with pytest.raises(httpx.ReadTimeout):
            http.post("/v1/completions", json=body, timeout=1.0)
        _wait_idle(batcher)
        assert batcher.calls - calls < 100_000 // 8 // 2
        reply = http.post("/v1/completions", json={"prompt": "a", "max_tokens": 5})
        assert reply.status_code == 200


@pytest.fixture(scope="module")
def saved(served_files):
    return served_files


def test_serve_command_refuses_pickle_without_trust(saved, capsys):
    from sklstm.cli import main

    assert main(["serve", str(saved / "tiny.joblib"), "--port", "1"]) == 1
    assert "--trust-pickle" in capsys.readouterr().err


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
