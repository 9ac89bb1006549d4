"""The Starlette application: routes, authentication, streaming, errors."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import time
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Route

from sklstm._batching import Overloaded
from sklstm.serving._protocol import APIError, error_body, parse_completion

MAX_BODY = 8 * 2**20  # bytes of one request body
# Prompts up to this many characters are encoded on the event loop (a
# fraction of a millisecond); longer ones in a thread. Many threads waiting
# for the interpreter lock would slow the batcher's thread down.
_INLINE_CHARS = 16_384
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def build_app(service, *, api_key=None):
    """A Starlette app serving ``service`` (see ``create_app``)."""
    api = _Api(service, api_key)
    routes = [
        Route("/", api.playground),
        Route("/health", api.health),
        Route("/v1/models", api.models),
        Route("/v1/models/{model_id:path}", api.model),
        Route("/v1/completions", api.completions, methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(service.close)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            APIError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.service = service
    return app


async def _api_error(request, exc):
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_error(request, exc):
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse(
        error_body(message, "invalid_request_error", None, code),
        status_code=exc.status_code,
    )


async def _server_error(request, exc):
    message = f"The server failed on this request: {type(exc).__name__}: {exc}"
    return JSONResponse(error_body(message, "server_error"), status_code=500)


async def _read_json(request):
    """The request's JSON body: 413 when too large, 400 when not JSON."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise APIError(413, _too_large(int(length)), code="request_too_large")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise APIError(413, _too_large(size), code="request_too_large")
            chunks.append(chunk)
    except ClientDisconnect:
        raise APIError(400, "The client disconnected during the request.") from None
    try:
        return json.loads(b"".join(chunks))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise APIError(
            400,
            f"The request body is not valid JSON ({exc}). Send a JSON object "
            "with 'Content-Type: application/json'.",
            code="invalid_json",
        ) from None


def _too_large(size):
    return f"The request body has {size} bytes or more; at most {MAX_BODY} allowed."


class _Api:
    """The route handlers."""

    def __init__(self, service, api_key):
        self.service = service
        self.api_key = api_key

    def _authorize(self, request):
        if self.api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            message = (
                "This server needs an API key: send it in an 'Authorization: "
                "Bearer KEY' header."
            )
        elif hmac.compare_digest(token.strip().encode(), self.api_key.encode()):
            return
        else:
            message = "Incorrect API key provided."
        raise APIError(401, message, code="invalid_api_key")

    def _card(self):
        return {
            "id": self.service.name,
            "object": "model",
            "created": self.service.created,
            "owned_by": "sklstm",
        }

    async def playground(self, request):
        page = resources.files("sklstm.serving").joinpath("playground.html")
        config = {
            "model": self.service.name,
            "maxTokens": self.service.limits.max_tokens,
            "needsKey": self.api_key is not None,
        }
        # "<" escaped: the JSON cannot close the script element it sits in.
        text = json.dumps(config).replace("<", "\\u003c")
        html = page.read_text(encoding="utf-8").replace("/*CONFIG*/{}", text, 1)
        return HTMLResponse(html)

    async def health(self, request):
        return JSONResponse({"status": "ok"})

    async def models(self, request):
        self._authorize(request)
        return JSONResponse({"object": "list", "data": [self._card()]})

    async def model(self, request):
        self._authorize(request)
        self._check_model(request.path_params["model_id"])
        return JSONResponse(self._card())

    def _check_model(self, name):
        if name is not None and name != self.service.name:
            raise APIError(
                404,
                f"The model '{name}' does not exist. This server serves "
                f"'{self.service.name}'.",
                param="model",
                code="model_not_found",
            )

    async def completions(self, request):
        self._authorize(request)
        completion = parse_completion(await _read_json(request), self.service.limits)
        self._check_model(completion.model)
        if sum(len(p) for p in completion.prompts) <= _INLINE_CHARS:
            sequences = self.service.encode(completion.prompts)
        else:
            sequences = await run_in_threadpool(self.service.encode, completion.prompts)
        controls = self.service.controls(completion.controls)
        head = {
            "id": f"cmpl-{secrets.token_hex(12)}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.service.name,
        }
        run = _Run(self.service, sequences, controls, completion, head)
        if completion.stream:
            return StreamingResponse(
                run.events(), media_type="text/event-stream", headers=_SSE_HEADERS
            )
        return JSONResponse(await run.result(request))


class _Run:
    """One completions request on the batcher, its events on an asyncio queue."""

    def __init__(self, service, sequences, controls, completion, head):
        self.head = head
        self.completion = completion
        n = controls.num_return_sequences
        self.prompts = [p for p in completion.prompts for _ in range(n)]
        self.prompt_tokens = sum(len(s) for s in sequences)
        self.batcher = service.batcher
        self.queue = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def emit(event):  # called from the batcher's thread
            loop.call_soon_threadsafe(self.queue.put_nowait, event)

        try:
            self.job = service.job(sequences, controls, emit, stream=completion.stream)
        except Overloaded as exc:
            raise APIError(503, str(exc), code="overloaded") from None

    def _usage(self, tokens):
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": tokens,
            "total_tokens": self.prompt_tokens + tokens,
        }

    def _choice(self, index, text, reason):
        return {"text": text, "index": index, "logprobs": None, "finish_reason": reason}

    async def result(self, request):
        """The whole response; the job stops if the client goes away."""
        watch = asyncio.ensure_future(_disconnected(request))
        try:
            ends = {}
            while len(ends) < len(self.prompts):
                event = await _next(self.queue, watch)
                if event is None:  # the client left: nobody reads the answer
                    return {}
                if event[0] == "error":
                    raise APIError(500, event[1])
                if event[0] == "end":
                    ends[event[1]] = event
        finally:
            watch.cancel()
            self.batcher.cancel(self.job)
        echo = self.completion.echo
        choices = [
            self._choice(i, (self.prompts[i] if echo else "") + e[3], e[4])
            for i, e in sorted(ends.items())
        ]
        tokens = sum(e[5] for e in ends.values())
        return {**self.head, "choices": choices, "usage": self._usage(tokens)}

    async def events(self):
        """Server-sent events: one chunk per piece, then ``[DONE]``."""
        started, ended, tokens = set(), 0, 0
        try:
            while ended < len(self.prompts):
                event = await self.queue.get()
                if event[0] == "error":
                    yield _sse(APIError(500, event[1]).body())
                    break
                index, piece = event[1], event[2]
                if self.completion.echo and index not in started:
                    piece = self.prompts[index] + piece
                started.add(index)
                reason = None
                if event[0] == "end":
                    ended, tokens, reason = ended + 1, tokens + event[5], event[4]
                chunk = {**self.head, "choices": [self._choice(index, piece, reason)]}
                yield _sse(chunk)
            else:
                if self.completion.include_usage:
                    usage = {**self.head, "choices": [], "usage": self._usage(tokens)}
                    yield _sse(usage)
            yield "data: [DONE]\n\n"
        finally:  # also when the client disconnects mid-stream
            self.batcher.cancel(self.job)


def _sse(payload):
    return f"data: {json.dumps(payload)}\n\n"


async def _disconnected(request):
    """Return once the client has disconnected."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _next(queue, watch):
    """The next event of ``queue``, or None once ``watch`` is done."""
    get = asyncio.ensure_future(queue.get())
    done, _ = await asyncio.wait({get, watch}, return_when=asyncio.FIRST_COMPLETED)
    if get in done:
        return get.result()
    get.cancel()
    return None
