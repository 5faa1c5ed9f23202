"""Builds `presets/whisper-tiny-commands`: a small Whisper that transcribes spoken commands, trained on espeak-ng speech.

No recorded speech can be downloaded here, so Debian's `espeak-ng` speaks the
training data: short commands, numbers and digit codes from a word-list grammar
(`utterances`), in several voices, speeds and pitches. One voice (a West
Midlands accent with the `f3` variant) never appears in training: the word error
rate is measured on it, and the demo clip is spoken by it.

Needs `apt-get install espeak-ng` and `pip install -e ".[recipes]"`; run from the
repository root (about 15 minutes on 2 cores):

    KERAS_BACKEND=tensorflow PYTHONPATH=. python -m presets.recipes.whisper_commands
"""

import io
import json
import pathlib
import random
import subprocess
import sys
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from presets.recipes import common

NAME = "whisper-tiny-commands"
SEED = 20261206
RATE = 16000
WINDOW_SECONDS = 3
SPECIAL_TOKENS = ("<|endoftext|>", "<|startoftranscript|>", "<|translate|>", "<|transcribe|>", "<|notimestamps|>")
TRAIN_CLIPS = 5000
HELDOUT_CLIPS = 200
COMMITTED = 3
EPOCHS = 10
BATCH_SIZE = 32
LEARNING_RATE = 2e-3
#: espeak-ng voices (language + variant) of the training data; the held-out voice shares neither part.
TRAIN_LANGUAGES = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbclan")
TRAIN_VARIANTS = ("m1", "m2", "m3", "m4", "f1", "f2", "f4", "f5")
HELDOUT_VOICE = "en-gb-x-gbcwmd+f3"
DEMO_TEXT = "turn on the kitchen light"

ROOMS = ("kitchen", "bedroom", "bathroom", "living room", "office", "garden", "hall")
NUMBERS = ("one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty "
           "fifty sixty").split()
DIGITS = "zero one two three four five six seven eight nine".split()
PEOPLE = ("mum", "dad", "anna", "peter", "maria", "john", "grandma", "the doctor")
MUSIC = ("jazz", "rock", "classical", "pop", "the radio", "the news")
THINGS = ("door", "window", "garage", "curtains", "blinds")
TEMPLATES = (
    "turn on the {room} light", "turn off the {room} light", "switch off the {room} heating",
    "set a timer for {number} minutes", "set an alarm for {number} o clock", "remind me in {number} minutes",
    "call {person}", "send a message to {person}", "play {music}", "stop the music", "volume up", "volume down",
    "open the {thing}", "close the {thing}", "lock the {thing}", "what time is it", "what is the weather today",
    "the code is {digit} {digit} {digit} {digit}", "my number is {digit} {digit} {digit} {digit} {digit}",
    "add {number} eggs to the shopping list", "good morning", "good night", "yes please", "no thank you",
)


def utterances(rng, count):
    """`count` transcripts drawn from the grammar."""
    texts = []
    for _ in range(count):
        template = rng.choice(TEMPLATES)
        texts.append(template.format_map(_Filler(rng)))
    return texts


class _Filler(dict):
    def __init__(self, rng):
        super().__init__()
        self.rng = rng

    def __missing__(self, key):
        words = {"room": ROOMS, "number": NUMBERS, "digit": DIGITS, "person": PEOPLE, "music": MUSIC,
                 "thing": THINGS}[key]
        return self.rng.choice(words)


def speak(text, voice, speed, pitch):
    """espeak-ng's speech of `text` as float32 samples at 16 kHz."""
    from kerasprop.schemas.audio import resample

    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                         capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(wav)) as f:
        rate, frames = f.getframerate(), f.readframes(f.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype("float32") / 32768.0
    return resample(samples, rate, RATE)


def spoken(texts, voices, rng):
    """(samples, text) pairs of `texts` spoken by voices drawn from `voices`; clips over the window are left out."""
    settings = [(text, rng.choice(voices), rng.randint(140, 200), rng.randint(30, 70)) for text in texts]
    with ThreadPoolExecutor(max_workers=2) as pool:
        clips = list(pool.map(lambda s: speak(*s), settings))
    return [(clip, text) for clip, (text, *_) in zip(clips, settings) if len(clip) <= WINDOW_SECONDS * RATE]


def train_voices():
    return [f"{language}+{variant}" for language in TRAIN_LANGUAGES for variant in TRAIN_VARIANTS]


def tokenizer_files(texts):
    """A byte-level BPE vocabulary and merges in which every grammar word is one token."""
    from tokenizers import ByteLevelBPETokenizer

    words = sorted({word for text in texts for word in text.split()})
    corpus = texts + words + [" " + word for word in words]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=256 + 6 * len(words), min_frequency=1, show_progress=False)
    with tempfile.TemporaryDirectory() as folder:
        bpe.save_model(folder)
        with open(f"{folder}/merges.txt") as f:
            merges = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]
        with open(f"{folder}/vocab.json") as f:
            return json.load(f), merges


def build_model(vocabulary, merges):
    import keras_hub

    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer, WhisperSpeechRecognizerPreprocessor

    special = {token: len(vocabulary) + i for i, token in enumerate(SPECIAL_TOKENS)}
    tokenizer = keras_hub.tokenizers.WhisperTokenizer(vocabulary=vocabulary, merges=merges, special_tokens=special)
    converter = keras_hub.layers.WhisperAudioConverter(num_mels=80, max_audio_length=WINDOW_SECONDS)
    backbone = keras_hub.models.WhisperBackbone(
        vocabulary_size=len(vocabulary) + len(special), num_layers=2, num_heads=4, hidden_dim=128,
        intermediate_dim=384, num_mels=80, max_encoder_sequence_length=WINDOW_SECONDS * RATE // 160,
        max_decoder_sequence_length=24,
    )
    preprocessor = WhisperSpeechRecognizerPreprocessor(audio_converter=converter, tokenizer=tokenizer)
    return WhisperSpeechRecognizer(backbone=backbone, preprocessor=preprocessor)


def training_data(count=TRAIN_CLIPS):
    rng = random.Random(SEED)
    return spoken(utterances(rng, count), train_voices(), rng)


def heldout():
    rng = random.Random(SEED + 1)
    return spoken(utterances(rng, HELDOUT_CLIPS), [HELDOUT_VOICE], rng)


def build_and_train(folder):
    import keras

    from kerasprop.training import finetune

    stopwatch = common.Stopwatch()
    data = training_data()
    texts = [text for _, text in data]
    model = build_model(*tokenizer_files(texts))
    print(f"{len(data)} clips spoken in {stopwatch():.0f} s", flush=True)
    total = EPOCHS * len(data) // BATCH_SIZE
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - total // 20,
                                                      warmup_target=LEARNING_RATE, warmup_steps=total // 20)
    params = {"audio": [clip for clip, _ in data], "text": texts}
    finetune(model, params, "speech-recognition", validation_split=0.0, epochs=EPOCHS, batch_size=BATCH_SIZE,
             optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01), seed=SEED, verbose=2,
             early_stopping_epochs=0)
    model.save_to_preset(folder)
    return stopwatch()


def write_clips(folder, data):
    """The committed clips, in the held-out voice: the demo's (`DEMO_TEXT`) and the first `COMMITTED` held-out
    ones, as 16-bit WAV under `assets/clips/` (packaged with the wheel); returns {file name: transcript}."""
    clips = {"demo.wav": (speak(DEMO_TEXT, HELDOUT_VOICE, 170, 50), DEMO_TEXT)}
    clips.update({f"heldout-{i}.wav": data[i] for i in range(COMMITTED)})
    target = pathlib.Path(folder) / "assets" / "clips"
    target.mkdir(parents=True, exist_ok=True)
    for name, (samples, _) in clips.items():
        with wave.open(str(target / name), "wb") as f:
            f.setnchannels(1), f.setsampwidth(2), f.setframerate(RATE)
            f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return {name: text for name, (_, text) in clips.items()}


def word_errors(reference, hypothesis):
    """Word-level edit distance."""
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1]


def evaluate(folder):
    """Word error rate and exact transcripts on clips spoken by the held-out voice."""
    from kerasprop.models.whisper.whisper_speech import WhisperSpeechRecognizer

    model = WhisperSpeechRecognizer.from_preset(str(folder))
    data = heldout()
    transcripts = [t.strip() for t in model({"audio": [clip for clip, _ in data]}, task="speech-recognition")]
    errors = sum(word_errors(text, got) for (_, text), got in zip(data, transcripts))
    words = sum(len(text.split()) for _, text in data)
    committed = write_clips(folder, data)
    clips = pathlib.Path(folder) / "assets" / "clips"
    heard = model({"audio": [str(clips / name) for name in committed]}, task="speech-recognition")
    records = {
        "quality": {"word_error_rate": errors / words, "exact": sum(t == g for (_, t), g in zip(data, transcripts)),
                    "heldout_clips": len(data), "heldout_voice": HELDOUT_VOICE},
        "speech-recognition": [{"clip": name, "reference": text, "transcript": got.strip()}
                               for (name, text), got in zip(committed.items(), heard)],
        "heldout": [{"reference": data[i][1], "transcript": transcripts[i]} for i in range(12)],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    quality = records["quality"]
    config = model.backbone.get_config()
    misses = [r for r in records["heldout"] if r["reference"] != r["transcript"]]
    demo = records["speech-recognition"][0]["transcript"]
    common.write_card(
        folder,
        f"{NAME}: a small Whisper for spoken commands, trained on espeak-ng speech (bundled, offline)",
        "The offline default for `SpeechRecognition`: it transcribes short English commands, numbers and digit "
        "codes of the kind in its grammar (lights, timers, alarms, calls, music, doors, codes, a few courtesies), "
        "spoken clearly, in clips of up to 3 seconds. It was trained only on synthetic speech from `espeak-ng`; "
        "it does not know other words and is not a general speech recogniser: use `whisper-tiny-en` or another "
        "Whisper checkpoint for that.",
        [
            ("Tasks", "- `speech-recognition`: `SpeechRecognition()(\"command.wav\")` -> text\n\nFinetunable "
             "(`{\"audio\", \"text\"}`, clips of up to 3 s)."),
            ("Architecture and size",
             f"`WhisperSpeechRecognizer` on keras-hub's `WhisperBackbone`: {config['num_layers']} encoder and decoder "
             f"layers, hidden size {config['hidden_dim']}, 80 mel bins, a {WINDOW_SECONDS} s window, a byte-level BPE "
             f"vocabulary of {config['vocabulary_size']} tokens (every grammar word one token); "
             f"{model.count_params():,} parameters, {common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             f"{TRAIN_CLIPS} transcripts from the grammar in `presets/recipes/whisper_commands.py`, spoken by espeak-ng "
             f"(GPL-3.0; the generated audio is not part of the preset) in {len(train_voices())} voices "
             f"({len(TRAIN_LANGUAGES)} accents x {len(TRAIN_VARIANTS)} variants), speeds 140-200 words a minute, "
             "pitch 30-70. The weights are released with kerasprop under Apache-2.0."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}` (needs Debian's `espeak-ng` and `pip install -e \".[recipes]\"`)\n\nSeed {SEED}; {EPOCHS} epochs of "
             f"batches of {BATCH_SIZE}, AdamW peaking at {LEARNING_RATE} with warm-up and cosine decay; "
             f"{train_seconds / 60:.1f} minutes on 2 CPU cores, speech synthesis included."),
            ("Quality on held-out data",
             f"{quality['heldout_clips']} new transcripts spoken by a voice never heard in training "
             f"(`{HELDOUT_VOICE}`): word error rate **{quality['word_error_rate']:.3f}**, {quality['exact']} of "
             f"{quality['heldout_clips']} transcripts exactly right. The demo clip (`assets/clips/demo.wav`, \"{DEMO_TEXT}\" "
             f"in that voice) is transcribed as \"{demo}\"; `expected.json` records the transcripts of the committed "
             "clips, which `tests/test_speech.py` re-checks on every backend."
             + (" Misses among the first twelve: " + "; ".join(f"{r['reference']!r} -> {r['transcript']!r}"
                                                             for r in misses) + "." if misses else "")),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
