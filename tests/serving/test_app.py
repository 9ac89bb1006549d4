"""The OpenAI-compatible HTTP API of ``sklstm serve``: routes, completions,
streaming, authentication and errors."""

import json

import pytest
from helpers import AUTH, KEY, complete, sse_payloads

from sklstm._inputs import encode

pytest.importorskip("starlette", reason="needs the serve extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from starlette.testclient import TestClient  # noqa: E402

from sklstm.serving import create_app  # noqa: E402


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
