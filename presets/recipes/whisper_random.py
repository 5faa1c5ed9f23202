"""Builds `presets/whisper-tiny-random`: a TEST PRESET for speech recognition with RANDOM weights.

No spoken data can be downloaded here, so this preset does not recognise
speech: it is a tiny Whisper (2 layers, hidden size 32, 1 s window) with random
weights and a byte-level vocabulary, so that `SpeechRecognition()`, the
`kerasprop run speech-recognition` command, the HTTP adapter and `kerasprop
demo` run offline end to end and finetuning has a small starting point. Its
transcripts are noise. Use `whisper-tiny-en` (or any Hugging Face Whisper
checkpoint) for real transcripts.

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.whisper_random
"""

import sys

import numpy as np

from presets.recipes import common

NAME = "whisper-tiny-random"
SEED = 20261121
RATE = 16000
SPECIAL_TOKENS = ("<|endoftext|>", "<|startoftranscript|>", "<|translate|>", "<|transcribe|>", "<|notimestamps|>")
RECORDED = 2


def build_model():
    import keras_hub
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer, WhisperSpeechRecognizerPreprocessor

    vocabulary = {c: i for i, c in enumerate(bytes_to_unicode().values())}
    merges = ["Ġ t", "h e"]  # keras-hub's BPE needs at least one merge
    vocabulary.update({m.replace(" ", ""): len(vocabulary) + i for i, m in enumerate(merges)})
    special = {token: len(vocabulary) + i for i, token in enumerate(SPECIAL_TOKENS)}
    tokenizer = keras_hub.tokenizers.WhisperTokenizer(vocabulary=vocabulary, merges=merges, special_tokens=special)
    converter = keras_hub.layers.WhisperAudioConverter(num_mels=80, max_audio_length=1)
    backbone = keras_hub.models.WhisperBackbone(
        vocabulary_size=len(vocabulary) + len(special), num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, num_mels=80, max_encoder_sequence_length=RATE // 160, max_decoder_sequence_length=16,
    )
    preprocessor = WhisperSpeechRecognizerPreprocessor(audio_converter=converter, tokenizer=tokenizer)
    return WhisperSpeechRecognizer(backbone=backbone, preprocessor=preprocessor)


def build_and_train(folder):
    stopwatch = common.Stopwatch()
    build_model().save_to_preset(folder)
    return stopwatch()


def heldout():
    t = np.arange(RATE) / RATE
    return [(0.3 * np.sin(2 * np.pi * f * t)).astype("float32") for f in (300.0, 800.0)]


def evaluate(folder):
    """Records the (meaningless) greedy transcripts of two tones, which the tests re-check on every backend."""
    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer

    model = WhisperSpeechRecognizer.from_preset(str(folder))
    transcripts = model({"audio": heldout()}, task="speech-recognition")
    records = {"quality": {"note": "random weights: no speech recognition quality"},
               "speech-recognition": [{"clip": i, "transcript": t} for i, t in enumerate(transcripts)]}
    return model, records


def write_card(folder, model, records, train_seconds):
    config = model.backbone.get_config()
    common.write_card(
        folder,
        f"{NAME}: TEST PRESET, a tiny Whisper with random weights (bundled, offline)",
        "**This preset does not recognise speech; its transcripts are noise.** It is no task's default: "
        "it lets tests run the speech-recognition task, its command and its HTTP adapter with no download, and is a small starting "
        "point for finetuning. Use `whisper-tiny-en` or another Whisper checkpoint for real transcripts.",
        [
            ("Tasks", "- `speech-recognition` (random output)"),
            ("Architecture and size",
             f"`WhisperSpeechRecognizer` on keras-hub's `WhisperBackbone`: {config['num_layers']} layers, hidden "
             f"size {config['hidden_dim']}, 80 mel bins, a 1 s window, a byte-level vocabulary of "
             f"{config['vocabulary_size']} tokens (two merges), English-only prompt; {model.count_params():,} "
             f"parameters, {common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence", "No data: random weights (seed below). Released with kerasprop under Apache-2.0."),
            ("How it was built", f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; no training."),
            ("Quality on held-out data",
             "None: random weights. `expected.json` records the transcripts of two generated tones, which "
             "`tests/test_speech.py` re-checks on every backend."),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
