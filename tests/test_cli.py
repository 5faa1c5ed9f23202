"""The kerasprop command: list, run (options derived from schemas), errors."""

import json
import subprocess
import sys

from kerasprop import cli
from kerasprop.schemas import get_schema


def test_run_options_come_from_the_schema():
    parser = cli.build_parser()
    args = parser.parse_args(["run", "text-generation", "--text", "Once", "--max-length", "5", "--do-sample",
                              "--top-p", "0.9"])
    task_input = cli.task_input_from_args(get_schema("text-generation"), args)
    assert task_input == {"text": "Once", "max_length": 5, "top_p": 0.9, "do_sample": True}
    args = parser.parse_args(["run", "text-classification", "--text", "a", "--text", "b", "--labels", "x", "y"])
    assert cli.task_input_from_args(get_schema("text-classification"), args) == {
        "text": ["a", "b"], "labels": ["x", "y"]}
    args = parser.parse_args(["run", "image-vectorisation", "--image", "cat.png"])
    assert cli.task_input_from_args(get_schema("image-vectorisation"), args) == {"image": "cat.png"}


def test_list_json(capsys):
    assert cli.main(["list", "--task", "text-vectorisation", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)
    assert models["all-minilm-l6-v2"]["offline"] is True


def test_bad_input_is_a_clear_error_not_a_traceback(capsys):
    assert cli.main(["run", "text-classification", "--text", "a", "--labels", "x", "x"]) == 2
    err = capsys.readouterr().err
    assert "kerasprop: error:" in err and "'x' appears twice" in err and "Traceback" not in err


def test_run_with_a_saved_model_prints_json(kerasprop_home, capsys):
    import kerasprop
    from tiny_models import tiny_text_classifier

    folder = kerasprop.save(tiny_text_classifier(), name="cli-classifier")
    assert cli.main(["run", "text-classification", "--model", folder, "--text", "good", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "text-classification" and set(out["output"]) == {"negative", "positive"}


def test_console_script_runs_in_a_fresh_process():
    result = subprocess.run([sys.executable, "-m", "kerasprop.cli", "list"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "all-minilm-l6-v2" in result.stdout
