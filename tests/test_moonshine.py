"""Moonshine speech recognition against transformers.

The reference checkpoint is a tiny random `MoonshineForConditionalGeneration`
(hidden size 32, two layers, rotary on 90% of each head, a BPE `tokenizer.json`
of about 300 tokens) written here with transformers and tokenizers; its
outputs are the reference.
"""

import json

import keras
import numpy as np
import pytest

from kerasprop.schemas.audio import MODEL_SAMPLING_RATE

CORPUS = ["the quick brown fox jumps over the lazy dog", "hello world", "speech recognition with moonshine",
          "she sells sea shells by the sea shore", "a tiny random model transcribes noise"] * 4
#: Decoder length of the tests (start token included); random models rarely say the end token.
MAX_LENGTH = 12


def tiny_moonshine_folder(folder, **config):
    """A tiny random Moonshine checkpoint in Hugging Face format; returns (model, tokenizer)."""
    import tokenizers
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>", byte_fallback=True))
    bpe.normalizer = tokenizers.normalizers.Sequence([tokenizers.normalizers.Prepend("▁"),
                                                      tokenizers.normalizers.Replace(" ", "▁")])
    bpe.decoder = tokenizers.decoders.Sequence([tokenizers.decoders.Replace("▁", " "), tokenizers.decoders.ByteFallback(),
                                                tokenizers.decoders.Fuse(), tokenizers.decoders.Strip(" ", 1, 0)])
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"] + bytes_[:8],
                                             show_progress=False)
    bpe.train_from_iterator(CORPUS, trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>",
                                                     eos_token="</s>", pad_token="</s>",
                                                     clean_up_tokenization_spaces=False)
    tokenizer.save_pretrained(folder)
    settings = dict(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, encoder_num_hidden_layers=2,
        decoder_num_hidden_layers=2, encoder_num_attention_heads=2, decoder_num_attention_heads=2,
        pad_head_dim_to_multiple_of=24, pad_token_id=2, architectures=["MoonshineForConditionalGeneration"],
    )
    settings.update(config)
    torch.manual_seed(0)
    model = transformers.MoonshineForConditionalGeneration(transformers.MoonshineConfig(**settings)).eval()
    with torch.no_grad():  # random norms and biases, so that a wrongly ported one shows
        for name, weight in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                weight.add_(0.2 * torch.randn_like(weight))
    model.generation_config.max_length = MAX_LENGTH
    model.save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                          do_normalize=False, return_attention_mask=True).save_pretrained(folder)
    return model, tokenizer


def noise(seconds, seed=0):
    return (0.3 * np.random.default_rng(seed).standard_normal(int(seconds * MODEL_SAMPLING_RATE))).astype("float32")


@pytest.fixture(scope="module")
def moonshine(tmp_path_factory):
    from kerasprop.models.moonshine.moonshine_speech_recognizer import MoonshineSpeechRecognizer

    folder = tmp_path_factory.mktemp("moonshine")
    reference, tokenizer = tiny_moonshine_folder(folder)
    return folder, reference, tokenizer, MoonshineSpeechRecognizer.from_preset(str(folder))


def reference_generate(reference, audio, max_length=MAX_LENGTH):
    import torch

    with torch.no_grad():
        ids = reference.generate(torch.tensor(np.stack(audio)), max_length=max_length, do_sample=False, num_beams=1)
    return ids.numpy()


def test_encoder_and_decoder_match_transformers(moonshine):
    import torch

    _, reference, _, model = moonshine
    audio = np.stack([noise(1.0, seed=1), noise(1.0, seed=2)])
    token_ids = np.random.default_rng(0).integers(3, reference.config.vocab_size, (2, 6)).astype("int32")
    token_ids[:, 0], token_ids[1, 3:] = 1, 2
    with torch.no_grad():
        expected = reference(input_values=torch.tensor(audio), decoder_input_ids=torch.tensor(token_ids).long(),
                             output_hidden_states=True)
    outputs = model.backbone({
        "encoder_input_values": audio[..., None], "encoder_padding_mask": np.ones(audio.shape, "bool"),
        "decoder_token_ids": token_ids, "decoder_padding_mask": np.ones(token_ids.shape, "bool"),
    })
    encoded = keras.ops.convert_to_numpy(outputs["encoder_sequence_output"])
    np.testing.assert_allclose(encoded, expected.encoder_last_hidden_state.numpy(), atol=1e-4)
    logits = keras.ops.convert_to_numpy(model.backbone.token_embedding(outputs["decoder_sequence_output"], reverse=True))
    np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-4)


def test_greedy_ids_and_text_match_transformers(moonshine):
    _, reference, tokenizer, model = moonshine
    audio = [noise(0.8, seed=3), noise(0.8, seed=4), noise(1.3, seed=5)]
    expected = [reference_generate(reference, [a])[0] for a in audio]
    ids = model.window_token_ids(audio, max_length=MAX_LENGTH)
    for got, want in zip(ids, expected):
        want = [int(t) for t in want[1:] if t not in (1, 2)]
        assert got == want
    texts = model({"audio": audio}, task="speech-recognition")
    assert texts == [tokenizer.decode(e, skip_special_tokens=True).strip() for e in expected]
    assert all(isinstance(t, str) for t in texts)


def test_tokenizer_round_trips_like_transformers(moonshine):
    _, _, tokenizer, model = moonshine
    ours = model.preprocessor.tokenizer
    for text in ["hello world", "the lazy fox ü!", "  spaces  and  ünïcode "]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert keras.ops.convert_to_numpy(ours(text)).tolist() == ids
        assert ours.detokenize(ids) == tokenizer.decode(ids, skip_special_tokens=True)
    assert ours.detokenize([[1, 40, 41, 2], [30]]) == tokenizer.batch_decode([[1, 40, 41, 2], [30]], skip_special_tokens=True)
    assert (ours.start_token_id, ours.end_token_id) == (1, 2)
    assert model.preprocessor.decoder_sequence_length == MAX_LENGTH


def test_long_audio_is_transcribed_in_windows(moonshine):
    from kerasprop.models.generative.speech import merge_overlapping

    _, _, _, model = moonshine
    model.preprocessor.max_audio_length = 1.2
    try:
        audio = noise(2.5, seed=6)
        size = int(1.2 * MODEL_SAMPLING_RATE)
        step = size - size // 6
        windows = [audio[s : s + size] for s in range(0, len(audio) - size // 6, step)]
        expected = merge_overlapping(model.window_token_ids(windows))
        text = model({"audio": audio}, task="speech-recognition")
    finally:
        model.preprocessor.max_audio_length = 30
    assert len(windows) == 3 and text == model.preprocessor.tokenizer.detokenize(expected).strip()


def test_save_and_load_round_trip(moonshine, tmp_path):
    from kerasprop.models.auto import AutoModel
    from kerasprop.models.moonshine.moonshine_speech_recognizer import MoonshineSpeechRecognizer

    folder, _, _, model = moonshine
    assert type(AutoModel.from_pretrained(str(folder), task="speech-recognition")) is MoonshineSpeechRecognizer
    model.save_to_preset(str(tmp_path / "saved"))
    loaded = MoonshineSpeechRecognizer.from_preset(str(tmp_path / "saved"))
    assert type(loaded) is MoonshineSpeechRecognizer and loaded.tasks == ["speech-recognition"]
    assert loaded.preprocessor.decoder_sequence_length == MAX_LENGTH
    audio = [noise(0.9, seed=7)]
    assert loaded.window_token_ids(audio) == model.window_token_ids(audio)
    assert loaded.preprocessor.tokenizer.get_vocabulary() == model.preprocessor.tokenizer.get_vocabulary()


def test_finetuning_learns_a_transcript(moonshine):
    from kerasprop.schemas.audio import load_audio
    from kerasprop.training import finetune

    folder, _, tokenizer, _ = moonshine
    from kerasprop.models.moonshine.moonshine_speech_recognizer import MoonshineSpeechRecognizer

    model = MoonshineSpeechRecognizer.from_preset(str(folder))
    clips = [noise(0.6, seed=8), noise(0.7, seed=9)]
    history = finetune(model, {"audio": clips * 2, "text": ["hello world"] * 4}, "speech-recognition",
                       validation_split=0.0, epochs=8, batch_size=4, optimizer=keras.optimizers.Adam(1e-2), verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    x, y, weights = model.preprocessor({"audio": np.stack([clips[0][:9000], clips[1][:9000]]), "text": ["hello world"] * 2})
    ids = tokenizer("hello world", add_special_tokens=False)["input_ids"]
    token_ids = keras.ops.convert_to_numpy(x["decoder_token_ids"])[0]
    assert token_ids[: len(ids) + 1].tolist() == [1] + ids  # the decoder reads the start token, then the text
    assert keras.ops.convert_to_numpy(y)[0, : len(ids) + 1].tolist() == ids + [2]  # and predicts the text and its end
    with pytest.raises(ValueError, match=r"'audio\[0\]' is longer than the model's window of 30 s"):
        model.process_batch({"audio": [load_audio(noise(31))], "text": ["x"]})


@pytest.mark.parametrize("setting, value", [("decoder_num_key_value_heads", 1), ("tie_word_embeddings", False),
                                            ("encoder_hidden_act", "relu"), ("partial_rotary_factor", 0.7)])
def test_unsupported_settings_are_named(tmp_path, setting, value):
    from kerasprop.hub.converters.moonshine import convert_backbone_config

    config = json.loads(json.dumps(dict(
        vocab_size=300, hidden_size=32, intermediate_size=64, encoder_num_hidden_layers=2, decoder_num_hidden_layers=2,
        encoder_num_attention_heads=2, decoder_num_attention_heads=2, model_type="moonshine",
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.9},
    )))
    if setting == "partial_rotary_factor":
        config["rope_parameters"][setting] = value  # 0.7 of 16 head dimensions: 11, an odd rotary width
    else:
        config[setting] = value
    with pytest.raises(ValueError, match=setting):
        convert_backbone_config(config)
