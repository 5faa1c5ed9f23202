"""Named entities (token-classification): parity with the transformers pipeline on tiny random checkpoints.

Each checkpoint is a `...ForTokenClassification` (BERT, RoBERTa, DistilBERT) written
here with `transformers`; `pipeline("token-classification", aggregation_strategy=...)`
on it is the reference for entities, words, character offsets and scores (within 1e-4).
"""

import numpy as np
import pytest
import transformers

import kerasprop
from kerasprop.models import TokenClassifier
from kerasprop.training import finetune
from span_checkpoints import CORPUS, NER_TAGS, write_checkpoint

TOLERANCE = 1e-4
TEXTS = CORPUS + ["Visits to Lon don, Paris and Berlin?", "Zoë met ALICE in the café."]


@pytest.fixture(scope="module", params=["bert", "roberta", "distilbert"])
def checkpoint(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    tokenizer, model = write_checkpoint(folder, request.param, "token-classification")
    return folder, tokenizer, model


@pytest.fixture(scope="module")
def model(checkpoint):
    return TokenClassifier.from_preset(str(checkpoint[0]))


def assert_same_entities(ours, reference):
    assert len(ours) == len(reference)
    for got, want in zip(ours, reference):
        assert set(got) == set(want)
        for key, value in want.items():
            if key == "score":
                assert isinstance(got[key], float) and got[key] == pytest.approx(float(value), abs=TOLERANCE)
            else:
                assert got[key] == value, (key, got, want)


def test_token_ids_and_offsets_match_transformers_and_keras_hub(checkpoint, model):
    _, tokenizer, _ = checkpoint
    for text, encoding in zip(TEXTS, model.encode(TEXTS)):
        reference = tokenizer(text, return_offsets_mapping=True)
        assert encoding.ids == reference["input_ids"]
        assert [tuple(o) for o in encoding.offsets] == [tuple(o) for o in reference["offset_mapping"]]
        keras_hub_ids = np.asarray(model.preprocessor.tokenizer(text)).tolist()
        assert encoding.ids[1:-1] == keras_hub_ids


def test_hugging_face_checkpoint_loads_with_its_tags(model):
    assert model.class_names == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


@pytest.mark.parametrize("aggregation", ["none", "simple", "first", "average", "max"])
def test_entities_match_the_transformers_pipeline(checkpoint, model, aggregation):
    _, tokenizer, hf_model = checkpoint
    pipe = transformers.pipeline("token-classification", model=hf_model, tokenizer=tokenizer,
                                 aggregation_strategy=aggregation)
    ours = model({"text": TEXTS, "aggregation": aggregation}, task="token-classification")
    assert len(ours) == len(TEXTS)
    for text, entities in zip(TEXTS, ours):
        assert_same_entities(entities, pipe(text))


def test_ignore_labels_and_the_single_form(checkpoint, model):
    _, tokenizer, hf_model = checkpoint
    pipe = transformers.pipeline("token-classification", model=hf_model, tokenizer=tokenizer, ignore_labels=[])
    ours = model({"text": TEXTS[1], "aggregation": "none", "ignore_labels": []}, task="token-classification")
    assert isinstance(ours, list) and isinstance(ours[0], dict)
    assert_same_entities(ours, pipe(TEXTS[1]))
    assert len(ours) == len(tokenizer(TEXTS[1])["input_ids"]) - 2


def test_bad_input_is_refused_with_the_key_named(model):
    with pytest.raises(ValueError, match="'aggregation' must be one of"):
        model({"text": "Alice", "aggregation": "mean"}, task="token-classification")
    with pytest.raises(TypeError, match="'text'"):
        model({"text": 3}, task="token-classification")
    with pytest.raises(ValueError, match="Unknown key 'labels'"):
        model({"text": "Alice", "labels": ["PER"]}, task="token-classification")


NAMES, PLACES, ORGS = ["alice", "bob", "carol", "eve"], ["paris", "london", "berlin", "madrid"], ["acme", "initech"]


def ner_params(n, seed):
    """Templated sentences: '<name> works for <org> in <place> .' and '<name> lives in <place> .'"""
    rng = np.random.default_rng(seed)
    tokens, tags = [], []
    for _ in range(n):
        name, place, org = rng.choice(NAMES), rng.choice(PLACES), rng.choice(ORGS)
        if rng.random() < 0.5:
            tokens.append([name, "works", "for", org, "in", place, "."])
            tags.append(["B-PER", "O", "O", "B-ORG", "O", "B-LOC", "O"])
        else:
            tokens.append([name, "lives", "in", place, "."])
            tags.append(["B-PER", "O", "O", "B-LOC", "O"])
    return {"tokens": tokens, "tags": tags}


def test_finetuning_learns_the_tags_and_survives_save_and_load(tmp_path):
    import keras

    write_checkpoint(tmp_path, "bert", "token-classification")
    model = TokenClassifier.from_preset(str(tmp_path))
    finetune(model, ner_params(48, seed=1), "token-classification", validation_split=0.0, epochs=10, batch_size=16,
             optimizer=keras.optimizers.Adam(5e-3), verbose=0)
    # The checkpoint's head already has every tag (and the I- tags of word pieces): it is kept.
    assert model.class_names == NER_TAGS
    held_out = ner_params(12, seed=2)
    texts = [" ".join(words) for words in held_out["tokens"]]
    predicted = model({"text": texts, "aggregation": "first"}, task="token-classification")
    got = [[(e["entity_group"], text[e["start"]:e["end"]]) for e in entities] for text, entities in zip(texts, predicted)]
    want = [[(tag[2:], word) for word, tag in zip(words, tags) if tag != "O"]
            for words, tags in zip(held_out["tokens"], held_out["tags"])]
    assert np.mean([g == w for g, w in zip(got, want)]) >= 0.9
    folder = kerasprop.save(model, name="tiny-ner")
    restored = kerasprop.load(folder)
    assert type(restored) is TokenClassifier and restored.class_names == model.class_names
    assert restored({"text": texts, "aggregation": "first"}, task="token-classification") \
        == model({"text": texts, "aggregation": "first"}, task="token-classification")
    task = kerasprop.TokenClassification(str(folder))
    assert task(texts[0], aggregation="simple") == model({"text": texts[0], "aggregation": "simple"},
                                                         task="token-classification")
    # The default aggregation is the word-level "average".
    assert task(texts[0]) == model({"text": texts[0], "aggregation": "average"}, task="token-classification")


def test_finetuning_params_are_validated(model):
    with pytest.raises(ValueError, match="'tags' has 1 items but 'tokens' has 2"):
        finetune(model, {"tokens": [["alice"], ["bob"]], "tags": [["B-PER"]]}, "token-classification")
    with pytest.raises(ValueError, match=r"tokens\[0\] has 2 words but tags\[0\] has 1 tags"):
        finetune(model, {"tokens": [["alice", "lives"], ["bob"]], "tags": [["B-PER"], ["B-PER"]]},
                 "token-classification", validation_split=0.0)


def test_every_piece_of_a_word_learns_a_tag_and_the_head_gains_inside_tags(tmp_path):
    write_checkpoint(tmp_path, "bert", "token-classification")
    model = TokenClassifier.from_preset(str(tmp_path))
    model.pre_finetuning(["O", "B-CITY"])
    assert model.class_names == ["B-CITY", "O", "I-CITY"]  # the given tags (sorted), then the inside tags
    features, labels, weights = model.process_batch({"tokens": [["Bob", "visits", "Berlin", "."]],
                                                     "tags": [["O", "O", "B-CITY", "O"]]}, max_length=16)
    pieces = model.encode(["Bob visits Berlin ."])[0].tokens  # [CLS] bob visit ##s ber ##lin . [SEP]
    tags = [model.class_names[label] for label in labels[0, :len(pieces)]]
    assert tags[1:-1] == ["O", "O", "O", "B-CITY", "I-CITY", "O"]
    assert weights[0, :len(pieces)].tolist() == [0.0] + [1.0] * (len(pieces) - 2) + [0.0]
    assert pieces[4:6] == ["ber", "##lin"]
