"""Whisper decoding as transformers does it: generation_config suppression, timestamps, language and task.

The reference is a tiny random `WhisperForConditionalGeneration` (see
`test_speech.tiny_whisper_folder`) with timestamp tokens and a
`generation_config.json` whose suppressed tokens are ones the model picks
without suppression. transformers 5 seeks on after a segment that closes with
two timestamps and decodes again; kerasprop, like Whisper's own per-window
decoding, makes one pass per window, so the reference is one `generate` pass
(`force_unique_generate_call=True`).
"""

import collections

import numpy as np
import pytest
from test_speech import tiny_whisper_folder, tone

END, START_OF_TRANSCRIPT, EN, DE, TRANSLATE, TRANSCRIBE, NO_TIMESTAMPS = 261, 262, 263, 264, 265, 266, 268
CLIPS = [tone(0.75, 440, seed=1), tone(0.5, 900, seed=2)]


def generate(reference, features, **kwargs):
    """transformers' greedy ids of one decoding pass, without the prompt and the end token."""
    import torch

    with torch.no_grad():
        ids = reference.generate(torch.tensor(features), force_unique_generate_call=True, **kwargs)
    prompt = 3 if kwargs.get("return_timestamps") else 4  # <|startoftranscript|>, language, task (, <|notimestamps|>)
    ids = [row[row.index(START_OF_TRANSCRIPT) + prompt :] for row in ids.tolist()]
    return [row[: row.index(END)] if END in row else row for row in ids]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """(folder, reference, tokenizer, features, ids without suppression, kerasprop model)."""
    import transformers

    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer

    folder = tmp_path_factory.mktemp("whisper-timestamps")
    reference, tokenizer = tiny_whisper_folder(folder, timestamps=True)
    features = transformers.WhisperFeatureExtractor.from_pretrained(folder)(
        CLIPS, sampling_rate=16000, return_tensors="np").input_features
    config = transformers.GenerationConfig(
        decoder_start_token_id=START_OF_TRANSCRIPT, bos_token_id=END, eos_token_id=END, pad_token_id=END,
        max_length=24, no_timestamps_token_id=NO_TIMESTAMPS, is_multilingual=True,
        lang_to_id={"<|en|>": EN, "<|de|>": DE}, task_to_id={"transcribe": TRANSCRIBE, "translate": TRANSLATE},
        forced_decoder_ids=[[1, DE], [2, TRANSCRIBE]],
    )
    reference.generation_config = config
    unsuppressed = generate(reference, features), generate(reference, features, return_timestamps=True)
    # Suppress what the random model likes most, then what it would start with instead.
    config.suppress_tokens = [collections.Counter(unsuppressed[0][0]).most_common(1)[0][0]]
    config.begin_suppress_tokens = [generate(reference, features)[0][0]]
    config.max_initial_timestamp_index = 5
    config.save_pretrained(folder)
    return folder, reference, tokenizer, features, unsuppressed, WhisperSpeechRecognizer.from_preset(str(folder))


def test_generation_config_is_read_and_round_trips(checkpoint, tmp_path):
    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer

    _, reference, _, _, _, model = checkpoint
    config = reference.generation_config
    assert model.suppress_tokens == config.suppress_tokens
    assert model.begin_suppress_tokens == config.begin_suppress_tokens
    assert model.max_initial_timestamp_index == 5
    assert model.preprocessor.prompt_ids == [START_OF_TRANSCRIPT, DE, TRANSCRIBE, NO_TIMESTAMPS]  # forced_decoder_ids
    model.save_to_preset(str(tmp_path / "saved"))
    loaded = WhisperSpeechRecognizer.from_preset(str(tmp_path / "saved"))
    assert (loaded.suppress_tokens, loaded.begin_suppress_tokens, loaded.max_initial_timestamp_index) == (
        model.suppress_tokens, model.begin_suppress_tokens, 5)
    assert loaded.preprocessor.prompt_ids == model.preprocessor.prompt_ids
    assert loaded.generated_token_ids(CLIPS) == model.generated_token_ids(CLIPS)


def test_suppressed_greedy_ids_match_transformers_generate(checkpoint):
    _, reference, _, features, unsuppressed, model = checkpoint
    expected = generate(reference, features)
    assert expected != unsuppressed[0]  # the suppression changes this model's output
    assert model.generated_token_ids(CLIPS) == expected
    assert not {t for ids in expected for t in ids} & set(model.suppress_tokens)


def test_timestamp_ids_match_transformers_generate(checkpoint):
    _, reference, _, features, unsuppressed, model = checkpoint
    expected = generate(reference, features, return_timestamps=True)
    assert expected != unsuppressed[1]
    assert any(t > NO_TIMESTAMPS for t in expected[0]) and any(t < END for t in expected[0])
    prompt = model.preprocessor.decoder_prompt(timestamps=True)
    assert prompt == [START_OF_TRANSCRIPT, DE, TRANSCRIBE]
    assert model.generated_token_ids(CLIPS, prompt) == expected


def test_language_and_task_options_match_transformers(checkpoint):
    _, reference, _, features, _, model = checkpoint
    for language, task in (("en", "translate"), ("de", "translate"), ("en", None)):
        expected = generate(reference, features, language=language, task=task)
        prompt = model.preprocessor.decoder_prompt(language, task)
        assert model.generated_token_ids(CLIPS, prompt) == expected
    with pytest.raises(ValueError, match="has no language 'fr'; it knows de, en"):
        model({"audio": CLIPS[0], "language": "fr"}, task="speech-recognition")
    with pytest.raises(ValueError, match="'task' must be one of 'transcribe', 'translate'"):
        model({"audio": CLIPS[0], "task": "summarise"}, task="speech-recognition")


def test_chunks_match_transformers_decode_asr(checkpoint):
    _, reference, tokenizer, features, _, model = checkpoint
    outputs = model({"audio": CLIPS, "return_timestamps": True}, task="speech-recognition")
    for ids, output in zip(generate(reference, features, return_timestamps=True), outputs):
        text, optional = tokenizer._decode_asr([{"tokens": np.array([ids])}], return_timestamps=True,
                                               return_language=None, time_precision=0.02)
        expected = [{"text": c["text"], "timestamp": list(c["timestamp"])} for c in optional["chunks"]]
        assert output == {"text": text.strip(), "chunks": expected}
    assert all(isinstance(t, (float, type(None))) for o in outputs for c in o["chunks"] for t in c["timestamp"])
    assert isinstance(model({"audio": CLIPS[0]}, task="speech-recognition"), str)  # the default is unchanged
    # The one-line task class passes the options through.
    import kerasprop

    recognise = kerasprop.SpeechRecognition(model)
    assert recognise(CLIPS, sampling_rate=16000, return_timestamps=True) == outputs
    assert recognise(CLIPS[0], language="en", task="translate") == model(
        {"audio": CLIPS[0], "language": "en", "task": "translate"}, task="speech-recognition"
    )


def test_long_audio_chunks_are_shifted_by_their_window_start(checkpoint):
    from kerasprop.models.whisper.whisper_speech import audio_windows

    model = checkpoint[-1]
    audio = tone(1.5, frequency=300)
    windows = audio_windows(audio, 16000, overlap=16000 // 6)
    prompt = model.preprocessor.decoder_prompt(timestamps=True)
    shifted = [chunk for i, ids in enumerate(model.generated_token_ids(windows, prompt))
               for chunk in model.timestamp_chunks(ids, offset=i * (16000 - 16000 // 6) / 16000)]
    output = model({"audio": audio, "return_timestamps": True}, task="speech-recognition")
    assert output["chunks"] and all(chunk in shifted for chunk in output["chunks"])
    starts = [c["timestamp"][0] for c in output["chunks"] if c["timestamp"][0] is not None]
    assert len(windows) == 2 and starts == sorted(starts) and max(starts) > 0.9  # the second window contributes


def test_english_only_checkpoints_refuse_language_and_timestamps_need_timestamp_tokens(tmp_path):
    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer

    tiny_whisper_folder(tmp_path / "plain")
    model = WhisperSpeechRecognizer.from_preset(str(tmp_path / "plain"))
    with pytest.raises(ValueError, match="no timestamp tokens: it cannot return timestamps"):
        model({"audio": CLIPS[0], "return_timestamps": True})
    model.preprocessor.tokenizer.language_tokens = None
    with pytest.raises(ValueError, match=r"English-only: it takes no language='de'"):
        model({"audio": CLIPS[0], "language": "de"})
