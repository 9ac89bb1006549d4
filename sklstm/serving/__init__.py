"""Serve a fitted model over HTTP with an OpenAI-compatible API.

:func:`create_app` gives an ASGI application (Starlette) to run with any ASGI
server or to mount in your own; :func:`serve` runs it with uvicorn, as the
``sklstm serve`` command does. Both need the ``serve`` extra::

    pip install 'sklstm[serve]'

Endpoints: ``GET /v1/models``, ``POST /v1/completions`` (streaming with
server-sent events when ``"stream": true``), ``GET /health`` and a
playground page at ``/``. Concurrent requests are decoded together: a
request's sequences join the running batch at the next chunk of tokens and
leave it when they end, in one worker thread, so the server keeps answering
while it generates.
"""

from __future__ import annotations

_INSTALL = "pip install 'sklstm[serve]'"

__all__ = ["create_app", "serve"]


def require(*modules):
    """Import ``modules``, or raise ImportError naming the install command."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(
                f"Serving models needs Starlette and uvicorn, and {name!r} is not "
                f"installed. Install them with: {_INSTALL}"
            ) from exc


def create_app(
    model,
    *,
    model_name="sklstm",
    api_key=None,
    max_batch=64,
    max_tokens_limit=2048,
    max_prompt_tokens=4096,
    warm_up=False,
):
    """An ASGI application serving ``model`` with OpenAI's completions API.

    Parameters
    ----------
    model : LSTMTextGenerator, Pipeline or fitted search
        A fitted model that reads text, as :func:`sklstm.generate` takes.
    model_name : str, default="sklstm"
        The model id of ``GET /v1/models``; requests naming another model
        get 404.
    api_key : str or None, default=None
        When set, every ``/v1`` request needs ``Authorization: Bearer
        API_KEY`` (401 otherwise). The playground page itself is public.
    max_batch : int, default=64
        Most sequences decoded together; more wait for a free place. Memory
        grows with it (the batch holds ``max_batch`` x vocabulary logits).
        1 serves one sequence at a time.
    max_tokens_limit : int, default=2048
        Largest ``max_tokens`` a request may ask for (400 beyond).
    max_prompt_tokens : int, default=4096
        Longest prompt, in tokens (413 beyond).
    warm_up : bool, default=False
        Compile the generation loops of every batch size in the background
        at start (seconds each), so that the first requests do not wait for
        them.

    Returns
    -------
    app : starlette.applications.Starlette
        Its lifespan stops the worker thread at shutdown. Mounted in
        another app whose lifespan does not run it, the thread is a daemon
        and ends with the process.

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> from sklstm import LSTMTextGenerator
    >>> docs = ["the cat sat on the mat. " * 20, "the dog sat on the log. " * 20]
    >>> model = LSTMTextGenerator(units=16, embedding_dim=8, epochs=1,
    ...                           sequence_length=20, random_state=0).fit(docs)
    >>> app = create_app(model, model_name="cats")
    >>> with TestClient(app) as client:
    ...     reply = client.post("/v1/completions", json={
    ...         "model": "cats", "prompt": "the ", "max_tokens": 8, "seed": 0})
    >>> reply.json()["choices"][0]["text"] == model.generate(
    ...     "the ", max_new_tokens=8, random_state=0)
    True
    """
    require("starlette")
    from sklstm._validation import check_int
    from sklstm.serving._app import build_app
    from sklstm.serving._protocol import Limits
    from sklstm.serving._service import Service

    where = "create_app"
    limits = Limits(
        max_tokens=check_int(max_tokens_limit, "max_tokens_limit", where, min_value=1),
        max_prompt_tokens=check_int(
            max_prompt_tokens, "max_prompt_tokens", where, min_value=1
        ),
    )
    max_batch = check_int(max_batch, "max_batch", where, min_value=1)
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(
            f"The 'model_name' parameter of {where} must be a non-empty str. Got "
            f"{model_name!r} instead."
        )
    if api_key is not None and (not isinstance(api_key, str) or not api_key):
        raise ValueError(
            f"The 'api_key' parameter of {where} must be a non-empty str or None."
        )
    service = Service(
        model, name=model_name, limits=limits, max_batch=max_batch, warm_up=warm_up
    )
    return build_app(service, api_key=api_key)


def serve(
    model,
    *,
    host="127.0.0.1",
    port=8000,
    log_level="info",
    warm_up=True,
    **options,
):
    """Serve ``model`` over HTTP until interrupted (Ctrl+C).

    Runs :func:`create_app` with uvicorn. Binds the loopback address by
    default, so only this machine can connect; pass ``host="0.0.0.0"`` (and
    an ``api_key``) to serve a network.

    Parameters
    ----------
    model : LSTMTextGenerator, Pipeline or fitted search
    host : str, default="127.0.0.1"
    port : int, default=8000
    log_level : str, default="info"
        uvicorn's log level.
    warm_up : bool, default=True
        See :func:`create_app`.
    **options
        The other parameters of :func:`create_app` (``model_name``,
        ``api_key``, ``max_batch``, ``max_tokens_limit``,
        ``max_prompt_tokens``).
    """
    require("starlette", "uvicorn")
    import uvicorn

    app = create_app(model, warm_up=warm_up, **options)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5
    )
    uvicorn.Server(config).run()
