"""Data-parallel training across two worker processes
(MultiWorkerMirroredStrategy on the CPU)."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import sklstm
from sklstm import LSTMTextGenerator, bits_per_character

WORKER = """
    import json
    import os
    import sys

    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before anything

    from sklstm import LSTMTextGenerator, bits_per_character

    job = json.loads(open(sys.argv[1]).read())
    refused = []
    for bad in ({"max_time": 5.0}, {"random_state": None}):
        params = {**job["params"], **bad, "distribution_strategy": strategy}
        try:
            LSTMTextGenerator(**params).fit(job["train"])
        except ValueError as exc:
            refused.append(str(exc))
    model = LSTMTextGenerator(**job["params"], distribution_strategy=strategy)
    model.fit(job["train"])
    if json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0:
        model.save(job["model"])  # the chief saves
    result = {
        "replicas": strategy.num_replicas_in_sync,
        "refused": refused,
        "bpc": bits_per_character(model, job["test"]),
        "history": model.history_,
    }
    with open(job["result"], "w") as handle:
        json.dump(result, handle)
"""


def _sentences(rng, n_docs):
    """Documents of 12 sentences of a small grammar."""
    subjects = ["the cat", "the dog", "a bird", "the old man", "my sister"]
    verbs = ["sat on", "looked at", "ran to", "sang to", "jumped over"]
    objects = ["the mat", "the log", "a tree", "the house", "the river"]
    return [
        " ".join(
            f"{subjects[rng.randint(5)]} {verbs[rng.randint(5)]} "
            f"{objects[rng.randint(5)]}."
            for _ in range(12)
        )
        for _ in range(n_docs)
    ]


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.slow
def test_two_workers_reach_the_quality_of_one(tmp_path):
    rng = np.random.RandomState(0)
    train, test = _sentences(rng, 30), _sentences(rng, 6)
    params = dict(
        units=32,
        embedding_dim=8,
        sequence_length=32,
        batch_size=16,  # the global batch: 8 windows per worker
        epochs=5,
        learning_rate=0.01,
        validation_fraction=0.2,
        random_state=0,
    )
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    procs = []
    try:
        for index in range(2):
            job = dict(
                params=params,
                train=train,
                test=test,
                model=str(tmp_path / "two.sklstm"),
                result=str(tmp_path / f"result{index}.json"),
            )
            (tmp_path / f"job{index}.json").write_text(json.dumps(job))
            tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            env = dict(
                os.environ,
                TF_CONFIG=json.dumps(tf_config),
                TF_CPP_MIN_LOG_LEVEL="2",
                CUDA_VISIBLE_DEVICES="",  # CPU workers, GPUs or not
                PYTHONPATH=os.pathsep.join(
                    filter(None, [root, os.environ.get("PYTHONPATH")])
                ),
            )
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(script), str(tmp_path / f"job{index}.json")],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        # Meanwhile, here: one worker trained the same way (same data, seed and
        # global batch, no strategy), and the same network untrained.
        one = LSTMTextGenerator(**params).fit(train)
        untrained = LSTMTextGenerator(
            **{**params, "epochs": 1, "learning_rate": 1e-12}
        ).fit(train)
        deadline = time.monotonic() + 180
        for proc in procs:
            out, _ = proc.communicate(timeout=max(1, deadline - time.monotonic()))
            assert proc.returncode == 0, out[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    results = [json.loads((tmp_path / f"result{i}.json").read_text()) for i in (0, 1)]
    assert [r["replicas"] for r in results] == [2, 2]
    for refused in (r["refused"] for r in results):
        assert "max_time cannot limit training across 2 workers" in refused[0]
        assert "needs an int random_state across 2 workers" in refused[1]
    # The workers hold the same network...
    assert results[0]["bpc"] == pytest.approx(results[1]["bpc"], abs=1e-6)
    assert results[0]["history"] == results[1]["history"]
    # ...which the chief saved...
    two = sklstm.load(tmp_path / "two.sklstm")
    bpc_two = bits_per_character(two, test)
    assert bpc_two == pytest.approx(results[0]["bpc"], abs=1e-6)
    # ...and which is as good as one worker's, far better than untrained.
    bpc_one = bits_per_character(one, test)
    bpc_untrained = bits_per_character(untrained, test)
    assert abs(bpc_two - bpc_one) < 0.1, (bpc_two, bpc_one)
    assert max(bpc_two, bpc_one) < bpc_untrained - 1.5, (
        bpc_two,
        bpc_one,
        bpc_untrained,
    )
