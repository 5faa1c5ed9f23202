"""NLI zero-shot classification: parity with transformers on tiny random checkpoints.

Each checkpoint is a `...ForSequenceClassification` written here with
`transformers` (hidden size 32, 2 layers) plus tokenizer files built here; the
transformers model's logits on the same token ids are the reference.
"""

import json

import dill
import keras
import numpy as np
import pytest
import torch
import transformers

import kerasprop
from kerasprop.models import NLIZeroShotClassifier

NLI_LABELS = {0: "contradiction", 1: "neutral", 2: "entailment"}
TINY = dict(num_labels=3, id2label=NLI_LABELS, label2id={v: k for k, v in NLI_LABELS.items()})
CORPUS = [
    "the cat sat on the mat",
    "this example is about sports",
    "a dog runs in the park",
    "politics and science news",
    "I love my new phone",
]
PREMISES = ["the cat sat on the mat", "a dog", "I love my new phone and its camera very much"]
HYPOTHESES = ["This example is about sports.", "This example is politics.", "This example is tech."]


def write_byte_level_bpe(folder, tokenizer_cls):
    """vocab.json and merges.txt of a tiny GPT-2 style byte-level BPE; returns the transformers tokenizer."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    merges = ["Ġ t", "h e", "Ġt he", "a t", "Ġ c", "Ġc at", "Ġ e", "Ġe x"]
    tokens = ["<s>", "<pad>", "</s>", "<unk>"] + list(bytes_to_unicode().values())
    tokens += ["".join(m.split()) for m in merges] + ["<mask>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return tokenizer_cls(vocab=vocab, merges=[tuple(m.split()) for m in merges])


def write_sentencepiece(folder):
    """sentencepiece.bpe.model of a tiny XLM-R style tokenizer; returns the transformers tokenizer."""
    import sentencepiece

    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 20), model_prefix=str(folder / "sentencepiece.bpe"), vocab_size=60,
        model_type="bpe", character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )
    return transformers.XLMRobertaTokenizer.from_pretrained(str(folder))


def build_roberta(folder):
    tokenizer = write_byte_level_bpe(folder, transformers.RobertaTokenizer)
    config = transformers.RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=130, **TINY,
    )
    return tokenizer, transformers.RobertaForSequenceClassification(config)


def build_xlm_roberta(folder):
    tokenizer = write_sentencepiece(folder)
    config = transformers.XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=130, **TINY,
    )
    return tokenizer, transformers.XLMRobertaForSequenceClassification(config)


def build_bart(folder):
    tokenizer = write_byte_level_bpe(folder, transformers.BartTokenizer)
    config = transformers.BartConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=128, **TINY,
    )
    return tokenizer, transformers.BartForSequenceClassification(config)


BUILDERS = {"roberta": build_roberta, "xlm-roberta": build_xlm_roberta, "bart": build_bart}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def checkpoint(request, tmp_path_factory):
    """(folder, transformers tokenizer, transformers model) of a tiny NLI checkpoint."""
    folder = tmp_path_factory.mktemp(request.param)
    torch.manual_seed(0)
    tokenizer, model = BUILDERS[request.param](folder)
    model.eval().save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    # Hub checkpoints written by older transformers (e.g. facebook/bart-large-mnli) have this
    # key, which keras-hub's BART converter needs; transformers 5 no longer writes it.
    config.setdefault("num_hidden_layers", model.config.num_hidden_layers)
    (folder / "config.json").write_text(json.dumps(config))
    return folder, tokenizer, model


@pytest.fixture(scope="module")
def classifier(checkpoint):
    return NLIZeroShotClassifier.from_preset(str(checkpoint[0]))


def reference_logits(model, token_ids, padding_mask):
    with torch.no_grad():
        return model(
            input_ids=torch.tensor(np.asarray(token_ids), dtype=torch.long),
            attention_mask=torch.tensor(np.asarray(padding_mask).astype("int64")),
        ).logits.numpy()


def test_pairs_tokenise_as_transformers(checkpoint, classifier):
    _, tokenizer, _ = checkpoint
    features = classifier.preprocessor(x=(PREMISES, HYPOTHESES))
    for i, (premise, hypothesis) in enumerate(zip(PREMISES, HYPOTHESES)):
        ids = np.asarray(features["token_ids"][i])[np.asarray(features["padding_mask"][i]).astype(bool)]
        assert ids.tolist() == tokenizer(premise, hypothesis)["input_ids"]


def test_logits_match_transformers(checkpoint, classifier):
    _, _, model = checkpoint
    features = classifier.preprocessor(x=(PREMISES, HYPOTHESES))
    width = int(np.asarray(features["padding_mask"]).astype(bool).sum(axis=1).max())
    expected = reference_logits(model, np.asarray(features["token_ids"])[:, :width],
                                np.asarray(features["padding_mask"])[:, :width])
    np.testing.assert_allclose(classifier.class_logits(PREMISES, HYPOTHESES), expected, atol=1e-4)


def test_multi_label_scores_are_entailment_against_contradiction(checkpoint, classifier):
    _, tokenizer, model = checkpoint
    labels = ["sports", "politics", "tech"]
    result = classifier({"text": PREMISES[0], "labels": labels}, task="text-classification")
    encoded = tokenizer([PREMISES[0]] * 3, [f"This example is {label}." for label in labels],
                        padding=True, return_tensors="np")
    logits = reference_logits(model, encoded["input_ids"], encoded["attention_mask"])
    expected = torch.softmax(torch.tensor(logits[:, [0, 2]]), dim=1)[:, 1].numpy()
    assert list(result.values()) == sorted(result.values(), reverse=True)
    np.testing.assert_allclose([result[label] for label in labels], expected, atol=1e-5)
    assert all(type(v) is float for v in result.values())


def test_single_label_normalises_entailment_across_labels(classifier):
    labels = ["sports", "politics", "tech", "food"]
    logits = classifier.class_logits([PREMISES[2]] * 4, [f"This example is {label}." for label in labels])
    classifier.multi_label = False
    try:
        result = classifier({"text": PREMISES[2], "labels": labels}, task="text-classification")
    finally:
        classifier.multi_label = True
    entailment = logits[:, classifier.entailment_index]
    expected = np.exp(entailment - entailment.max()) / np.exp(entailment - entailment.max()).sum()
    np.testing.assert_allclose([result[label] for label in labels], expected, atol=1e-5)
    assert sum(result.values()) == pytest.approx(1.0, abs=1e-5)


def test_batched_texts_with_per_text_labels_run_in_one_pass(classifier, monkeypatch):
    calls = []
    predict_on_batch = keras.Model.predict_on_batch

    def counting(self, x, **kwargs):
        calls.append(len(x["token_ids"]))
        return predict_on_batch(self, x, **kwargs)

    monkeypatch.setattr(keras.Model, "predict_on_batch", counting)
    texts = ["the cat sat", "a dog runs", "science news"]
    per_text = [["animals", "sports"], ["dogs", "cats", "parks"], ["science"]]
    batched = classifier({"text": texts, "labels": per_text, "top_k": 2}, task="text-classification")
    assert calls == [6]
    one_by_one = [classifier({"text": t, "labels": l, "top_k": 2}, task="text-classification")
                  for t, l in zip(texts, per_text)]
    assert [list(r) for r in batched] == [list(r) for r in one_by_one]
    assert [len(r) for r in batched] == [2, 2, 1]
    shared = classifier({"text": texts, "labels": ["cats", "dogs"]}, task="text-classification")
    assert [sorted(r) for r in shared] == [["cats", "dogs"]] * 3


def test_hypothesis_template_is_configurable(checkpoint):
    folder, _, _ = checkpoint
    default = NLIZeroShotClassifier.from_preset(str(folder))
    custom = NLIZeroShotClassifier.from_preset(str(folder), hypothesis_template="Topic: {label}")
    result = custom({"text": "the cat", "labels": ["pets", "cars"]}, task="text-classification")
    logits = default.class_logits(["the cat", "the cat"], ["Topic: pets", "Topic: cars"])
    margin = logits[:, default.entailment_index] - logits[:, default.contradiction_index]
    np.testing.assert_allclose([result["pets"], result["cars"]], 1 / (1 + np.exp(-margin)), atol=1e-5)
    with pytest.raises(ValueError, match="hypothesis_template"):
        NLIZeroShotClassifier.from_preset(str(folder), hypothesis_template="no placeholder")


def test_bad_input(classifier):
    with pytest.raises(ValueError, match="labels"):
        classifier({"text": "the cat"}, task="text-classification")
    with pytest.raises(ValueError, match="repeat"):
        classifier({"text": "the cat", "labels": ["a", "a"]}, task="text-classification")
    with pytest.raises(ValueError, match="non-empty"):
        classifier({"text": "the cat", "labels": ["a", " "]}, task="text-classification")
    with pytest.raises(ValueError, match="top_k"):
        classifier({"text": "the cat", "labels": ["a", "b"], "top_k": -1}, task="text-classification")
    assert len(classifier({"text": "the cat", "labels": ["a", "b"], "top_k": 5}, task="text-classification")) == 2


def test_class_names_must_name_entailment_and_contradiction(checkpoint):
    with pytest.raises(ValueError, match="entail"):
        NLIZeroShotClassifier.from_preset(str(checkpoint[0]), class_names=["yes", "maybe", "no"])


def test_save_load_and_dill_round_trips(classifier, tmp_path):
    classifier.multi_label = False
    try:
        task_input = {"text": ["the cat sat", "politics"], "labels": ["pets", "news", "sport"]}
        expected = classifier(task_input, task="text-classification")
        folder = kerasprop.save(classifier, path=tmp_path / "nli")
        for restored in (kerasprop.load(folder), dill.loads(dill.dumps(classifier))):
            assert type(restored) is type(classifier)
            assert restored.multi_label is False and restored.class_names == classifier.class_names
            actual = restored(task_input, task="text-classification")
            for got, want in zip(actual, expected):
                assert list(got) == list(want)
                np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-6)
    finally:
        classifier.multi_label = True
