"""Builds `presets/whisper-tiny-tones`: a small Whisper-encoder audio classifier of generated sounds.

A tiny Whisper encoder with Hugging Face's audio-classification head
(`WhisperAudioClassifier`) learns four labels from one-second clips generated
here: a tone rising in pitch, a falling one, a steady one, and noise. It is
trained through kerasprop's finetuning path, so it stays finetunable on new
labels.

Run from the repository root (a few minutes on 2 idle CPU cores):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.whisper_tones

`--evaluate-only` re-measures a built preset and rewrites its card and
`expected.json` without training.
"""

import sys

import keras
import numpy as np

from presets.recipes import common

NAME = "whisper-tiny-tones"
SEED = 20261121
LABELS = ("rising", "falling", "steady", "noise")
RATE = 16000
TRAIN_CLIPS = 960
EPOCHS = 8
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
HELDOUT_CLIPS = 160
RECORDED = 8


def clip(label, rng, seconds=1.0):
    """One generated clip of `label` at 16 kHz: a sine sweep, a steady sine or noise, at a random loudness."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    if label == "noise":
        samples = rng.standard_normal(n)
    else:
        start = rng.uniform(200, 1500)
        ratio = {"rising": rng.uniform(1.8, 3.0), "falling": 1 / rng.uniform(1.8, 3.0), "steady": 1.0}[label]
        frequency = start * ratio ** (t / seconds)  # exponential sweep
        samples = np.sin(2 * np.pi * np.cumsum(frequency) / RATE + rng.uniform(0, 2 * np.pi))
        samples += rng.uniform(0.0, 0.2) * rng.standard_normal(n)
    samples *= rng.uniform(0.1, 0.6) / max(np.abs(samples).max(), 1e-6)
    return samples.astype("float32")


def clips(rng, count):
    labels = [LABELS[i % len(LABELS)] for i in range(count)]
    return [clip(label, rng) for label in labels], labels


def build_model():
    import keras_hub

    from kerasprop.models.whisper.whisper_speech import WhisperAudioClassifier, WhisperAudioClassifierPreprocessor

    backbone = keras_hub.models.WhisperBackbone(
        vocabulary_size=4, num_layers=2, num_heads=2, hidden_dim=48, intermediate_dim=96, num_mels=80,
        max_encoder_sequence_length=RATE // 160, max_decoder_sequence_length=4,
    )
    converter = keras_hub.layers.WhisperAudioConverter(num_mels=80, max_audio_length=1)
    preprocessor = WhisperAudioClassifierPreprocessor(audio_converter=converter)
    return WhisperAudioClassifier(backbone=backbone, labels=LABELS, projection_dim=32, preprocessor=preprocessor)


def build_and_train(folder):
    import tensorflow as tf

    from kerasprop.schemas.audio import Waveform

    stopwatch = common.Stopwatch()
    model = build_model()
    audio, labels = clips(np.random.default_rng(SEED), TRAIN_CLIPS)
    x, y = model.process_batch({"audio": [Waveform(a, RATE) for a in audio], "labels": labels})
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=SEED).batch(BATCH_SIZE)
    model.fit(dataset, epochs=EPOCHS, verbose=2)
    train_seconds = stopwatch()
    model.save_to_preset(folder)
    return train_seconds


def heldout():
    return clips(np.random.default_rng(SEED + 1), HELDOUT_CLIPS)


def evaluate(folder):
    """Accuracy on held-out clips through `model(task_input, task="audio-classification")`."""
    from kerasprop.models.whisper.whisper_speech import WhisperAudioClassifier

    model = WhisperAudioClassifier.from_preset(str(folder))
    audio, labels = heldout()
    scores = model({"audio": audio, "top_k": 1}, task="audio-classification")
    predicted = [next(iter(s)) for s in scores]
    records = {
        "seed": SEED + 1,
        "quality": {"accuracy_4_labels": float(np.mean([p == y for p, y in zip(predicted, labels)])),
                    "heldout_clips": HELDOUT_CLIPS},
        "audio-classification": [
            {"clip": i, "top": predicted[i], "top_score": scores[i][predicted[i]]} for i in range(RECORDED)
        ],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    config = model.backbone.get_config()
    common.write_card(
        folder,
        f"{NAME}: a small Whisper-encoder classifier of generated sounds (bundled, offline)",
        "A finetunable `AudioClassification` model that needs no download: it tells a rising tone, a falling "
        "tone, a steady tone and noise apart in one-second clips, and is a small starting point for finetuning "
        "on your own labels (`AudioClassification(\"whisper-tiny-tones\").finetune({\"audio\": ..., \"labels\": ...})`).",
        [
            ("Tasks", "- `audio-classification` over its labels: " + ", ".join(f"`{label}`" for label in LABELS)),
            ("Architecture and size",
             f"`WhisperAudioClassifier`: keras-hub's `WhisperBackbone` encoder ({config['num_layers']} layers, "
             f"hidden size {config['hidden_dim']}, 80 mel bins, 1 s window; its decoder is a 4-token stub) with "
             f"Hugging Face's `WhisperForAudioClassification` head (projection to {model.projection_dim}, mean "
             f"over time, dense); {model.count_params():,} parameters, {common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             f"{TRAIN_CLIPS} clips generated with numpy by this recipe (exponential sine sweeps up or down by "
             "1.8-3x, steady sines of 200-1500 Hz with some noise, white noise; random loudness); no external data; "
             "released with kerasprop under Apache-2.0. Held-out clips are drawn with another seed."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE} "
             f"(Adam, learning rate {LEARNING_RATE}); training took {train_seconds / 60:.1f} minutes on the build "
             "machine (2 shared CPU cores)."),
            ("Quality on held-out data",
             f"Accuracy {records['quality']['accuracy_4_labels']:.3f} over the 4 labels on "
             f"{records['quality']['heldout_clips']} held-out clips. `expected.json` records the top label of the "
             "first held-out clips, which `tests/test_speech.py` re-checks on every backend."),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
