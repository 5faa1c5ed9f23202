"""The notebooks in notebooks/ run top to bottom, offline, on the bundled presets.

Each notebook ends with a cell that asserts its own key facts (training loss went
down, the reloaded model answers the same, the backends agree), so a regression
fails its notebook. This file also checks what every notebook promises: committed
without outputs, a Colab badge and a Colab-only install cell that name the same
repository, a printed note of the model it chose, and a picture wherever it plots.
How long they take is not asserted here (a timed test fails on a busy machine and proves
nothing about speed); cells have a generous timeout only to catch a hang.

CI runs this file in the JAX pass only (the backend-switching notebook runs all
three backends itself); it needs the `notebooks` and `serve` extras.
"""

import os
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Most seconds one cell may run before the notebook counts as hung (a guard, not a speed figure:
#: speed is measured in benchmarks/, never asserted in a test on a shared machine).
CELL_TIMEOUT_S = 600
BACKPROP_TASKS = (
    "QA", "TextClassification", "Emotion", "Summarisation", "TextGeneration", "TextVectorisation",
    "ImageClassification", "ImageVectorisation", "ImageTextVectorisation",
)
REPOSITORY = re.compile(r'^KERASPROP_REPO = "(https://github\.com/[\w.-]+/[\w.-]+)"$', re.M)


def _code(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _stdout(notebook):
    return "".join(
        output.get("text", "") for cell in _code(notebook) for output in cell.outputs if output.output_type == "stream"
    )


def _repository(notebook):
    found = REPOSITORY.search(notebook.cells[1].source)
    assert found, "the second cell sets KERASPROP_REPO"
    return found.group(1)


@pytest.fixture(params=NOTEBOOKS, ids=lambda path: path.stem)
def notebook_path(request):
    return request.param


def test_the_notebooks_cover_every_task_family_and_finetuning():
    names = {path.stem for path in NOTEBOOKS}
    for topic in ("quickstart", "text_generation", "seq2seq", "text_classification", "vectors", "image_tasks",
                  "finetune_text_classification", "finetune_seq2seq", "finetune_image_classification",
                  "finetune_vectors", "keras_native", "backend_switching", "serving"):
        assert any(topic in name for name in names), f"no notebook about {topic}"
    quickstart = nbformat.read(ROOT / "notebooks" / "00_quickstart.ipynb", as_version=4)
    cells = [cell.source for cell in _code(quickstart)]
    for task in BACKPROP_TASKS:
        assert sum(f"kerasprop.{task}()" in source for source in cells) == 1, f"the quickstart runs {task} in a cell"


def test_every_notebook_names_one_repository():
    repositories = {_repository(nbformat.read(path, as_version=4)) for path in NOTEBOOKS}
    assert len(repositories) == 1, repositories


def test_notebook_is_committed_clean_and_opens_in_colab(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    nbformat.validate(notebook)
    for cell in _code(notebook):
        assert not cell.outputs and cell.execution_count is None, f"committed with outputs: {cell.source[:60]!r}"
    title = notebook.cells[0]
    repository = _repository(notebook)
    colab = repository.replace("https://github.com/", "https://colab.research.google.com/github/")
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    assert f"({colab}/blob/main/notebooks/{notebook_path.name})" in title.source, "a Colab badge for this notebook"
    install = notebook.cells[1].source
    assert 'if "google.colab" in sys.modules:' in install and "pip" in install and "git+{KERASPROP_REPO}" in install


def test_notebook_runs_offline_on_the_bundled_presets(notebook_path, tmp_path, monkeypatch):
    monkeypatch.setenv("KERASPROP_OFFLINE", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    code = _code(notebook)
    assert not code[0].outputs, "the Colab install cell does nothing outside Colab"
    stdout = _stdout(notebook)
    assert re.search(r"bundled preset|bundled all-MiniLM", stdout), "the notebook says it used a bundled preset"
    plots = sum("plt." in cell.source for cell in code)
    pictures = sum("image/png" in output.get("data", {}) for cell in code for output in cell.outputs)
    assert pictures >= plots, f"{plots} plotting cells drew {pictures} pictures"
