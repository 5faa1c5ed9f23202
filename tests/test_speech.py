"""Speech: audio inputs, Whisper speech recognition and audio classification against transformers.

The reference checkpoints are tiny random Whisper models (hidden size 32, two
layers, a byte-level vocabulary, a 1 s window) written here with transformers.
"""

import base64
import io
import json
import wave

import keras
import numpy as np
import pytest

from kerasprop.schemas import get_schema
from kerasprop.schemas.audio import MODEL_SAMPLING_RATE, load_audio

SPECIAL_TOKENS = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|de|>", "<|translate|>", "<|transcribe|>",
                  "<|nocaptions|>", "<|notimestamps|>"]
LABELS = {0: "low", 1: "mid", 2: "high"}


def tiny_whisper_folder(folder, classifier=False, timestamps=False):
    """A tiny random Whisper checkpoint in Hugging Face format; returns the transformers model and tokenizer.

    With `timestamps`, the vocabulary ends with the timestamp tokens `<|0.00|>` ... `<|1.00|>` (ordinary
    added tokens, as in OpenAI's checkpoints).
    """
    import torch
    import transformers
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {c: i for i, c in enumerate(bytes_to_unicode().values())}
    merges = ["Ġ t", "h e", "Ġt he", "o n", "Ġ a"]
    for merge in merges:
        vocab[merge.replace(" ", "")] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    end = SPECIAL_TOKENS[0]
    tokenizer = transformers.WhisperTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                                              unk_token=end, bos_token=end, eos_token=end, pad_token=end)
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:]})
    if timestamps:
        tokenizer.add_tokens([transformers.AddedToken(f"<|{i * 0.02:.2f}|>", special=False) for i in range(51)])
    tokenizer.save_pretrained(folder)
    ids = tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS)
    config = transformers.WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, d_model=32, max_source_positions=50,
        max_target_positions=24, pad_token_id=ids[0], bos_token_id=ids[0], eos_token_id=ids[0],
        decoder_start_token_id=ids[1], suppress_tokens=None, begin_suppress_tokens=None, classifier_proj_size=16,
        id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
    )
    torch.manual_seed(0)
    cls = transformers.WhisperForAudioClassification if classifier else transformers.WhisperForConditionalGeneration
    model = cls(config).eval()
    model.save_pretrained(folder)
    transformers.WhisperFeatureExtractor(feature_size=80, chunk_length=1).save_pretrained(folder)
    return model, tokenizer


def tone(seconds=0.75, frequency=440.0, rate=MODEL_SAMPLING_RATE, seed=0):
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * frequency * t) + 0.05 * noise).astype("float32")


def wav_bytes(samples, rate, channels=1, width=2):
    scaled = np.round(np.clip(samples, -1, 1) * (2 ** (8 * width - 1) - 1)).astype("<i4")
    frames = np.repeat(scaled[:, None], channels, axis=1)
    if width == 1:  # 8-bit WAV is unsigned
        frames = (frames + 128).astype("uint8")
    else:  # little-endian, the low `width` bytes of each int32
        frames = frames.astype("<i4").view("uint8").reshape(*frames.shape, 4)[..., :width]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(frames.tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def recognizer_pair(tmp_path_factory):
    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer

    folder = tmp_path_factory.mktemp("whisper")
    reference, tokenizer = tiny_whisper_folder(folder)
    return folder, reference, tokenizer, WhisperSpeechRecognizer.from_preset(str(folder))


@pytest.fixture(scope="module")
def classifier_pair(tmp_path_factory):
    from kerasprop.models.whisper.whisper_speech import WhisperAudioClassifier

    folder = tmp_path_factory.mktemp("whisper-classifier")
    reference, _ = tiny_whisper_folder(folder, classifier=True)
    return folder, reference, WhisperAudioClassifier.from_preset(str(folder))


# === Audio inputs ===


def test_wav_path_bytes_and_base64_decode_alike_and_resample_to_16k(tmp_path):
    samples = tone(0.5, rate=8000)
    raw = wav_bytes(samples, 8000, channels=2)
    path = tmp_path / "tone.wav"
    path.write_bytes(raw)
    decoded = [load_audio(v) for v in (str(path), path, raw, base64.b64encode(raw).decode(),
                                        "data:audio/wav;base64," + base64.b64encode(raw).decode())]
    for waveform in decoded:
        assert waveform.sampling_rate == 8000
        np.testing.assert_allclose(waveform.samples, samples, atol=1e-4)
    request = get_schema("speech-recognition").parse({"audio": [str(path), raw]})
    assert request.batched and [len(a) for a in request.inputs["audio"]] == [8000, 8000]
    from scipy.signal import resample_poly

    np.testing.assert_allclose(request.inputs["audio"][0], resample_poly(decoded[0].samples, 2, 1), atol=1e-6)


def test_pcm_widths_float_wav_and_arrays_are_scaled_to_unit_range():
    samples = tone(0.1)
    for width in (1, 2, 3, 4):
        np.testing.assert_allclose(load_audio(wav_bytes(samples, 16000, width=width)).samples, samples,
                                   atol=2.0 / 2 ** (8 * width - 1))
    from scipy.io import wavfile

    buffer = io.BytesIO()
    wavfile.write(buffer, 22050, samples)
    float_wav = load_audio(buffer.getvalue())
    assert float_wav.sampling_rate == 22050 and np.allclose(float_wav.samples, samples)
    np.testing.assert_allclose(load_audio((samples * 32767).astype("int16")).samples, samples, atol=1e-4)
    stereo = np.stack([samples, samples], axis=1)
    np.testing.assert_allclose(load_audio(stereo).samples, samples)


def test_array_rate_comes_from_the_option_or_the_dict_form():
    samples = tone(1.0, rate=8000)
    schema = get_schema("audio-classification")
    assert len(schema.parse({"audio": samples}).inputs["audio"][0]) == 8000  # taken as 16 kHz
    assert len(schema.parse({"audio": samples, "sampling_rate": 8000}).inputs["audio"][0]) == 16000
    both = schema.parse({"audio": [{"array": samples, "sampling_rate": 8000}, samples], "sampling_rate": 32000})
    assert [len(a) for a in both.inputs["audio"]] == [16000, 4000]


@pytest.mark.parametrize(
    "value, error, message",
    [
        ([tone(), b"ID3 not a wav"], ValueError, "'audio[1]': bytes is not a WAV file"),
        ([tone(), np.array([0.0, np.nan])], ValueError, "'audio[1]' array holds NaN"),
        (["/no/such/file.wav"], ValueError, "'audio[0]' is neither an existing audio file"),
        (3.5, TypeError, "'audio' must be audio"),
        (np.zeros((2, 2, 2)), ValueError, "shape (samples,) or (samples, channels)"),
        ({"array": tone()}, ValueError, "needs exactly the keys 'array' and 'sampling_rate'"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", ValueError, "is a broken or unsupported WAV file"),
    ],
)
def test_broken_audio_is_a_clear_error_naming_the_item(value, error, message):
    with pytest.raises(error) as caught:
        get_schema("speech-recognition").parse({"audio": value})
    assert message in str(caught.value)


def test_sampling_rate_must_be_positive():
    with pytest.raises(ValueError, match="'sampling_rate' must be at least 1"):
        get_schema("speech-recognition").parse({"audio": tone(), "sampling_rate": 0})


# === Long audio ===


def test_windows_overlap_and_overlapping_transcripts_join_once():
    from kerasprop.models.whisper.whisper_speech import audio_windows, merge_overlapping

    windows = audio_windows(np.arange(25), 10, overlap=2)
    assert [w[0] for w in windows] == [0, 8, 16] and windows[-1][-1] == 24
    assert len(audio_windows(np.arange(10), 10, overlap=2)) == 1
    assert merge_overlapping([[1, 2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8]]) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert merge_overlapping([[1, 2], [3, 4]]) == [1, 2, 3, 4]  # no alignment: concatenated
    assert merge_overlapping([]) == []


def test_long_audio_is_transcribed_window_by_window_and_joined(recognizer_pair):
    from kerasprop.models.whisper.whisper_speech import audio_windows, merge_overlapping

    _, _, _, model = recognizer_pair
    audio = tone(2.5, frequency=300)
    windows = audio_windows(audio, 16000, overlap=16000 // 6)
    assert len(windows) == 3
    expected = model.preprocessor.tokenizer.detokenize(merge_overlapping(model.window_token_ids(windows)))
    expected = keras.ops.convert_to_numpy(expected).item()
    expected = (expected.decode() if isinstance(expected, bytes) else expected).strip()
    assert model({"audio": audio}, task="speech-recognition") == expected


# === Speech recognition: parity with transformers ===


def test_features_encoder_and_logits_match_transformers(recognizer_pair):
    import torch
    import transformers

    folder, reference, _, model = recognizer_pair
    audio = tone()
    features = transformers.WhisperFeatureExtractor.from_pretrained(folder)(
        audio, sampling_rate=16000, return_tensors="np").input_features
    ours = keras.ops.convert_to_numpy(model.preprocessor.audio_converter(audio[None]))
    np.testing.assert_allclose(ours, features.transpose(0, 2, 1), atol=1e-4)

    prompt = model.preprocessor.prompt_ids
    decoder_ids = np.array([prompt + [8, 9, 10]], dtype="int32")
    inputs = {"encoder_features": features.transpose(0, 2, 1), "decoder_token_ids": decoder_ids,
              "decoder_padding_mask": np.ones_like(decoder_ids, dtype="bool")}
    outputs = model.backbone.predict_on_batch(inputs)
    logits = keras.Model.predict_on_batch(model, inputs)
    with torch.no_grad():
        expected = reference(input_features=torch.tensor(features), decoder_input_ids=torch.tensor(decoder_ids),
                             output_hidden_states=True)
    np.testing.assert_allclose(outputs["encoder_sequence_output"], expected.encoder_last_hidden_state.numpy(),
                               atol=1e-4)
    np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-4)


def test_greedy_token_ids_and_transcript_match_transformers(recognizer_pair):
    import torch
    import transformers

    folder, reference, tokenizer, model = recognizer_pair
    clips = [tone(0.75, 440, seed=1), tone(0.5, 900, seed=2)]
    extractor = transformers.WhisperFeatureExtractor.from_pretrained(folder)
    prompt = model.preprocessor.prompt_ids
    assert tokenizer.convert_ids_to_tokens(prompt) == [
        "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]
    expected_ids, expected_texts = [], []
    for clip in clips:
        features = torch.tensor(extractor(clip, sampling_rate=16000, return_tensors="np").input_features)
        ids = list(prompt)
        with torch.no_grad():  # greedy decoding, one full forward pass per token
            while len(ids) < reference.config.max_target_positions and (len(ids) == len(prompt) or ids[-1] != 261):
                ids.append(int(reference(input_features=features, decoder_input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
        expected_ids.append([t for t in ids[len(prompt):] if t < 261])
        expected_texts.append(tokenizer.decode(ids, skip_special_tokens=True).strip())
    assert model.window_token_ids(clips) == expected_ids
    assert model({"audio": clips}, task="speech-recognition") == expected_texts


def test_save_to_preset_round_trip_keeps_transcripts_and_settings(recognizer_pair, tmp_path):
    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer

    _, _, _, model = recognizer_pair
    clip = tone(seed=3)
    model.save_to_preset(str(tmp_path / "saved"))
    loaded = WhisperSpeechRecognizer.from_preset(str(tmp_path / "saved"))
    assert type(loaded) is WhisperSpeechRecognizer and loaded.tasks == ["speech-recognition"]
    assert loaded.preprocessor.decoder_sequence_length == model.preprocessor.decoder_sequence_length == 24
    assert loaded.preprocessor.prompt_ids == model.preprocessor.prompt_ids
    assert loaded({"audio": clip}) == model({"audio": clip})


def test_finetuning_learns_a_transcript(recognizer_pair, tmp_path):
    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer
    from kerasprop.training import finetune

    folder = recognizer_pair[0]
    model = WhisperSpeechRecognizer.from_preset(str(folder))
    clips = [tone(0.6, 300, seed=4), tone(0.6, 1500, seed=5)]
    history = finetune(model, {"audio": clips * 4, "text": ["the cat"] * 8}, "speech-recognition",
                       validation_split=0.0, epochs=10, batch_size=8, optimizer=keras.optimizers.Adam(1e-2),
                       verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    x, y, weights = model.preprocessor({"audio": np.zeros((1, 16000), "float32"), "text": ["the cat"]})
    weights = keras.ops.convert_to_numpy(weights)[0]
    targets = len(keras.ops.convert_to_numpy(model.preprocessor.tokenizer("the cat"))) + 1  # the text and its end
    assert not weights[:3].any()  # the prompt is not a target
    assert weights[3:3 + targets].all() and not weights[3 + targets:].any()
    with pytest.raises(ValueError, match=r"'audio\[0\]' is longer than the model's window of 1 s"):
        model.process_batch({"audio": load_audio_list([tone(1.5)]), "text": ["x"]})


def load_audio_list(clips):
    return [load_audio(c) for c in clips]


# === Audio classification ===


def test_classifier_matches_transformers_and_reads_its_labels(classifier_pair):
    import torch
    import transformers

    folder, reference, model = classifier_pair
    assert model.labels == ["low", "mid", "high"] and model.projection_dim == 16
    clips = [tone(0.75, 440, seed=6), tone(0.3, 1200, seed=7)]
    extractor = transformers.WhisperFeatureExtractor.from_pretrained(folder)
    features = torch.tensor(extractor(clips, sampling_rate=16000, return_tensors="np").input_features)
    with torch.no_grad():
        expected = reference(features).logits.softmax(-1).numpy()
    np.testing.assert_allclose(model.probabilities(clips), expected, atol=1e-5)
    scores = model({"audio": clips, "top_k": 2}, task="audio-classification")
    assert [list(s) for s in scores] == [[LABELS[i] for i in np.argsort(-row)[:2]] for row in expected]
    assert all(isinstance(v, float) for s in scores for v in s.values())


def test_classifier_finetunes_on_new_labels_and_round_trips(classifier_pair, tmp_path):
    from kerasprop.models.whisper.whisper_speech import WhisperAudioClassifier
    from kerasprop.training import finetune

    folder = classifier_pair[0]
    model = WhisperAudioClassifier.from_preset(str(folder))
    rng = np.random.default_rng(0)
    clips = [tone(0.5, rng.uniform(200, 400), seed=i) for i in range(6)]
    clips += [(0.3 * rng.standard_normal(8000)).astype("float32") for _ in range(6)]
    labels = ["tone"] * 6 + ["noise"] * 6
    finetune(model, {"audio": clips, "labels": labels}, "audio-classification", validation_split=0.0, epochs=25,
             batch_size=12, optimizer=keras.optimizers.Adam(3e-3), verbose=0)
    assert model.labels == ["noise", "tone"]
    predicted = [max(s, key=s.get) for s in model({"audio": clips}, task="audio-classification")]
    assert predicted == labels
    model.save_to_preset(str(tmp_path / "saved"))
    loaded = WhisperAudioClassifier.from_preset(str(tmp_path / "saved"))
    np.testing.assert_allclose(loaded.probabilities(clips[:2]), model.probabilities(clips[:2]), atol=1e-6)
    with pytest.raises(ValueError, match=r"'labels\[0\]' is 'bird', which is not one of the model's labels"):
        model.process_batch({"audio": load_audio_list(clips[:1]), "labels": ["bird"]})


def test_a_checkpoint_without_a_head_needs_labels(recognizer_pair):
    from kerasprop.models.whisper.whisper_speech import WhisperAudioClassifier

    with pytest.raises(ValueError, match="has no audio-classification head: give 'labels'"):
        WhisperAudioClassifier.from_preset(str(recognizer_pair[0]))


# === The one-line API ===


def test_task_classes_and_families_load_the_whisper_folders(recognizer_pair, classifier_pair, tmp_path):
    import kerasprop
    from kerasprop.models.families import class_for
    from kerasprop.models.whisper.whisper_speech import WhisperAudioClassifier, WhisperSpeechRecognizer

    assert class_for(str(recognizer_pair[0]), "speech-recognition") is WhisperSpeechRecognizer
    assert class_for(str(classifier_pair[0]), "audio-classification") is WhisperAudioClassifier
    path = tmp_path / "clip.wav"
    clip = tone(seed=8)
    path.write_bytes(wav_bytes(clip, 16000))
    transcript = kerasprop.SpeechRecognition(recognizer_pair[3])(str(path))
    assert transcript == recognizer_pair[3]({"audio": load_audio(str(path)).samples})
    scores = kerasprop.AudioClassification(classifier_pair[2])(str(path), top_k=1)
    assert list(scores) == [max(classifier_pair[2]({"audio": str(path)}).items(), key=lambda kv: kv[1])[0]]


def test_cli_takes_audio_options_from_the_schema():
    from kerasprop import cli

    args = cli.build_parser().parse_args(["run", "speech-recognition", "--audio", "a.wav", "--sampling-rate", "8000"])
    assert cli.task_input_from_args(get_schema("speech-recognition"), args) == {"audio": "a.wav", "sampling_rate": 8000}


# === Bundled presets ===


def test_bundled_tones_classifier_reproduces_its_recorded_labels_offline():
    import kerasprop
    from kerasprop.hub import catalog
    from presets.recipes import common, whisper_tones

    records = common.read_expected(catalog.bundled_path("whisper-tiny-tones"))
    audio, labels = whisper_tones.heldout()
    classify = kerasprop.AudioClassification("whisper-tiny-tones")
    recorded = records["audio-classification"]
    scores = classify([audio[r["clip"]] for r in recorded], top_k=1)
    for record, score in zip(recorded, scores):
        assert list(score) == [record["top"]] and abs(score[record["top"]] - record["top_score"]) < 1e-3
    sample = classify(audio[:40], top_k=1)
    accuracy = np.mean([next(iter(s)) == label for s, label in zip(sample, labels[:40])])
    assert accuracy >= max(records["quality"]["accuracy_4_labels"] - 0.2, 0.5)


def test_bundled_random_recognizer_is_labelled_and_reproduces_its_recorded_transcripts():
    import kerasprop
    from kerasprop.hub import catalog
    from presets.recipes import common, whisper_random

    folder = catalog.bundled_path("whisper-tiny-random")
    assert "TEST PRESET" in catalog.all_entries()["whisper-tiny-random"].description
    assert "does not recognise speech" in (folder / common.CARD_FILE).read_text()
    records = common.read_expected(folder)["speech-recognition"]
    assert kerasprop.SpeechRecognition("whisper-tiny-random")(whisper_random.heldout()) == [
        r["transcript"] for r in records]


def test_bundled_commands_recognizer_is_the_default_and_reproduces_its_recorded_transcripts():
    import kerasprop
    from kerasprop.hub import catalog
    from presets.recipes import common, whisper_commands

    recognise = kerasprop.SpeechRecognition()
    assert recognise.model.name == "whisper-tiny-commands"
    folder = catalog.bundled_path("whisper-tiny-commands")
    records = common.read_expected(folder)
    clips = [str(folder / "assets" / "clips" / r["clip"]) for r in records["speech-recognition"]]
    assert [t.strip() for t in recognise(clips)] == [r["transcript"] for r in records["speech-recognition"]]
    # The card's figures, measured on 200 clips of the held-out voice, are plausible and the demo clip is heard right.
    quality = records["quality"]
    assert quality["heldout_voice"] == whisper_commands.HELDOUT_VOICE and quality["heldout_clips"] >= 150
    assert records["speech-recognition"][0]["reference"] == whisper_commands.DEMO_TEXT
