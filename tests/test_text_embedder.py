"""SentenceEmbedder: parity with sentence-transformers, zero-shot, save/load, finetuning.

The reference for every checkpoint is sentence-transformers on the same folder:
the real all-MiniLM-L6-v2 (bundled), and tiny random sentence-transformers
folders written here in the format of the catalog's hub models
(msmarco-distilroberta-base-v2: RoBERTa, mean pooling, no normalisation;
distiluse-base-multilingual-cased-v2: DistilBERT, mean pooling, Dense 768->512 tanh).
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest

import kerasprop
from kerasprop.hub.catalog import bundled_path
from kerasprop.models import AutoModel, SentenceEmbedder

WORDS = (
    "the a of to and in is it that for on with as was at by be this are from or an have not but they "
    "we you cat dog sport game team win lost match player football politics election vote government "
    "minister law cooking recipe bake oven food taste delicious terrible awful great good bad service"
).split()
SENTENCES = [
    "the cat won the match",
    "a dog is good",
    "we bake food in the oven and the taste is delicious",
    "Election",
    "they vote for the government, and the minister made a law that was not good for the team",
    "this recipe is awful!",
    " ".join(WORDS),
]


def cosines(a, b):
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def _wordpiece_vocab(cased):
    chars = "abcdefghijklmnopqrstuvwxyz0123456789.,!?'" + ("ABCDEFGHIJKLMNOPQRSTUVWXYZ" if cased else "")
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *chars, *("##" + c for c in chars)]
    return list(dict.fromkeys(tokens))


def _hf_model(kind, folder):
    """A tiny random Hugging Face model and its tokenizer files in `folder`."""
    import torch
    import transformers

    os.makedirs(folder)
    small = dict(num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, hidden_size=32)
    if kind == "roberta":
        from tokenizers import ByteLevelBPETokenizer

        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator([" ".join(WORDS)] * 4, vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        bpe.save_model(folder)
        tokenizer = transformers.RobertaTokenizerFast(f"{folder}/vocab.json", f"{folder}/merges.txt")
        config = transformers.RobertaConfig(
            vocab_size=bpe.get_vocab_size(), max_position_embeddings=66, pad_token_id=1, layer_norm_eps=1e-5, **small
        )
        model_class = transformers.RobertaModel
    else:
        cased = kind == "distilbert"
        with open(f"{folder}/vocab.txt", "w") as f:
            f.write("\n".join(_wordpiece_vocab(cased)) + "\n")
        if kind == "distilbert":
            tokenizer = transformers.DistilBertTokenizerFast(f"{folder}/vocab.txt", do_lower_case=False)
            config = transformers.DistilBertConfig(
                vocab_size=len(_wordpiece_vocab(cased)), dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                max_position_embeddings=64,
            )
            model_class = transformers.DistilBertModel
        else:
            tokenizer = transformers.BertTokenizerFast(f"{folder}/vocab.txt", do_lower_case=True)
            config = transformers.BertConfig(vocab_size=len(_wordpiece_vocab(cased)), max_position_embeddings=64, **small)
            model_class = transformers.BertModel
    torch.manual_seed(0)
    model_class(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return tokenizer


def make_sentence_transformer(kind, folder, dense=False, normalize=False, max_seq_length=48):
    """Writes a tiny sentence-transformers folder; returns the reference `SentenceTransformer`."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules

    hf = f"{folder}-hf"
    _hf_model(kind, hf)
    stack = [modules.Transformer(hf, max_seq_length=max_seq_length), modules.Pooling(32, "mean")]
    if dense:
        torch.manual_seed(1)
        stack.append(modules.Dense(32, 16, activation_function=torch.nn.Tanh()))
    if normalize:
        stack.append(modules.Normalize())
    reference = SentenceTransformer(modules=stack, device="cpu")
    reference.save(folder)
    for name in ("vocab.txt", "vocab.json", "merges.txt"):  # hub folders ship these too
        if os.path.exists(f"{hf}/{name}"):
            shutil.copy(f"{hf}/{name}", folder)
    return SentenceTransformer(folder, device="cpu")


@pytest.fixture(scope="module")
def minilm():
    return AutoModel.from_pretrained("all-minilm-l6-v2")


@pytest.fixture(scope="module")
def minilm_reference():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(bundled_path("all-minilm-l6-v2")), device="cpu")


@pytest.fixture(scope="module")
def tiny_folders(tmp_path_factory):
    """Tiny sentence-transformers folders in the formats of the catalog's hub models, with references."""
    root = tmp_path_factory.mktemp("sentence-transformers")
    return {
        "bert": (str(root / "bert"), make_sentence_transformer("bert", str(root / "bert"), normalize=True)),
        "roberta": (str(root / "roberta"), make_sentence_transformer("roberta", str(root / "roberta"))),
        "distilbert": (
            str(root / "distilbert"),
            make_sentence_transformer("distilbert", str(root / "distilbert"), dense=True),
        ),
    }


@pytest.fixture(scope="module")
def tiny_bert(tiny_folders):
    return SentenceEmbedder.from_preset(tiny_folders["bert"][0])


# --- parity ------------------------------------------------------------------------


def test_minilm_matches_sentence_transformers(minilm, minilm_reference):
    long_text = "This sentence goes on and on. " * 80  # beyond 256 tokens: truncated like the reference
    texts = [f"Sentence number {i} says {'something ' * (i % 13)}about the weather." for i in range(20)]
    texts += SENTENCES + [long_text]
    vectors = np.asarray(minilm({"text": texts}, task="text-vectorisation"))
    reference = minilm_reference.encode(texts)
    assert vectors.shape == (len(texts), 384)
    assert cosines(vectors, reference).min() > 0.9999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), 1.0, atol=1e-5)  # modules.json: Normalize
    single = minilm({"text": texts[3]}, task="text-vectorisation")
    assert cosines(single, reference[3]) > 0.9999


def test_truncated_vectors_match_sentence_transformers(minilm, minilm_reference):
    texts = SENTENCES + [f"Sentence number {i} is about the weather." for i in range(10)]
    vectors = np.asarray(minilm({"text": texts, "truncate_dim": 64}, task="text-vectorisation"))
    reference = minilm_reference.encode(texts, truncate_dim=64, normalize_embeddings=True)
    assert vectors.shape == (len(texts), 64) and cosines(vectors, reference).min() > 0.9999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), 1.0, atol=1e-5)  # re-normalised: MiniLM normalises
    with pytest.raises(ValueError, match="'truncate_dim' is 385, more than the model's 384 dimensions"):
        minilm({"text": texts, "truncate_dim": 385}, task="text-vectorisation")


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_quantised_vectors_are_those_of_sentence_transformers(minilm, minilm_reference, precision):
    from sentence_transformers.util.quantization import quantize_embeddings

    texts = SENTENCES + [f"Sentence number {i} is about the weather." for i in range(30)]
    floats = np.asarray(minilm({"text": texts}, task="text-vectorisation"), dtype="float32")
    got = np.asarray(minilm({"text": texts, "precision": precision}, task="text-vectorisation"))
    want = quantize_embeddings(floats, precision)
    np.testing.assert_array_equal(got, want)  # the same rule on the same floats
    assert got.shape == (len(texts), 384 if precision.endswith("int8") else 48)
    tensors = minilm({"text": texts, "precision": precision, "return_tensor": True}, task="text-vectorisation")
    assert keras.backend.standardize_dtype(tensors[0].dtype) == want.dtype.name
    # The whole path against sentence-transformers' own encode: only levels at a float's rounding edge differ.
    reference = minilm_reference.encode(texts, precision=precision)
    if precision.endswith("binary"):  # compare the signs, not the bytes they are packed in
        def signs(packed):
            return np.unpackbits((packed.astype("int16") + (128 if precision == "binary" else 0)).astype("uint8"), -1)
        assert np.mean(signs(got) == signs(reference)) > 0.999
    else:
        assert np.mean(np.abs(got.astype("int16") - reference.astype("int16")) <= 1) > 0.999
    if precision.endswith("int8"):
        with pytest.raises(ValueError, match=f"'precision' '{precision}' scales each dimension by its range"):
            minilm({"text": texts[0], "precision": precision}, task="text-vectorisation")


@pytest.mark.parametrize("kind", ["roberta", "distilbert"])
def test_hub_formats_match_sentence_transformers(tiny_folders, kind):
    folder, reference = tiny_folders[kind]
    model = SentenceEmbedder.from_preset(folder)
    vectors = model.encode_text(SENTENCES)
    expected = reference.encode(SENTENCES)
    assert vectors.shape == expected.shape == (len(SENTENCES), 16 if kind == "distilbert" else 32)
    assert cosines(vectors, expected).min() > 0.9999
    # Neither format normalises: the norms match the reference too.
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), np.linalg.norm(expected, axis=-1), rtol=1e-3)
    assert not model.normalize and model.preprocessor.sequence_length == 48


def test_catalog_hf_handles_load_from_the_hugging_face_cache(tiny_folders, tmp_path, monkeypatch):
    import huggingface_hub

    cache = tmp_path / "hf-cache"
    for name, kind in (("msmarco-distilroberta-base-v2", "roberta"), ("distiluse-base-multilingual-cased-v2", "distilbert")):
        repo = cache / f"models--sentence-transformers--{name}"
        shutil.copytree(tiny_folders[kind][0], repo / "snapshots" / ("0" * 40))
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    model = AutoModel.from_pretrained("distiluse-base-multilingual-cased-v2")
    assert isinstance(model, SentenceEmbedder) and model.name == "distiluse-base-multilingual-cased-v2"
    assert model.projection_dim == 16 and model.projection_activation == "tanh"
    expected = tiny_folders["distilbert"][1].encode(SENTENCES[:2])
    assert cosines(model({"text": SENTENCES[:2]}, task="text-vectorisation"), expected).min() > 0.9999
    assert AutoModel.from_pretrained("msmarco-distilroberta-base-v2").tasks == ["text-vectorisation"]


def test_vectors_are_plain_json_or_tensors(tiny_bert):
    vector = tiny_bert({"text": "the cat"}, task="text-vectorisation")
    assert isinstance(vector, list) and all(type(x) is float for x in vector)
    tensors = tiny_bert({"text": ["the cat", "a dog"], "return_tensor": True}, task="text-vectorisation")
    assert len(tensors) == 2 and keras.ops.is_tensor(tensors[0]) and tuple(tensors[0].shape) == (32,)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensors[0]), vector, atol=1e-6)


def test_bucketing_keeps_order_and_values(tiny_bert):
    texts = [" ".join(WORDS[: 3 + (7 * i) % 40]) for i in range(20)]
    together = tiny_bert.encode_text(texts, batch_size=8)
    one_by_one = np.stack([tiny_bert.encode_text(t)[0] for t in texts[:3]])
    np.testing.assert_allclose(together[:3], one_by_one, atol=1e-5)
    assert cosines(together, tiny_bert.encode_text(texts[::-1])[::-1]).min() > 0.99999


# --- zero-shot classification ---------------------------------------------------------

TOPICS = {
    "sport": [
        "The striker scored twice in the second half and the team won the league.",
        "She ran the marathon in under three hours.",
        "The tennis final went to five sets.",
        "Our goalkeeper saved a penalty in the last minute.",
        "The basketball team signed a new point guard.",
        "He broke the world record in the 100 metres sprint.",
        "The cyclists climbed the mountain stage in heavy rain.",
        "The coach was sacked after ten straight defeats.",
    ],
    "politics": [
        "The prime minister called an early general election.",
        "Parliament voted against the new tax bill.",
        "The senator announced she will run for president.",
        "Opposition parties formed a coalition government.",
        "The minister resigned after the corruption scandal.",
        "Voters went to the polls to elect a new mayor.",
        "The president vetoed the budget passed by congress.",
        "Diplomats negotiated a treaty between the two countries.",
    ],
    "cooking": [
        "Simmer the tomato sauce for twenty minutes and add fresh basil.",
        "Knead the dough and let the bread rise overnight.",
        "Whisk the eggs with sugar before folding in the flour.",
        "Roast the chicken at 200 degrees until golden.",
        "Chop the onions finely and fry them in butter.",
        "This recipe for lemon cake needs three eggs.",
        "Season the soup with salt, pepper and a pinch of nutmeg.",
        "Marinate the beef in soy sauce and garlic for an hour.",
    ],
}
SENTIMENT = {
    "complaint": [
        "The parcel arrived broken and nobody answers my emails.",
        "I waited two hours and the food was cold. Unacceptable.",
        "The app keeps crashing and I want a refund.",
    ],
    "praise": [
        "Fantastic service, the staff were friendly and quick.",
        "I love this phone, the battery lasts for days.",
        "Thank you for the wonderful stay, everything was perfect.",
    ],
}


def zero_shot_accuracy(model, labelled):
    texts = [t for texts in labelled.values() for t in texts]
    truth = [label for label, texts in labelled.items() for _ in texts]
    results = model({"text": texts, "labels": list(labelled)}, task="text-classification")
    return np.mean([next(iter(scores)) == label for scores, label in zip(results, truth)])


def test_zero_shot_accuracy_with_minilm(minilm):
    topics, sentiment = zero_shot_accuracy(minilm, TOPICS), zero_shot_accuracy(minilm, SENTIMENT)
    print(f"zero-shot accuracy: topics {topics:.3f} (chance 0.33), complaint/praise {sentiment:.3f} (chance 0.5)")
    assert topics >= 0.85 and sentiment >= 0.8


def test_zero_shot_output_shape_and_batching(tiny_bert, monkeypatch):
    encoded = []
    encode = tiny_bert.encode_text
    monkeypatch.setattr(tiny_bert, "encode_text", lambda texts, **kw: encoded.append(list(texts)) or encode(texts, **kw))
    results = tiny_bert(
        {"text": ["the cat won", "they vote", "we bake"], "labels": [["sport", "food"], ["politics", "sport", "food"], ["food"]]},
        task="text-classification",
    )
    assert len(encoded) == 1  # one batched pass over texts and hypotheses
    labels = ("sport", "food", "politics")
    assert sorted(encoded[0][3:]) == sorted(f"This example is {label}." for label in labels)
    assert [list(r) for r in results][2] == ["food"] and results[2]["food"] == pytest.approx(1.0)
    for scores, labels in zip(results, [["sport", "food"], ["politics", "sport", "food"]]):
        assert sorted(scores) == sorted(labels)
        values = list(scores.values())
        assert values == sorted(values, reverse=True) and sum(values) == pytest.approx(1.0)
        assert all(type(v) is float for v in values)
    # The probabilities are a softmax of cosine similarities, to the mean of each label's hypotheses,
    # at the model's temperature.
    text_vector = encode(["they vote"], normalize=True)[0]
    label_vectors = np.stack([encode([f"This example is {label}."], normalize=True).mean(axis=0)
                              for label in ("politics", "sport", "food")])
    label_vectors /= np.linalg.norm(label_vectors, axis=1, keepdims=True)
    logits = label_vectors @ text_vector / tiny_bert.temperature
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose([results[1][k] for k in ("politics", "sport", "food")], expected, rtol=1e-4)


def test_zero_shot_top_k_and_template(tiny_bert):
    labels = ["sport", "politics", "food"]
    everything = tiny_bert({"text": "the cat", "labels": labels}, task="text-classification")
    assert tiny_bert({"text": "the cat", "labels": labels, "top_k": 10}, task="text-classification") == everything
    top = tiny_bert({"text": "the cat", "labels": labels, "top_k": 2}, task="text-classification")
    assert list(top) == list(everything)[:2]
    with pytest.raises(ValueError, match="hypothesis_template"):
        SentenceEmbedder(backbone=tiny_bert.backbone, hypothesis_template="no placeholder")


@pytest.mark.parametrize(
    "task_input, error, match",
    [
        ({"text": "the cat"}, ValueError, "needs 'labels'"),
        ({"text": ["a", "b"], "labels": [["x"], None]}, ValueError, "needs 'labels' for text 1"),
        ({"text": "the cat", "labels": ["x", "x"]}, ValueError, "labels"),
        ({"text": "the cat", "labels": ["x", ""]}, ValueError, "labels"),
        ({"text": "the cat", "labels": ["x"], "top_k": -1}, ValueError, "top_k"),
        ({"text": "the cat", "labels": "x"}, TypeError, "labels"),
    ],
)
def test_zero_shot_bad_input(tiny_bert, task_input, error, match):
    with pytest.raises(error, match=match):
        tiny_bert(task_input, task="text-classification")


# --- save / load -----------------------------------------------------------------------


def test_save_load_round_trip(tiny_folders, tmp_path):
    model = SentenceEmbedder.from_preset(tiny_folders["distilbert"][0], temperature=0.1)
    before = model.encode_text(SENTENCES)
    folder = kerasprop.save(model, name="tiny-distiluse", path=str(tmp_path / "saved"))
    loaded = kerasprop.load(folder)
    assert type(loaded) is SentenceEmbedder and loaded.name == "tiny-distiluse"
    assert (loaded.projection_dim, loaded.temperature, loaded.normalize) == (16, 0.1, False)
    assert loaded.preprocessor.sequence_length == 48
    np.testing.assert_allclose(loaded.encode_text(SENTENCES), before, atol=1e-5)


def test_dill_round_trip(tiny_bert):
    import dill

    copy = dill.loads(dill.dumps(tiny_bert))
    assert type(copy) is SentenceEmbedder and copy.tasks == tiny_bert.tasks
    np.testing.assert_allclose(copy.encode_text(SENTENCES), tiny_bert.encode_text(SENTENCES), atol=1e-5)


# --- finetuning ----------------------------------------------------------------------

POOLS = {
    0: "sport game team win lost match player football".split(),
    1: "politics election vote government minister law".split(),
    2: "cooking recipe bake oven food taste delicious".split(),
}


def grouped_texts(per_group, seed):
    rng = np.random.default_rng(seed)
    filler = "the a of to and in is it that for".split()
    texts, groups = [], []
    for group, pool in POOLS.items():
        for _ in range(per_group):
            words = list(rng.choice(pool, 4)) + list(rng.choice(filler, 3))
            texts.append(" ".join(rng.permutation(words)))
            groups.append(group)
    return texts, groups


def group_separation(model, texts, groups):
    """Mean cosine within groups minus mean cosine between groups."""
    vectors = model.encode_text(texts, normalize=True)
    similarity, same = vectors @ vectors.T, np.equal.outer(groups, groups)
    off_diagonal = ~np.eye(len(texts), dtype=bool)
    return similarity[same & off_diagonal].mean() - similarity[~same].mean()


def test_process_batch_draws_positives_from_the_same_group(tiny_bert):
    texts, groups = ["a", "b", "c", "d", "e"], [0, 0, 1, 1, 2]
    (x, y) = tiny_bert.process_batch({"texts": texts, "groups": groups}, task="text-vectorisation", variant="triplet")
    assert x["first"] == texts and list(y) == groups
    for text, positive, group in zip(texts, x["second"], groups):
        assert groups[texts.index(positive)] == group and (positive != text or groups.count(group) == 1)
    pairs = {"texts1": ["a", "b"], "texts2": ["c", "d"], "similarity_scores": [0.5, -0.25]}
    (x, y) = tiny_bert.process_batch(pairs, task="text-vectorisation", variant="cosine_similarity")
    assert (x["first"], x["second"], y.tolist()) == (["a", "b"], ["c", "d"], [0.5, -0.25])
    with pytest.raises(ValueError, match="cannot be finetuned for 'text-classification'"):
        tiny_bert.process_batch({"texts": texts}, task="text-classification")


@pytest.mark.parametrize("variant", ["triplet", "cosine_similarity"])
def test_finetuning_raises_within_group_similarity(tiny_folders, variant):
    import tensorflow as tf

    from kerasprop.schemas import get_schema

    model = SentenceEmbedder.from_preset(tiny_folders["bert"][0])
    texts, groups = grouped_texts(10, seed=1)
    held_out, held_out_groups = grouped_texts(5, seed=2)
    if variant == "triplet":
        params = {"texts": texts, "groups": groups}
    else:
        rng = np.random.default_rng(3)
        partners = rng.permutation(len(texts))
        params = {
            "texts1": texts,
            "texts2": [texts[j] for j in partners],
            "similarity_scores": [1.0 if groups[i] == groups[j] else 0.0 for i, j in enumerate(partners)],
        }
    params = get_schema("text-vectorisation").parse_finetune(params, variant)
    before = group_separation(model, held_out, held_out_groups)
    examples = model.process_batch(params, task="text-vectorisation", variant=variant)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), **model.finetuning_compile_kwargs("text-vectorisation", variant))
    data = tf.data.Dataset.from_tensor_slices(examples).shuffle(30, seed=0).batch(10)
    history = model.fit(data, epochs=8, verbose=0)
    after = group_separation(model, held_out, held_out_groups)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after > before + 0.1, (before, after)


def test_encode_text_refuses_non_strings(tiny_bert):
    with pytest.raises(TypeError, match="got an item 3"):
        tiny_bert.encode_text(["the cat", 3])
    assert tiny_bert.encode_text([]).shape == (0, 32)
