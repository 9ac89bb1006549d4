"""``sklstm serve``: serve a model over HTTP."""

from __future__ import annotations

import argparse
import os

from sklstm.cli._shared import (
    UsageError,
    UserError,
    add_model_argument,
    fitted_model,
    load_model,
    print_error,
)

_SERVE_EPILOG = """\
Endpoints: GET /v1/models, POST /v1/completions (OpenAI's completions API,
streaming with "stream": true), GET /health, and a playground page at /.
Concurrent requests are decoded together in one batch of at most
--max-batch sequences.

The server listens on 127.0.0.1 (this machine only) unless --host says
otherwise. With an API key (--api-key, or the SKLSTM_API_KEY environment
variable, which other users cannot read in the process list) every /v1
request needs "Authorization: Bearer KEY". Needs: pip install 'sklstm[serve]'.

examples:
  sklstm serve model.sklstm
  SKLSTM_API_KEY=secret sklstm serve model.sklstm --host 0.0.0.0 --port 8080
  curl http://127.0.0.1:8000/v1/completions -H 'Content-Type: application/json' \\
       -d '{"prompt": "The ", "max_tokens": 50, "seed": 0}'
"""


def add_serve_parser(subparsers):
    p = subparsers.add_parser(
        "serve",
        help="serve a model over HTTP (OpenAI-compatible API, playground page)",
        description="Serve a saved model over HTTP until interrupted (Ctrl+C).",
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_argument(p)
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument(
        "--api-key", help="require this key (default: $SKLSTM_API_KEY, else none)"
    )
    p.add_argument(
        "--model-name",
        help="model id clients use (default: the file name without its suffix)",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=64,
        help="most sequences decoded together; 1 serves one at a time "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--max-tokens-limit",
        type=int,
        default=2048,
        help="largest max_tokens a request may ask (default: %(default)s)",
    )
    p.add_argument(
        "--max-prompt-tokens",
        type=int,
        default=4096,
        help="longest prompt in tokens (default: %(default)s)",
    )
    p.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="compile the generation loops when first needed, not at start",
    )
    p.set_defaults(func=cmd_serve)
    return p


def cmd_serve(args):
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535; got {args.port}")
    try:
        from sklstm.serving import require

        require("starlette", "uvicorn")
    except ImportError as exc:
        raise UserError(str(exc)) from None
    fitted = load_model(args.model, args.trust_pickle)
    fitted_model(fitted, "serve", text=True)  # a generator, pipeline or search, fitted
    name = args.model_name or os.path.splitext(os.path.basename(args.model))[0]
    api_key = args.api_key or os.environ.get("SKLSTM_API_KEY") or None
    if args.host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        print_error("serve", "warning", f"serving {args.host} without an API key")
    try:
        _serve(fitted, args, name, api_key)
    except KeyboardInterrupt:  # Ctrl+C: the server has shut down cleanly
        pass
    return 0


def _serve(fitted, args, name, api_key):
    from sklstm.serving import serve

    serve(
        fitted,
        host=args.host,
        port=args.port,
        model_name=name,
        api_key=api_key,
        max_batch=args.max_batch,
        max_tokens_limit=args.max_tokens_limit,
        max_prompt_tokens=args.max_prompt_tokens,
        warm_up=args.warm_up,
    )
