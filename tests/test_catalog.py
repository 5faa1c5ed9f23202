"""The catalog, name resolution and AutoModel."""

import json

import pytest

from kerasprop.hub import catalog
from kerasprop.models import AutoModel
from kerasprop.schemas import task_names

BACKPROP_NAMES = [
    "t5-base-qa-summary-emotion", "t5-small", "t5-base", "distilgpt2", "gpt2-medium", "gpt2-large",
    "bart-large-mnli", "xlmr-large-xnli", "msmarco-distilroberta-base-v2",
    "distiluse-base-multilingual-cased-v2", "clip", "efficientnet-b0", "efficientnet-b4",
    "efficientnet-b7", "all-minilm-l6-v2",
]


def test_catalog_has_backprop_names_with_complete_entries():
    entries = catalog.all_entries()
    assert set(BACKPROP_NAMES) <= set(entries)
    for entry in entries.values():
        assert set(entry.tasks) <= set(task_names())
        assert set(entry.finetunable_tasks) <= set(entry.tasks), entry.name
        assert entry.license and entry.source and entry.description
        assert ":" in entry.model_class
        assert set(entry.aliases) <= set(entry.tasks), entry.name
        json.dumps(entry.as_dict())


def test_aliases_are_unambiguous_per_task():
    for task in task_names():
        seen = {}
        for entry in catalog.all_entries().values():
            for alias in entry.aliases.get(task, ()):
                assert alias not in seen, f"{alias!r} means {seen[alias]} and {entry.name} for {task}"
                seen[alias] = entry.name
    assert catalog.task_aliases("text-generation")["english-small"] == "distilgpt2"
    assert catalog.task_aliases("summarisation")["english-small"] == "t5-small"


def test_minilm_is_bundled_from_its_package():
    folder = catalog.bundled_path("all-minilm-l6-v2")
    assert folder is not None and (folder / "model.safetensors").exists()
    assert catalog.all_entries()["all-minilm-l6-v2"].offline
    assert catalog.resolve_handle("all-minilm-l6-v2") == str(folder)


def test_resolution_order_prefers_local_folders_then_saved_models(tmp_path, kerasprop_home):
    folder = tmp_path / "my-preset"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert catalog.resolve_handle(str(folder)) == str(folder)
    saved = kerasprop_home / "my-saved"
    saved.mkdir(parents=True)
    (saved / "config.json").write_text("{}")
    assert catalog.resolve_handle("my-saved") == str(saved)
    # Not on this machine: the hub handle itself is handed to keras-hub.
    assert catalog.resolve_handle("gpt2-medium") == "gpt2_medium_en"
    assert catalog.resolve_handle("distilgpt2") == "hf://distilbert/distilgpt2"
    assert not catalog.all_entries()["distilgpt2"].offline
    with pytest.raises(ValueError, match="No preset folder at"):
        catalog.resolve_handle("./missing/folder")


def test_list_models_filters_limits_and_displays(capsys):
    names = AutoModel.list_models(task="text-generation")
    assert names == [
        "t5-base-qa-summary-emotion", "t5-small", "t5-base", "distilgpt2", "gpt2-medium", "gpt2-large",
        "t5-tiny-multitask", "gpt2-tiny-pydocs",
    ]
    assert len(AutoModel.list_models(limit=3)) == 3
    details = AutoModel.list_models(task="text-vectorisation", return_dict=True)
    assert details["all-minilm-l6-v2"]["offline"] is True and details["all-minilm-l6-v2"]["vector_size"] == 384
    assert AutoModel.list_models(display=True, task="image-vectorisation") is None
    table = capsys.readouterr().out
    assert "clip" in table and "offline" in table and "efficientnet" not in table
    with pytest.raises(ValueError, match="Unknown task"):
        AutoModel.list_models(task="nope")
    with pytest.raises(ValueError, match="'limit'"):
        AutoModel.list_models(limit=-1)


def test_unknown_model_names_close_matches():
    with pytest.raises(ValueError, match=r"Model 'distilgtp2' not found\. Close matches: \['distilgpt2'"):
        AutoModel.from_pretrained("distilgtp2")
    with pytest.raises(TypeError, match="non-empty string"):
        AutoModel.from_pretrained("")


def test_offline_hub_handle_gives_a_clear_error(monkeypatch):
    """With no network, a hub-only model fails naming the handle and how to get the weights."""
    entry = catalog.CatalogEntry(
        "hub-only-model", "tiny_models:TinyTextClassifier", "hf://nobody/hub-only-model",
        tasks=("text-classification",), description="test", license="mit", source="test",
    )
    monkeypatch.setitem(catalog._CATALOG, entry.name, entry)
    with pytest.raises(RuntimeError, match=r"'hf://nobody/hub-only-model' is not on this machine.*offline"):
        AutoModel.from_pretrained("hub-only-model")


@pytest.mark.parametrize(
    "config, task, expected",
    [
        ({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}, "text-generation", "GPT2TextGenerator"),
        ({"model_type": "t5"}, "summarisation", "T5MultiTask"),
        ({"model_type": "bart", "architectures": ["BartForConditionalGeneration"]}, "qa", "BartMultiTask"),
        ({"model_type": "bart", "architectures": ["BartForSequenceClassification"],
          "id2label": {"0": "contradiction", "1": "neutral", "2": "entailment"}}, "text-classification",
         "NLIZeroShotClassifier"),
        ({"model_type": "roberta", "architectures": ["RobertaForSequenceClassification"],
          "id2label": {"0": "negative", "1": "positive"}}, "text-classification", "SupervisedTextClassifier"),
        ({"model_type": "bert", "architectures": ["BertModel"]}, "text-vectorisation", "SentenceEmbedder"),
        ({"model_type": "clip"}, "image-vectorisation", "CLIP"),
        ({"class_name": "ResNetBackbone", "config": {}}, "image-classification", "SupervisedImageClassifier"),
    ],
)
def test_folders_load_with_the_family_of_their_architecture_and_task(tmp_path, config, task, expected):
    from kerasprop.models.families import class_for

    (tmp_path / "config.json").write_text(json.dumps(config))
    assert class_for(str(tmp_path), task).__name__ == expected


def test_unknown_architectures_are_named(tmp_path):
    from kerasprop.models.families import class_for

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "xlnet"}))
    with pytest.raises(ValueError, match="no model family for the architecture 'xlnet' for the task 'qa'"):
        class_for(str(tmp_path), "qa")
    with pytest.raises(ValueError, match="has no config.json"):
        class_for(str(tmp_path / "missing"), "qa")
