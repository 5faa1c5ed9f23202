"""`kerasprop demo`: every task once on offline models, output valid against the task schemas."""

import io
import json
import os
import subprocess
import sys

from kerasprop.demo import examples, run_demo
from kerasprop.schemas import get_schema, task_names
from kerasprop.tasks import base as task_base


def _no_network(*args, **kwargs):
    raise AssertionError("the demo opened a network connection")


def test_demo_json_validates_against_the_schemas(monkeypatch):
    monkeypatch.setattr(task_base.socket, "create_connection", _no_network)
    out = io.StringIO()
    run_demo(as_json=True, out=out)
    report = json.loads(out.getvalue())
    covered = [r["task"] for r in report["results"]] + [u["task"] for u in report["unavailable"]]
    assert sorted(covered) == sorted(t for t, _, _ in examples())
    assert set(covered) <= set(task_names())
    assert {"text-vectorisation", "text-classification"} <= {r["task"] for r in report["results"]}
    for result in report["results"]:
        get_schema(result["task"]).check_output(result["output"])
    scores = next(r["output"] for r in report["results"] if r["task"] == "text-classification")
    assert max(scores, key=scores.get) == "complaint"
    for item in report["unavailable"]:
        assert "offline" in item["reason"]


def test_demo_prints_its_report_and_nothing_else(tmp_path):
    """The command as a user runs it, in a fresh process: no warnings, no TensorFlow/absl lines, no network."""
    # A sitecustomize that refuses every socket connection (Python-level, whoever opens it) and says so on stderr.
    guard = tmp_path / "sitecustomize.py"
    guard.write_text(
        "import socket, sys\n"
        "def _refuse(self, address, *args):\n"
        "    print(f'the demo opened a network connection to {address}', file=sys.stderr)\n"
        "    raise OSError('network disabled by the test')\n"
        "socket.socket.connect = socket.socket.connect_ex = _refuse\n"
    )
    env = {**os.environ, "KERASPROP_OFFLINE": "0"}  # the defaults need no offline switch
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-m", "kerasprop.cli", "demo"], capture_output=True, text=True, env=env,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # stderr is not a terminal here, so not even the progress spinner
    text = done.stdout
    assert "[text-vectorisation] model: all-minilm-l6-v2" in text and "vector of 384 floats" in text
    assert "[qa] model: minilm-qa" in text and "-> London" in text
    assert "[emotion] model: minilm-emotion" in text and "Warning" not in text
    assert "[speech-recognition] model: whisper-tiny-commands" in text
    assert '"turn on the kitchen light", spoken by' in text and "-> turn on the kitchen light" in text
