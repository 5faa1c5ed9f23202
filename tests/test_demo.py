"""`kerasprop demo`: every task once on offline models, output valid against the task schemas."""

import io
import json

from kerasprop import cli
from kerasprop.demo import examples, run_demo
from kerasprop.schemas import get_schema, task_names
from kerasprop.tasks import base as task_base


def test_demo_json_validates_against_the_schemas(monkeypatch):
    monkeypatch.setattr(task_base, "hub_reachable", lambda timeout=1.0: False)
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


def test_demo_readable_output_names_each_task(monkeypatch, capsys):
    monkeypatch.setattr(task_base, "hub_reachable", lambda timeout=1.0: False)
    assert cli.main(["demo"]) == 0
    text = capsys.readouterr().out
    assert "[text-vectorisation] model: all-minilm-l6-v2" in text and "vector of 384 floats" in text
