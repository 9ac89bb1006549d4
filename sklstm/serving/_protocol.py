"""The OpenAI completions protocol: request checks, errors and responses.

Nothing here imports Starlette: :func:`parse_completion` turns a decoded
JSON body into a :class:`Completion`, or raises :class:`APIError` with the
HTTP status and the OpenAI-style error body a client expects.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

MAX_SEED = 2**32 - 1  # numpy's RandomState seeds
MAX_STOP = 16  # stop strings per request

# Fields of OpenAI's completions request that sklstm accepts only with their
# neutral value, and the hint given otherwise.
_NEUTRAL = {
    "logprobs": (None, "token log-probabilities are not returned"),
    "suffix": (None, "text after the insertion point is not supported"),
    "presence_penalty": (0, "use repetition_penalty instead"),
    "frequency_penalty": (0, "use repetition_penalty instead"),
    "logit_bias": ({}, "biasing tokens is not supported"),
}
_FIELDS = {
    "model", "prompt", "max_tokens", "temperature", "top_p", "n", "stop", "seed",
    "stream", "stream_options", "echo", "best_of", "user", "top_k",
    "repetition_penalty", "min_tokens", *_NEUTRAL,
}  # fmt: skip


class APIError(Exception):
    """An error answered with ``status`` and an OpenAI-style JSON body."""

    def __init__(self, status, message, *, param=None, code=None, kind=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind or (
            "server_error" if status >= 500 else "invalid_request_error"
        )

    def body(self):
        return error_body(self.message, self.kind, self.param, self.code)


def error_body(message, kind, param=None, code=None):
    """``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    max_tokens: int = 2048  # most new tokens per sequence
    max_prompt_tokens: int = 4096  # most tokens per prompt
    max_sequences: int = 128  # prompts x n per request
    default_max_tokens: int = 16  # OpenAI's default


@dataclass
class Completion:
    """A checked completions request."""

    prompts: list
    controls: dict  # keyword arguments of sklstm's check_controls
    model: str | None = None
    stream: bool = False
    include_usage: bool = False
    echo: bool = False


def _bad(message, param, code=None):
    return APIError(400, message, param=param, code=code)


def _integer(body, name, default, low, high=None):
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise _bad(f"'{name}' must be an integer; got {value!r}.", name)
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f">= {low}"
        raise _bad(f"'{name}' must be an integer {bound}; got {value}.", name)
    return int(value)


def _number(body, name, default, *, low, high=None, low_open=False):
    value = body.get(name, default)
    if value is None:
        return default
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value > low if low_open else value >= low)
        ok = ok and (high is None or value <= high)
    if not ok:
        above = f"> {low}" if low_open else f">= {low}"
        bound = f"{above} and <= {high}" if high is not None else above
        raise _bad(f"'{name}' must be a number {bound}; got {value!r}.", name)
    return value


def _flag(body, name):
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(f"'{name}' must be true or false; got {value!r}.", name)
    return value


def _prompts(body):
    prompt = body.get("prompt", "")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    if (
        isinstance(prompt, list)
        and prompt
        and all(isinstance(p, (int, list)) and not isinstance(p, bool) for p in prompt)
    ):
        raise _bad("token id prompts are not supported; send the text.", "prompt")
    raise _bad(
        f"'prompt' must be a string or a non-empty list of strings; got "
        f"{type(prompt).__name__}.",
        "prompt",
    )


def _stop(body):
    stop = body.get("stop")
    if stop is None or stop == []:
        return None
    if isinstance(stop, str):
        stop = [stop]
    if (
        not isinstance(stop, list)
        or not all(isinstance(s, str) and s for s in stop)
        or len(stop) > MAX_STOP
    ):
        raise _bad(
            f"'stop' must be a non-empty string or a list of at most {MAX_STOP} "
            f"non-empty strings; got {stop!r}.",
            "stop",
        )
    return stop


def _check_fields(body):
    if not isinstance(body, dict):
        raise _bad(
            f"The request body must be a JSON object; got {type(body).__name__}.",
            None,
        )
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _bad(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0])
    for name, (neutral, hint) in _NEUTRAL.items():
        if body.get(name) not in (None, neutral):
            raise _bad(
                f"'{name}' is not supported by sklstm serve ({hint}); got "
                f"{body[name]!r}.",
                name,
                "unsupported_parameter",
            )
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _bad(f"'model' must be a string; got {model!r}.", "model")


def _sampling(body, limits, rows):
    """The generation controls of ``body`` as check_controls arguments."""
    max_tokens = _integer(body, "max_tokens", limits.default_max_tokens, 0)
    if max_tokens > limits.max_tokens:
        raise _bad(
            f"'max_tokens' is too large: {max_tokens}. This server generates at "
            f"most {limits.max_tokens} tokens per sequence.",
            "max_tokens",
        )
    n = _integer(body, "n", 1, 1, limits.max_sequences)
    if n * rows > limits.max_sequences:
        raise _bad(
            f"{rows} prompts x n={n} asks for {rows * n} sequences; this server "
            f"makes at most {limits.max_sequences} per request.",
            "n",
        )
    best_of = body.get("best_of")
    if best_of not in (None, n):
        raise _bad(
            f"'best_of' other than n is not supported; got {best_of!r}.", "best_of"
        )
    top_k = _integer(body, "top_k", None, -1)
    controls = {
        "max_new_tokens": max_tokens,
        "min_new_tokens": _integer(body, "min_tokens", 0, 0, max_tokens),
        "temperature": _number(body, "temperature", 1.0, low=0),
        "top_k": top_k if top_k and top_k > 0 else None,  # 0 and -1: off
        "top_p": _number(body, "top_p", 1.0, low=0, high=1, low_open=True),
        "repetition_penalty": _number(
            body, "repetition_penalty", 1.0, low=0, low_open=True
        ),
        "stop": _stop(body),
        "num_return_sequences": n,
    }
    seed = _integer(body, "seed", None, 0, MAX_SEED)
    if seed is not None:
        controls["random_state"] = seed
    return controls


def parse_completion(body, limits):
    """Check a completions request body (decoded JSON) against ``limits``."""
    _check_fields(body)
    prompts = _prompts(body)
    controls = _sampling(body, limits, len(prompts))
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    if options is not None and (
        not stream
        or not isinstance(options, dict)
        or set(options) - {"include_usage"}
        or not isinstance(options.get("include_usage", False), bool)
    ):
        raise _bad(
            "'stream_options' must be {\"include_usage\": true or false}, with "
            f"stream true; got {options!r}.",
            "stream_options",
        )
    return Completion(
        prompts=prompts,
        controls=controls,
        model=body.get("model"),
        stream=stream,
        include_usage=bool(options and options.get("include_usage")),
        echo=_flag(body, "echo"),
    )
