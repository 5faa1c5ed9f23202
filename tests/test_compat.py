"""keras-hub's and Keras' internals are reached only through `kerasprop.compat`, and each one still exists."""

import ast
import pathlib
import re

import keras
import keras_hub
import pytest

from kerasprop import compat

PACKAGE = pathlib.Path(compat.__file__).parent
ROOT = PACKAGE.parent
INTERNAL = re.compile(r"^(keras_hub|keras)\.src(\.|$)")


def internal_imports(path):
    """`(line, module)` of every import of `keras_hub.src` / `keras.src` in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and INTERNAL.match(node.module):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if INTERNAL.match(alias.name)]
    return found


def test_only_compat_imports_internals():
    offenders = {str(path.relative_to(ROOT)): internal_imports(path) for path in PACKAGE.rglob("*.py")
                 if path.name != "compat.py"}
    offenders = {path: lines for path, lines in offenders.items() if lines}
    assert not offenders, f"import these through kerasprop.compat instead: {offenders}"
    assert internal_imports(PACKAGE / "compat.py"), "compat.py is where the internals are imported"


def test_every_exported_internal_exists():
    for name in compat.__all__:
        assert getattr(compat, name) is not None, name


def _owners():
    """The objects `PRIVATE_ATTRIBUTES` names, a small GPT-2 decoder layer and its attention built for real."""
    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=16, num_layers=1, num_heads=2, hidden_dim=8,
                                             intermediate_dim=16, max_sequence_length=8)
    layer = backbone.get_layer("transformer_layer_0")
    return {
        "keras.Variable": keras.Variable,
        "keras.Layer": keras.Layer,
        "keras_hub.models.Task": keras_hub.models.Task,
        "keras_hub.models.Seq2SeqLMPreprocessor": keras_hub.models.Seq2SeqLMPreprocessor,
        "KerasPresetSaver": compat.preset_utils.KerasPresetSaver,
        "TransformersPresetLoader": compat.TransformersPresetLoader,
        "GPT2 decoder layer": layer,
        "its attention": layer._self_attention_layer,
    }


def test_every_private_attribute_relied_on_exists():
    owners = _owners()
    missing = [(owner, attribute, why) for owner, attribute, why in compat.PRIVATE_ATTRIBUTES
               if not hasattr(owners[owner], attribute)]
    assert not missing, f"keras-hub or Keras no longer has: {missing}"


@pytest.mark.parametrize("package, bound", [("keras", "<3.16"), ("keras-hub", "<0.33")])
def test_keras_and_keras_hub_are_pinned_below_their_next_minor(package, bound):
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'"{re.escape(package)}[^"]*{re.escape(bound)}', pyproject), f"{package} must be pinned {bound}"


def test_imports_point_one_way(monkeypatch):
    """The layers of docs/architecture.md, as the import-linter contract in pyproject.toml states them."""
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    assert lint_imports() == 0, "an import points up the layers: run `lint-imports` to see which"
