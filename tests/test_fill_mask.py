"""Fill-mask: parity with transformers' fill-mask pipeline on tiny random `...ForMaskedLM` checkpoints.

Each checkpoint (hidden size 32, 2 layers) is written here with `transformers`,
head included; the pipeline's candidates are the reference: the same tokens
and strings, scores within 1e-4 (keras-hub's head normalises with epsilon 1e-5
where BERT's uses 1e-12).
"""

import functools

import dill
import numpy as np
import pytest
import torch
import transformers

import kerasprop
from kerasprop.models import MaskedLM
from test_nli import write_byte_level_bpe

WORDS = ["paris", "is", "the", "capital", "of", "france", "berlin", "germany", "a", "city", "in", ".", "##s"]
BERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
            max_position_embeddings=64, initializer_range=0.2)


def write_wordpiece(folder, tokenizer_cls):
    """vocab.txt (what keras-hub reads) and the transformers tokenizer of the same vocabulary."""
    (folder / "vocab.txt").write_text("\n".join(BERT_VOCAB) + "\n")
    return tokenizer_cls(vocab={token: i for i, token in enumerate(BERT_VOCAB)})


def build_bert(folder):
    tokenizer = write_wordpiece(folder, transformers.BertTokenizer)
    return tokenizer, transformers.BertForMaskedLM(transformers.BertConfig(vocab_size=len(BERT_VOCAB), **TINY))


def build_distilbert(folder):
    tokenizer = write_wordpiece(folder, transformers.DistilBertTokenizer)
    config = transformers.DistilBertConfig(vocab_size=len(BERT_VOCAB), dim=32, n_layers=2, n_heads=2, hidden_dim=37,
                                           max_position_embeddings=64, initializer_range=0.2)
    return tokenizer, transformers.DistilBertForMaskedLM(config)


def build_roberta(folder):
    # The mask takes the space before it, as in roberta-base's tokenizer.json.
    mask = transformers.AddedToken("<mask>", lstrip=True, rstrip=False)
    tokenizer = write_byte_level_bpe(folder, functools.partial(transformers.RobertaTokenizer, mask_token=mask))
    config = transformers.RobertaConfig(vocab_size=len(tokenizer), **{**TINY, "max_position_embeddings": 66})
    return tokenizer, transformers.RobertaForMaskedLM(config)


BUILDERS = {"bert": build_bert, "distilbert": build_distilbert, "roberta": build_roberta}


def write_checkpoint(architecture, folder):
    """(folder, transformers fill-mask pipeline) of a tiny masked LM written to `folder`."""
    torch.manual_seed(0)
    tokenizer, model = BUILDERS[architecture](folder)
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, transformers.pipeline("fill-mask", model=model, tokenizer=tokenizer, device="cpu")


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def checkpoint(request, tmp_path_factory):
    return write_checkpoint(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def fill_mask(checkpoint):
    return MaskedLM.from_preset(str(checkpoint[0]))


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    """(folder, model) of the BERT checkpoint, for what does not depend on the architecture."""
    folder, _ = write_checkpoint("bert", tmp_path_factory.mktemp("bert"))
    return folder, MaskedLM.from_preset(str(folder))


def own_mask(pipeline, text):
    return text.replace("[MASK]", pipeline.tokenizer.mask_token)


def assert_candidates_match(ours, theirs):
    assert len(ours) == len(theirs)
    np.testing.assert_allclose([c["score"] for c in ours], [c["score"] for c in theirs], atol=1e-4)
    scores = [c["score"] for c in theirs]
    for i, (mine, reference) in enumerate(zip(ours, theirs)):
        # Candidates whose scores tie within the tolerance may come in either order.
        tied = any(abs(scores[i] - scores[j]) < 1e-4 for j in range(len(scores)) if j != i)
        if not tied:
            assert (mine["token"], mine["token_str"]) == (reference["token"], reference["token_str"])


def test_one_mask_matches_the_pipeline(checkpoint, fill_mask):
    _, pipeline = checkpoint
    texts = ["paris is the [MASK] of france.", "[MASK] is a city", "a city in [MASK]"]
    ours = fill_mask({"text": texts, "top_k": 5}, task="fill-mask")
    for text, mine in zip(texts, ours):
        assert_candidates_match(mine, pipeline(own_mask(pipeline, text), top_k=5))


def test_several_masks_give_one_list_per_mask(checkpoint, fill_mask):
    _, pipeline = checkpoint
    text = "[MASK] is the capital of [MASK]."
    ours = fill_mask({"text": text, "top_k": 3}, task="fill-mask")
    theirs = pipeline(own_mask(pipeline, text), top_k=3)
    assert len(ours) == 2
    for mine, reference in zip(ours, theirs):
        assert_candidates_match(mine, reference)


def test_batches_give_what_single_calls_give(bert):
    fill_mask = bert[1]
    texts = ["paris is the [MASK] of france.", "[MASK] is a city in germany and [MASK] is one in france", "[MASK]"]
    batched = fill_mask({"text": texts, "top_k": 2}, task="fill-mask")
    for text, result in zip(texts, batched):
        single = fill_mask({"text": text, "top_k": 2}, task="fill-mask")
        assert [c["token"] for c in np.ravel(result)] == [c["token"] for c in np.ravel(single)]
        np.testing.assert_allclose([c["score"] for c in np.ravel(result)], [c["score"] for c in np.ravel(single)],
                                   atol=1e-6)


def test_either_mask_spelling_and_the_sequence_keeps_the_text(fill_mask):
    """Checked on every architecture: BPE tokens carry their space, WordPiece tokens do not."""
    square = fill_mask({"text": "Paris is the [MASK] of France.", "top_k": 3}, task="fill-mask")
    angle = fill_mask({"text": "Paris is the <mask> of France.", "top_k": 3}, task="fill-mask")
    assert square == angle
    for candidate in square:
        assert isinstance(candidate["score"], float) and isinstance(candidate["token"], int)
        word = candidate["token_str"]
        expected = "Paris is the" + (word if word[:1].isspace() else " " + word) + " of France."
        assert candidate["sequence"] == expected


def test_bad_input_is_refused(bert):
    fill_mask = bert[1]
    with pytest.raises(ValueError, match=r"'text' has no mask to fill: mark each missing word with \[MASK\]"):
        fill_mask({"text": "no mask here"}, task="fill-mask")
    with pytest.raises(ValueError, match="'top_k' must be at least 1"):
        fill_mask({"text": "a [MASK]", "top_k": 0}, task="fill-mask")
    with pytest.raises(ValueError, match="more than the model's limit of 64"):
        fill_mask({"text": "a city " * 40 + "[MASK]"}, task="fill-mask")


def test_a_checkpoint_without_a_masked_lm_head_is_refused(tmp_path):
    write_wordpiece(tmp_path, transformers.BertTokenizer).save_pretrained(tmp_path)
    transformers.BertModel(transformers.BertConfig(vocab_size=len(BERT_VOCAB), **TINY)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="have no masked-LM head"):
        MaskedLM.from_preset(str(tmp_path))


def test_save_load_dill_and_auto_loading(bert, tmp_path):
    folder, fill_mask = bert
    text = {"text": "the [MASK] of france", "top_k": 4}
    expected = fill_mask(text, task="fill-mask")
    fill_mask.save_to_preset(str(tmp_path / "saved"))
    for model in (
        MaskedLM.from_preset(str(tmp_path / "saved")),
        dill.loads(dill.dumps(fill_mask)),
        kerasprop.models.load_preset(str(folder), task="fill-mask"),
    ):
        assert type(model) is type(fill_mask)
        result = model(text, task="fill-mask")
        assert [c["token"] for c in result] == [c["token"] for c in expected]
        np.testing.assert_allclose([c["score"] for c in result], [c["score"] for c in expected], atol=1e-6)


def test_the_bundled_preset_reproduces_its_recorded_candidates_and_quality():
    from kerasprop.hub import catalog
    from presets.recipes import bert_fill_mask, common

    recorded = common.read_expected(catalog.bundled_path("bert-tiny-fill-mask"))
    fill = kerasprop.FillMask("bert-tiny-fill-mask")
    for record in recorded["fill-mask"]:
        result = fill(**record["input"])
        assert [c["token_str"] for c in result] == [c["token_str"] for c in record["output"]]
        np.testing.assert_allclose([c["score"] for c in result], [c["score"] for c in record["output"]], atol=1e-3)
    cases = [bert_fill_mask.masked(sentence, answers) for sentence, answers in bert_fill_mask.split()[2]]
    best = fill([text for text, _ in cases], top_k=1)
    accuracy = np.mean([out[0]["token_str"] == answer for out, (_, answer) in zip(best, cases)])
    assert accuracy == pytest.approx(recorded["quality"]["top1_accuracy"], abs=0.07)
    assert fill("paris is the [MASK] of france .", top_k=1)[0]["token_str"] == "capital"
