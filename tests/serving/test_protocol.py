"""Bad completion requests get OpenAI-style errors, and the server goes on."""

import re

import pytest
from helpers import complete

pytest.importorskip("starlette", reason="needs the serve extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")


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
