"""Hugging Face T5 (kerasprop's converter) and BART (keras-hub's) folders against transformers.

Every checkpoint is a tiny random model written here with `transformers`;
its outputs are the reference: logits within 1e-4 of the largest logit
(float32 rounding grows with the logits' scale), identical greedy tokens.
"""

import json

import keras
import numpy as np
import pytest
import safetensors.numpy
import sentencepiece
import torch
import transformers

from kerasprop.models import BartMultiTask, Seq2SeqLM, T5MultiTask

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Keras is a deep learning library for Python.",
    "summarise: emotion: q: a: c: question answer context",
    "I love this library and I am happy today!",
    "Paris is the capital of France.",
    "Who wrote the book? Ada wrote the book in London.",
]
PROMPTS = ["I love Paris and the quick fox", "Who wrote the book?", "Keras"]
NEW_TOKENS = 12
T5_VARIANTS = {"v1.0": "relu", "v1.1": "gated-gelu"}


def write_tiny_t5(folder, feed_forward_proj="relu", **config):
    """A random T5 (vocabulary 64, width 32, 2 layers) with a SentencePiece `spiece.model`.

    `config` overrides T5Config arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES * 20), model_prefix=str(folder / "spiece"), vocab_size=64,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>", minloglevel=2,
    )
    torch.manual_seed(0)
    config = transformers.T5Config(
        vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        feed_forward_proj=feed_forward_proj, decoder_start_token_id=0,
        # Larger random weights give varied (not constant) greedy outputs.
        **{"initializer_factor": 2.0, **config},
    )
    transformers.T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def write_tiny_bart(folder):
    """A random BART (width 32, 2 layers) with a byte-level BPE vocabulary."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        SENTENCES * 20, vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    folder.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(folder))
    torch.manual_seed(0)
    config = transformers.BartConfig(
        vocab_size=bpe.get_vocab_size(), d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_position_embeddings=128, init_std=0.5, forced_bos_token_id=0, forced_eos_token_id=None,
    )
    transformers.BartForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=sorted(T5_VARIANTS))
def t5_folder(request, tmp_path_factory):
    return write_tiny_t5(tmp_path_factory.mktemp(request.param), T5_VARIANTS[request.param])


@pytest.fixture(scope="module")
def bart_folder(tmp_path_factory):
    return write_tiny_bart(tmp_path_factory.mktemp("bart"))


def _batch(model, texts):
    """Padded encoder ids and mask from the model's own tokenizer (a right-padded batch)."""
    x, _, _ = model.preprocessor({"encoder_text": texts, "decoder_text": [""] * len(texts)})
    keep = int(np.asarray(x["encoder_padding_mask"]).sum(axis=1).max())
    return {k: np.asarray(x[k])[:, :keep] for k in ("encoder_token_ids", "encoder_padding_mask")}


def assert_logits_close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * max(1.0, np.abs(theirs).max()))


def _logits(model, reference, texts, decoder_ids):
    x = _batch(model, texts)
    decoder_ids = np.asarray(decoder_ids, "int32")
    keras_logits = model(dict(x, decoder_token_ids=decoder_ids, decoder_padding_mask=np.ones_like(decoder_ids)))
    with torch.no_grad():
        hf_logits = reference(
            input_ids=torch.tensor(x["encoder_token_ids"]).long(),
            attention_mask=torch.tensor(x["encoder_padding_mask"]).long(),
            decoder_input_ids=torch.tensor(decoder_ids).long(),
        ).logits.numpy()
    return keras.ops.convert_to_numpy(keras_logits), hf_logits


def _greedy_ids(model, reference, texts):
    """Greedy token ids from both, special tokens left out."""
    x = _batch(model, texts)
    start = model.decoder_prompt_length  # transformers counts BART's forced `<s>` as a new token
    with torch.no_grad():
        hf = reference.generate(
            input_ids=torch.tensor(x["encoder_token_ids"]).long(),
            attention_mask=torch.tensor(x["encoder_padding_mask"]).long(),
            do_sample=False, num_beams=1, max_new_tokens=NEW_TOKENS + start - 1,
        ).numpy()
    model.compile(sampler="greedy")
    length = start + NEW_TOKENS
    decoder = np.zeros((len(texts), length), "int32")
    decoder[:, :start] = hf[:, :start]
    preprocessor, model.preprocessor = model.preprocessor, None
    try:
        out = model.generate(
            dict(x, decoder_token_ids=decoder, decoder_padding_mask=(np.arange(length) < start)[None].repeat(len(texts), 0)),
            stop_token_ids=(reference.config.eos_token_id,),
        )
    finally:
        model.preprocessor = preprocessor
    ours = [list(row[mask]) for row, mask in zip(out["decoder_token_ids"], out["decoder_padding_mask"])]
    special = {reference.config.pad_token_id, reference.config.eos_token_id, reference.config.decoder_start_token_id}
    return [[int(t) for t in row if t not in special] for row in ours], [
        [t for t in row if t not in special] for row in hf.tolist()
    ]


def test_t5_logits_match_transformers(t5_folder):
    model = Seq2SeqLM.from_preset(str(t5_folder))
    assert type(model) is T5MultiTask
    reference = transformers.T5ForConditionalGeneration.from_pretrained(t5_folder).eval()
    ours, theirs = _logits(model, reference, PROMPTS[:2], [[0, 5, 9, 12, 3], [0, 7, 7, 2, 40]])
    assert_logits_close(ours, theirs)


def test_t5_greedy_generation_matches_transformers(t5_folder):
    model = T5MultiTask.from_preset(str(t5_folder))
    reference = transformers.T5ForConditionalGeneration.from_pretrained(t5_folder).eval()
    ours, theirs = _greedy_ids(model, reference, PROMPTS)
    assert ours == theirs
    assert len({tuple(row) for row in theirs}) > 1, "degenerate reference: all rows alike"
    # The same through text: kerasprop's tokenizer and detokenizer are SentencePiece's.
    processor = sentencepiece.SentencePieceProcessor(model_file=str(t5_folder / "spiece.model"))
    assert [list(ids) for ids in model.preprocessor.tokenizer(PROMPTS)] == processor.encode(PROMPTS)
    model.compile(sampler="greedy")
    assert model.generate(PROMPTS, max_length=1 + NEW_TOKENS) == processor.decode(theirs)


def test_t5_checkpoint_with_separate_head(tmp_path):
    """Checkpoints written before transformers 5 (v1.1) store `lm_head.weight` and say `tie_word_embeddings: false`."""
    folder = write_tiny_t5(tmp_path / "old", "gated-gelu")
    reference = transformers.T5ForConditionalGeneration.from_pretrained(folder).eval()
    weights = safetensors.numpy.load_file(folder / "model.safetensors")
    head = np.random.default_rng(0).normal(size=weights["shared.weight"].shape).astype("float32")
    safetensors.numpy.save_file(dict(weights, **{"lm_head.weight": head}), folder / "model.safetensors",
                                metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text())
    config.pop("scale_decoder_outputs")
    config["tie_word_embeddings"] = False
    (folder / "config.json").write_text(json.dumps(config))
    model = T5MultiTask.from_preset(str(folder))
    assert not model.backbone.tie_embedding_weights
    # transformers computes the hidden states; the separate head is applied to them unscaled.
    x = _batch(model, PROMPTS[:1])
    decoder_ids = np.array([[0, 5, 9]], "int32")
    ours = keras.ops.convert_to_numpy(model(dict(x, decoder_token_ids=decoder_ids, decoder_padding_mask=np.ones_like(decoder_ids))))
    with torch.no_grad():
        hidden = reference(
            input_ids=torch.tensor(x["encoder_token_ids"]).long(), decoder_input_ids=torch.tensor(decoder_ids).long(),
            output_hidden_states=True,
        ).decoder_hidden_states[-1].numpy()
    assert_logits_close(ours, hidden @ head.T)


def test_bart_folder_of_transformers_5_and_4(bart_folder, tmp_path):
    """transformers 5 writes no `num_hidden_layers` (keras-hub's converter needs it); transformers 4 did."""
    config = json.loads((bart_folder / "config.json").read_text())
    assert "num_hidden_layers" not in config and config["encoder_layers"] == 2
    assert BartMultiTask.from_preset(str(bart_folder), load_weights=False).backbone.num_layers == 2
    old = tmp_path / "transformers-4"
    old.mkdir()
    for file in bart_folder.iterdir():
        (old / file.name).write_bytes(file.read_bytes())
    (old / "config.json").write_text(json.dumps(dict(config, num_hidden_layers=2)))
    assert BartMultiTask.from_preset(str(old), load_weights=False).backbone.num_layers == 2
    (old / "config.json").write_text(json.dumps(dict(config, decoder_layers=3)))
    with pytest.raises(ValueError, match="encoder_layers=2 and decoder_layers=3"):
        BartMultiTask.from_preset(str(old), load_weights=False)


def test_bart_through_keras_hub_converter(bart_folder):
    model = Seq2SeqLM.from_preset(str(bart_folder))
    assert type(model) is BartMultiTask
    reference = transformers.BartForConditionalGeneration.from_pretrained(bart_folder).eval()
    ours, theirs = _logits(model, reference, PROMPTS[:2], [[2, 0, 9, 12, 3], [2, 0, 7, 7, 40]])
    assert_logits_close(ours, theirs)
    ours, theirs = _greedy_ids(model, reference, PROMPTS)
    assert ours == theirs


def test_folder_without_spiece_model_is_refused(tmp_path):
    folder = write_tiny_t5(tmp_path / "t5")
    (folder / "spiece.model").unlink()
    with pytest.raises(ValueError, match="spiece.model"):
        T5MultiTask.from_preset(str(folder))


@pytest.mark.parametrize(
    "change, message",
    [({"num_decoder_layers": 3}, "as many decoder as encoder layers"),
     ({"relative_attention_num_buckets": 16}, "relative position buckets")],
)
def test_unsupported_t5_configs_are_refused(tmp_path, change, message):
    folder = write_tiny_t5(tmp_path / "t5")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, **change)))
    with pytest.raises(ValueError, match=message):
        T5MultiTask.from_preset(str(folder), load_weights=False)
