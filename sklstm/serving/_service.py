"""A fitted model served to concurrent requests: encoding, controls, batching."""

from __future__ import annotations

import secrets
import time

from sklstm._batching import Batcher, Job
from sklstm._generation import check_controls
from sklstm._resolve import resolve
from sklstm.serving._protocol import MAX_SEED, APIError


class Service:
    """The model behind the HTTP API.

    Parameters
    ----------
    fitted : LSTMTextGenerator, Pipeline or fitted search
        A fitted model that reads text (as :func:`sklstm.generate` takes).
    name : str
        The model id clients name in requests.
    limits : Limits
    max_batch : int
        Most sequences decoded together.
    warm_up : bool
        Compile the generation loops of every batch size at start, in the
        background, so that the first requests do not wait for them.
    """

    def __init__(self, fitted, *, name, limits, max_batch, warm_up=False):
        lm = resolve(fitted, "serve", text=True)
        encode, decode = lm.encode, lm.decode
        self.name = name
        self.limits = limits
        self.created = int(time.time())
        self._encode = encode
        self.batcher = Batcher(lm.sampler, decode, max_batch=max_batch)
        if warm_up:
            self.batcher.start(warm_up=True)

    def encode(self, prompts):
        """Token ids of each prompt; 413 when one is longer than allowed."""
        try:
            sequences = self._encode(list(prompts))
        except (TypeError, ValueError) as exc:
            message = f"The prompt cannot be read: {exc}"
            raise APIError(400, message, param="prompt") from None
        most = self.limits.max_prompt_tokens
        for i, ids in enumerate(sequences):
            if len(ids) > most:
                raise APIError(
                    413,
                    f"The prompt{f' {i}' if len(sequences) > 1 else ''} is "
                    f"{len(ids)} tokens long; this server reads at most {most} "
                    "tokens per prompt.",
                    param="prompt",
                    code="context_length_exceeded",
                )
        return sequences

    def controls(self, kwargs):
        """sklstm's generation controls; a seed is drawn when none is given."""
        kwargs = dict(kwargs)
        kwargs.setdefault("random_state", secrets.randbelow(MAX_SEED))
        try:
            return check_controls(**kwargs, where="completions")
        except (TypeError, ValueError) as exc:
            raise APIError(400, str(exc)) from None

    def job(self, sequences, controls, emit, *, stream):
        """Start generating; ``emit`` receives the events (see ``Job``)."""
        job = Job(sequences, controls, emit, stream=stream)
        self.batcher.submit(job)
        return job

    def close(self):
        self.batcher.close()
