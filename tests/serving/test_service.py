"""Concurrent requests are decoded together, each gets its own text, and
clients that leave free their rows."""

import asyncio
import time

import pytest
from helpers import complete

pytest.importorskip("starlette", reason="needs the serve extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")
httpx = pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from live_server import running  # noqa: E402

from sklstm.serving import create_app  # noqa: E402


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
