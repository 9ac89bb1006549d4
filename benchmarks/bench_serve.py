"""Serving under concurrency: ``sklstm serve`` batching requests, or not.

Starts ``sklstm serve`` on 127.0.0.1 twice: batching (``--max-batch 64``)
and handling one sequence at a time (``--max-batch 1``). Against each,
1, 4, 16 and 64 concurrent clients (closed loop: each sends its next request
when its previous one is answered) post ``POST /v1/completions`` requests of
``--tokens`` new tokens each (``min_tokens`` equal to ``max_tokens``, so every
answer has the same length; temperature 1, a seed per request). Per level:
requests per second, completion tokens per second, and the 50th and 99th
percentile of request latency, over ``--requests`` requests per client (at
least 32 in all). Each level first runs one untimed round of requests, which
compiles what it needs.

The model is a char model (``embedding_dim=64, units=256``, as in
``bench_generate.py``) fitted for one epoch on the first 1,000 characters of
each topic of the embedded corpus (:func:`sklstm.load_python_docs`), or the
saved model given with ``--model``. Speed depends on its shapes only.

Every connection is to 127.0.0.1, every loop is bounded, and the servers are
stopped at the end. Run from the repository root (a few minutes on 2 cores;
the clients share the cores with the server)::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_serve.py
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_serve.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import describe_run  # noqa: E402

HOST = "127.0.0.1"


def fit_model(path):
    """The benchmark's char model, saved to ``path``."""
    from sklstm import LSTMTextGenerator, load_python_docs

    docs = [d[:1000] for d in load_python_docs()]
    LSTMTextGenerator(
        embedding_dim=64, units=256, epochs=1, validation_fraction=0, random_state=0
    ).fit(docs).save(path)


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(model_path, max_batch, limit=600):
    """``sklstm serve`` on a free port of 127.0.0.1; yields its base URL."""
    import httpx

    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, *sys.path]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [sys.executable, "-m", "sklstm", "serve", model_path, "--host", HOST,
               "--port", str(port), "--max-batch", str(max_batch),
               "--model-name", "bench"]  # fmt: skip
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + limit
        while True:  # bounded by the deadline
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                sys.exit(f"sklstm serve did not start:\n{log.read().decode()}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        log.close()


async def _client(http, worker, count, tokens, latencies, made):
    for k in range(count):
        body = {"model": "bench", "prompt": "The ", "max_tokens": tokens,
                "min_tokens": tokens, "seed": worker * 1000 + k}  # fmt: skip
        start = time.perf_counter()
        reply = await http.post("/v1/completions", json=body)
        latencies.append(time.perf_counter() - start)
        reply.raise_for_status()
        made.append(reply.json()["usage"]["completion_tokens"])


async def _level(url, clients, per_client, tokens):
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
        warm_lat, warm_made = [], []
        await asyncio.gather(  # untimed: compiles what this level needs
            *[_client(http, w, 1, tokens, warm_lat, warm_made) for w in range(clients)]
        )
        latencies, made = [], []
        start = time.perf_counter()
        await asyncio.gather(
            *[
                _client(http, w, per_client, tokens, latencies, made)
                for w in range(clients)
            ]
        )
        wall = time.perf_counter() - start
    lat = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "req/s": len(latencies) / wall,
        "tokens/s": sum(made) / wall,
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
    }


def measure(url, levels, requests, tokens):
    out = {}
    for clients in levels:
        per_client = max(requests, -(-32 // clients))
        out[clients] = asyncio.run(_level(url, clients, per_client, tokens))
        r = out[clients]
        print(
            f"  {clients:>3} clients: {r['tokens/s']:>9,.0f} tokens/s, "
            f"p50 {r['p50']:,.0f} ms, p99 {r['p99']:,.0f} ms",
            flush=True,
        )
    return out


def table(results, levels):
    header = ("server", "clients", "requests", "req/s", "tokens/s", "p50 ms",
              "p99 ms", "p99/p50", "x one at a time")  # fmt: skip
    rows = []
    for mode, label in (("batched", "batched (--max-batch 64)"),
                        ("single", "one at a time (--max-batch 1)")):  # fmt: skip
        for clients in levels:
            r = results[mode][clients]
            base = results["single"][clients]["tokens/s"]
            rows.append((label, clients, r["requests"], f"{r['req/s']:,.1f}",
                         f"{r['tokens/s']:,.0f}", f"{r['p50']:,.0f}",
                         f"{r['p99']:,.0f}", f"{r['p99'] / r['p50']:.2f}",
                         f"{r['tokens/s'] / base:.1f}x"))  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = [
        "| "
        + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))
        + " |"
    ]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a saved model (default: fit one)")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens a request")
    parser.add_argument("--requests", type=int, default=4, help="requests per client")
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    args = parser.parse_args()
    levels = (1, 4, 16, 64)
    requests = 2 if args.quick else args.requests
    for line in describe_run():
        print(line)
    with tempfile.TemporaryDirectory() as folder:
        path = args.model
        if path is None:
            path = os.path.join(folder, "bench.sklstm")
            print("Fitting the char model ...", flush=True)
            fit_model(path)
        results = {}
        for mode, max_batch in (("batched", 64), ("single", 1)):
            print(f"Serving with --max-batch {max_batch}:", flush=True)
            with server(path, max_batch) as url:
                results[mode] = measure(url, levels, requests, args.tokens)
    print(f"\n{args.tokens} new tokens per request; latency in milliseconds.\n")
    print(table(results, levels))


if __name__ == "__main__":
    main()
