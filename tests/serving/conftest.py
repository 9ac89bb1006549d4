"""The served model, its application and a client, once per test module of
the server (all need the serve extra)."""

import pytest

pytest.importorskip("starlette", reason="needs the serve extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from starlette.testclient import TestClient  # noqa: E402

from sklstm.serving import create_app  # noqa: E402


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
