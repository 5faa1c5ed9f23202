"""DeBERTa-v3: the deberta-v2 converter, NLI zero-shot and supervised classification, against transformers.

The checkpoints are tiny random `DebertaV2ForSequenceClassification`s written
here with `transformers` (hidden size 32, 2 layers, 4 heads, 8 log-bucketed
relative positions so that texts of ~40 tokens reach the log buckets), with a
SentencePiece `spm.model` trained here; transformers' outputs on the same
folder are the reference.
"""

import json
import shutil

import dill
import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import kerasprop
from kerasprop.hub import catalog
from kerasprop.hub.converters import deberta_v3
from kerasprop.models import families
from kerasprop.models.classifiers.nli import DebertaV3NLIZeroShotClassifier, NLIZeroShotClassifier
from kerasprop.models.classifiers.text_classifier import DebertaV3SupervisedTextClassifier, SupervisedTextClassifier
from kerasprop.schemas import get_schema
from tiny_models import FILLER, KEYWORDS, keyword_dataset

NLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}
CORPUS = [
    "the cat sat on the mat", "this example is about sports", "a dog runs in the park",
    "politics and science news", "I love my new phone", "This example is tech.",
] + [" ".join(FILLER + words) for words in KEYWORDS.values()]
PREMISES = [
    "the cat sat on the mat while a dog runs in the park and I love my new phone and politics news",
    "a dog",
    "I love my new phone",
]
HYPOTHESES = ["This example is about sports.", "This example is politics.", "This example is tech."]
TINY = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
    relative_attention=True, position_buckets=8, max_relative_positions=32, pos_att_type=["p2c", "c2p"],
    norm_rel_ebd="layer_norm", share_att_key=True, position_biased_input=False, type_vocab_size=0,
    pad_token_id=0, initializer_range=0.2,  # wide enough that a wrong weight shows in the logits
)


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    """A tiny SentencePiece model with DeBERTa-v3's special pieces: [PAD]=0, [CLS]=1, [SEP]=2, [UNK]=3."""
    import sentencepiece

    prefix = tmp_path_factory.mktemp("spm") / "spm"
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 20), model_prefix=str(prefix), vocab_size=80, character_coverage=1.0,
        hard_vocab_limit=False, minloglevel=2, pad_id=0, bos_id=1, eos_id=2, unk_id=3,
        pad_piece="[PAD]", bos_piece="[CLS]", eos_piece="[SEP]", unk_piece="[UNK]",
    )
    return prefix.with_suffix(".model")


def write_checkpoint(folder, spm_model, id2label, seed=0):
    """A DebertaV2ForSequenceClassification folder as on the hub: weights, config, spm.model, tokenizer files."""
    shutil.copy(spm_model, folder / "spm.model")
    tokenizer = transformers.DebertaV2Tokenizer.from_pretrained(str(folder))
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = transformers.DebertaV2Config(
        vocab_size=len(tokenizer), num_labels=len(id2label), id2label=id2label,
        label2id={v: k for k, v in id2label.items()}, **TINY,
    )
    model = transformers.DebertaV2ForSequenceClassification(config).eval()
    with torch.no_grad():  # layer norms away from (1, 0), so that a missed one shows
        for name, weight in model.named_parameters():
            if "LayerNorm" in name:
                weight.add_(torch.randn_like(weight) * 0.2)
    model.save_pretrained(folder)
    return tokenizer, model


@pytest.fixture(scope="module")
def nli_checkpoint(tmp_path_factory, spm_model):
    folder = tmp_path_factory.mktemp("deberta-nli")
    tokenizer, model = write_checkpoint(folder, spm_model, NLI_LABELS)
    return folder, tokenizer, model


@pytest.fixture(scope="module")
def nli(nli_checkpoint):
    return NLIZeroShotClassifier.from_preset(str(nli_checkpoint[0]))


@pytest.fixture(scope="module")
def sentiment_checkpoint(tmp_path_factory, spm_model):
    folder = tmp_path_factory.mktemp("deberta-sentiment")
    tokenizer, model = write_checkpoint(folder, spm_model, {0: "neg", 1: "pos"}, seed=1)
    return folder, tokenizer, model


def reference(model, features, width=None):
    ids, mask = np.asarray(features["token_ids"]), np.asarray(features["padding_mask"])
    width = width or int(mask.astype(bool).sum(axis=1).max())
    with torch.no_grad():
        return model(input_ids=torch.tensor(ids[:, :width], dtype=torch.long),
                     attention_mask=torch.tensor(mask[:, :width].astype("int64")), output_hidden_states=True)


def test_pairs_and_texts_tokenise_as_transformers(nli_checkpoint, nli):
    _, tokenizer, _ = nli_checkpoint
    pairs = nli.preprocessor(x=(PREMISES, HYPOTHESES))
    singles = nli.preprocessor(x=(PREMISES,))
    for i, (premise, hypothesis) in enumerate(zip(PREMISES, HYPOTHESES)):
        for features, expected in ((pairs, tokenizer(premise, hypothesis)), (singles, tokenizer(premise))):
            ids = np.asarray(features["token_ids"][i])[np.asarray(features["padding_mask"][i]).astype(bool)]
            assert ids.tolist() == expected["input_ids"]
    assert int(np.asarray(pairs["padding_mask"][0]).sum()) > 2 * TINY["position_buckets"]  # log buckets in use


def test_backbone_and_logits_match_transformers(nli_checkpoint, nli):
    _, _, model = nli_checkpoint
    assert type(nli) is DebertaV3NLIZeroShotClassifier and nli.class_names == list(NLI_LABELS.values())
    features = nli.preprocessor(x=(PREMISES, HYPOTHESES))
    expected = reference(model, features)
    width = expected.hidden_states[-1].shape[1]
    mask = np.asarray(features["padding_mask"])[:, :width].astype(bool)
    hidden = nli.backbone({k: np.asarray(v)[:, :width] for k, v in features.items()})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(hidden)[mask], expected.hidden_states[-1].numpy()[mask],
                               atol=1e-4)
    logits = expected.logits.numpy()
    assert np.ptp(logits, axis=0).max() > 0.1  # the examples get different logits
    np.testing.assert_allclose(nli.class_logits(PREMISES, HYPOTHESES), logits, atol=1e-4)


@pytest.mark.parametrize("multi_label", [True, False])
def test_zero_shot_scores_match_the_transformers_pipeline(nli_checkpoint, nli, multi_label):
    folder, _, _ = nli_checkpoint
    pipeline = transformers.pipeline("zero-shot-classification", model=str(folder), device="cpu")
    labels = ["sports", "politics", "tech", "the park"]
    expected = pipeline(PREMISES, candidate_labels=labels, multi_label=multi_label)
    nli.multi_label = multi_label
    try:
        results = nli({"text": PREMISES, "labels": labels}, task="text-classification")
    finally:
        nli.multi_label = True
    for result, want in zip(results, expected):
        assert list(result) == want["labels"]
        np.testing.assert_allclose(list(result.values()), want["scores"], atol=1e-4)
        assert all(type(v) is float for v in result.values())


def test_families_pick_nli_or_supervised_by_labels(nli_checkpoint, sentiment_checkpoint):
    assert families.class_for(str(nli_checkpoint[0]), "text-classification") is NLIZeroShotClassifier
    assert families.class_for(str(sentiment_checkpoint[0]), "text-classification") is SupervisedTextClassifier


def test_supervised_classifier_loads_the_head(sentiment_checkpoint):
    folder, _, model = sentiment_checkpoint
    classifier = SupervisedTextClassifier.from_preset(str(folder))
    assert type(classifier) is DebertaV3SupervisedTextClassifier and classifier.class_names == ["neg", "pos"]
    texts = PREMISES + ["we saw the team", "soup"]
    expected = reference(model, classifier.preprocessor(x=(texts,))).logits.numpy()
    np.testing.assert_allclose(classifier.class_logits(texts), expected, atol=1e-4)
    probabilities = classifier({"text": texts[0]}, task="text-classification")
    np.testing.assert_allclose([probabilities["neg"], probabilities["pos"]],
                               torch.softmax(torch.tensor(expected[0]), 0).numpy(), atol=1e-5)


@pytest.fixture(scope="module")
def finetuned(sentiment_checkpoint):
    model = SupervisedTextClassifier.from_preset(str(sentiment_checkpoint[0]))
    params = get_schema("text-classification").parse_finetune(keyword_dataset(96, seed=1))
    model.pre_finetuning(params["labels"])
    x, y = model.process_batch(params, task="text-classification", max_length=16)
    model.compile(optimizer=keras.optimizers.AdamW(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).shuffle(96, seed=0).batch(16), epochs=4, verbose=0)
    return model


def test_finetuning_learns_keyword_classes_and_round_trips(finetuned, tmp_path):
    assert finetuned.class_names == ["food", "sports"]
    validation = keyword_dataset(40, seed=2)
    predictions = finetuned({"text": validation["texts"]}, task="text-classification")
    accuracy = np.mean([next(iter(p)) == label for p, label in zip(predictions, validation["labels"])])
    assert accuracy >= 0.8, accuracy
    folder = kerasprop.save(finetuned, path=tmp_path / "deberta")
    for restored in (kerasprop.load(folder), dill.loads(dill.dumps(finetuned))):
        assert type(restored) is DebertaV3SupervisedTextClassifier and restored.class_names == ["food", "sports"]
        for got, want in zip(restored({"text": validation["texts"][:5]}, task="text-classification"), predictions):
            assert list(got) == list(want)
            np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-6)


UNREPRESENTABLE = {
    "share_att_key": False,
    "pos_att_type": ["c2p"],
    "position_buckets": -1,
    "norm_rel_ebd": "none",
    "position_biased_input": True,
    "type_vocab_size": 2,
    "conv_kernel_size": 3,
    "relative_attention": False,
    "hidden_act": "relu",
}


@pytest.mark.parametrize("setting", sorted(UNREPRESENTABLE))
def test_unrepresentable_settings_are_named(setting):
    config = transformers.DebertaV2Config(vocab_size=50, **TINY).to_dict()
    assert deberta_v3.unsupported_settings(config) == []
    config[setting] = UNREPRESENTABLE[setting]
    with pytest.raises(ValueError, match=f"{setting}="):
        deberta_v3.convert_backbone_config(config)


def test_checkpoint_errors_name_the_cause(nli_checkpoint, tmp_path):
    source = nli_checkpoint[0]
    for name, edit, message in (
        ("conv", lambda c: c.update(conv_kernel_size=3), "conv_kernel_size=3"),
        ("pooler", lambda c: c.update(pooler_hidden_act="tanh"), "pooler_hidden_act='tanh'"),
        ("no-spm", None, "spm.model"),
    ):
        folder = tmp_path / name
        shutil.copytree(source, folder)
        if edit is None:
            (folder / "spm.model").unlink()
        else:
            config = json.loads((folder / "config.json").read_text())
            edit(config)
            (folder / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=message):
            NLIZeroShotClassifier.from_preset(str(folder))


def test_catalog_names_backprops_deberta_nli_model():
    entry = catalog.all_entries()["deberta-base-mnli"]
    assert entry.handle.startswith("hf://") and "deberta-v3" in entry.handle.lower()
    assert entry.load_class() is NLIZeroShotClassifier and not entry.offline
