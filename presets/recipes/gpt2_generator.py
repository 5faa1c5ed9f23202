"""Builds `presets/gpt2-tiny-pydocs`: a small GPT-2 trained on the Python documentation and quotations.

The corpus is the English prose of the Python 3.11 documentation as Debian's
`python3.11-doc` package ships it (reStructuredText sources; PSF License 2.0),
with code blocks, directives and markup removed, plus the quotations of
Debian's `fortunes` package (fortune-mod; BSD licence), which bring everyday
English. A byte-level BPE vocabulary is trained on it with `tokenizers`, and
the model is trained from scratch. One document (or quotation) in ten is held
out; the card reports the perplexity there.

Run from the repository root (34 minutes on 2 CPU cores shared with another
training run; less on idle ones):

    apt-get install python3.11-doc fortunes
    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.gpt2_generator

`--evaluate-only` re-measures a built preset and rewrites its card and
`expected.json` without training.
"""

import sys
import json
import pathlib
import re
import zlib

import keras
import keras_hub
import numpy as np

from presets.recipes import common

NAME = "gpt2-tiny-pydocs"
SEED = 20261121
CORPUS_DIR = pathlib.Path("/usr/share/doc/python3.11/html/_sources")
CORPUS_PACKAGE = "Debian package python3.11-doc (the Python 3.11 documentation, PSF License 2.0)"
FORTUNES_DIR = pathlib.Path("/usr/share/games/fortunes")
FORTUNES_PACKAGE = "Debian package fortunes (the fortune-mod collection of quotations, BSD licence)"
#: Fortune files left out: pictures drawn in characters, not prose.
FORTUNES_SKIPPED = ("ascii-art",)
VOCABULARY_SIZE = 4096
BACKBONE = dict(num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=512, dropout=0.1, max_sequence_length=256)
SEQUENCE_LENGTH = 128
BATCH_SIZE = 32
TRAIN_STEPS = 2000
LEARNING_RATE = 2e-3
HELDOUT_SEQUENCES = 64
#: Held-out windows recorded in expected.json for tests/test_presets.py.
TEST_WINDOWS = 8
PROMPTS = (
    "The Python interpreter is",
    "A list is",
    "To open a file,",
    "This module provides",
    "In the following example,",
    "Exceptions are",
    "A good friend is",
    "The secret of a happy life",
)
MAX_NEW_TOKENS = 24
#: Greedy decoding of a model this small loops; backprop's repetition penalty keeps it readable.
REPETITION_PENALTY = 1.3

_ROLE = re.compile(r":[\w:+-]+:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`_+")
_MARKUP = re.compile(r"``|\*\*|\*|`_*|\|")


def is_heldout(path):
    """One document in ten, chosen by a hash of its path, is held out."""
    return zlib.crc32(str(path).encode()) % 10 == 0


def prose(rst):
    """The English paragraphs of a reStructuredText document: no code, directives, tables or markup."""
    paragraphs, current, in_block = [], [], False
    for line in rst.splitlines():
        stripped = line.strip()
        indented = line.startswith((" ", "\t"))
        if in_block and (indented or not stripped):
            continue
        in_block = False
        if not stripped:
            paragraphs.append(" ".join(current))
            current = []
            continue
        if stripped.startswith(("..", ">>>", "...", "+", "|", "=", "-", "~", "^", "*", "#", ":")) or indented:
            in_block = stripped.startswith("..") or stripped.endswith("::")
            paragraphs.append(" ".join(current))
            current = []
            continue
        current.append(stripped)
        if stripped.endswith("::"):
            in_block = True
            current[-1] = stripped[:-1]
    paragraphs.append(" ".join(current))
    cleaned = []
    for paragraph in paragraphs:
        text = _MARKUP.sub("", _LINK.sub(r"\1", _ROLE.sub(r"\1", paragraph))).strip()
        words = text.split()
        if len(words) >= 8 and sum(w.isalpha() for w in words) > 0.7 * len(words):
            cleaned.append(" ".join(words))
    return cleaned


def documents(heldout):
    """Paragraph lists of the training (or held-out) documents, in a fixed order: the Python
    documentation's files, then one document per fortunes file (its quotations as paragraphs)."""
    for folder, package in ((CORPUS_DIR, "python3.11-doc"), (FORTUNES_DIR, "fortunes")):
        if not folder.is_dir():
            raise SystemExit(f"{folder} is missing: run `apt-get install {package}` first.")
    paths = sorted(p for p in CORPUS_DIR.rglob("*.rst.txt") if is_heldout(p.relative_to(CORPUS_DIR)) == heldout)
    docs = [prose(p.read_text(errors="replace")) for p in paths]
    for path in sorted(FORTUNES_DIR.iterdir()):
        if path.suffix or path.name in FORTUNES_SKIPPED or not path.is_file():
            continue  # .dat indexes, .u8 links
        quotes = quotations(path.read_text(errors="replace"))
        docs.append([q for i, q in enumerate(quotes) if is_heldout(f"{path.name}:{i}") == heldout])
    return docs


def quotations(text):
    """The quotations of a fortune file (entries between `%` lines) as one-line paragraphs of prose."""
    kept = []
    for entry in re.split(r"^%$", text, flags=re.MULTILINE):
        words = entry.split()
        if len(words) >= 5 and sum(w.strip(".,;:!?\"'()-").isalpha() for w in words) > 0.7 * len(words):
            kept.append(" ".join(words))
    return kept


def train_tokenizer(texts):
    """A byte-level BPE vocabulary and merges in GPT-2's format."""
    import tokenizers

    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=VOCABULARY_SIZE, min_frequency=2, special_tokens=["<|endoftext|>"])
    model = json.loads(bpe.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return keras_hub.models.GPT2Tokenizer(vocabulary=end_token_last(model["vocab"]), merges=merges)


def end_token_last(vocabulary):
    """The vocabulary with `<|endoftext|>` moved from id 0 to the last id, as in GPT-2.

    keras-hub's GPT-2 tokenizer pads with id 0, and generation treats a padded
    position holding the end token as a finished sequence.
    """
    order = sorted(vocabulary, key=lambda token: (token == "<|endoftext|>", vocabulary[token]))
    return {token: i for i, token in enumerate(order)}


def token_stream(tokenizer, docs):
    """All documents as one id stream, each paragraph followed by the end token."""
    end = tokenizer.end_token_id
    ids = []
    paragraphs = [p for doc in docs for p in doc]
    for start in range(0, len(paragraphs), 512):
        for row in tokenizer(paragraphs[start : start + 512]):
            ids += list(np.asarray(row)) + [end]
    return np.array(ids, dtype="int32")


def windows(stream, count, rng):
    """`count` random windows of `SEQUENCE_LENGTH + 1` tokens."""
    starts = rng.integers(0, len(stream) - SEQUENCE_LENGTH - 1, size=count)
    return np.stack([stream[s : s + SEQUENCE_LENGTH + 1] for s in starts])


def build_and_train(folder):
    from kerasprop.models.gpt2.gpt2_text_generator import GPT2TextGenerator

    stopwatch = common.Stopwatch()
    docs = documents(heldout=False)
    tokenizer = train_tokenizer([p for doc in docs for p in doc])
    stream = token_stream(tokenizer, docs)
    print(f"{len(docs)} documents, {len(stream):,} training tokens, {stopwatch():.0f}s", flush=True)

    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=tokenizer.vocabulary_size(), **BACKBONE)
    preprocessor = keras_hub.models.GPT2CausalLMPreprocessor(tokenizer=tokenizer, sequence_length=SEQUENCE_LENGTH)
    model = GPT2TextGenerator(backbone=backbone, preprocessor=preprocessor)
    trainer = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=TRAIN_STEPS - TRAIN_STEPS // 20, warmup_target=LEARNING_RATE, warmup_steps=TRAIN_STEPS // 20
    )
    trainer.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    sequences = windows(stream, TRAIN_STEPS * BATCH_SIZE, np.random.default_rng(SEED))
    x = {"token_ids": sequences[:, :-1], "padding_mask": np.ones_like(sequences[:, :-1], dtype="bool")}
    keras.Model.fit(trainer, x, sequences[:, 1:], batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=2)
    train_seconds = stopwatch()
    model.save_to_preset(folder)
    return train_seconds


def heldout_windows(tokenizer, count=HELDOUT_SEQUENCES):
    """`count` token windows from the held-out documents (needs the Debian corpus)."""
    stream = token_stream(tokenizer, documents(heldout=True))
    return windows(stream, count, np.random.default_rng(SEED + 1))


def heldout_perplexity(model, sequences):
    """exp(mean next-token cross-entropy) on token windows of `SEQUENCE_LENGTH + 1` tokens."""
    sequences = np.asarray(sequences, dtype="int32")
    x = {"token_ids": sequences[:, :-1], "padding_mask": np.ones_like(sequences[:, :-1], dtype="bool")}
    logits = keras.ops.convert_to_numpy(keras.Model.predict_on_batch(model, x)).astype("float64")
    logits -= logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, sequences[:, 1:, None], axis=-1)
    return float(np.exp(-picked.mean()))


def evaluate(folder):
    from kerasprop.models.gpt2.gpt2_text_generator import GPT2TextGenerator

    model = GPT2TextGenerator.from_preset(str(folder))
    settings = {"max_length": MAX_NEW_TOKENS, "temperature": 0.0, "repetition_penalty": REPETITION_PENALTY}
    task_input = {"text": list(PROMPTS), **settings}
    outputs = model(task_input, task="text-generation")
    sequences = heldout_windows(model.preprocessor.tokenizer)
    records = {
        "quality": {"heldout_perplexity": heldout_perplexity(model, sequences), "heldout_sequences": HELDOUT_SEQUENCES},
        # Shipped so the test re-measures without the Debian corpus.
        "heldout_windows": sequences[:TEST_WINDOWS].tolist(),
        "text-generation": [
            {"input": {"text": p, **settings}, "output": o}
            for p, o in zip(PROMPTS, outputs)
        ],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    config = model.backbone.get_config()
    quality = records["quality"]
    common.write_card(
        folder,
        f"{NAME}: a small GPT-2 trained on the Python documentation and quotations (bundled, offline)",
        "The offline default for `TextGeneration`. It continues English text in the style of technical "
        "documentation or of a quotation; it is small and knows little, so expect fluent-looking but often "
        "vague text.",
        [
            ("Tasks", "- `text-generation` (greedy with `temperature=0.0`, or sampling)"),
            ("Architecture and size",
             f"GPT-2 (`GPT2TextGenerator` on keras-hub's `GPT2Backbone`): {config['num_layers']} layers, hidden "
             f"size {config['hidden_dim']}, {config['num_heads']} heads, feed-forward {config['intermediate_dim']}, "
             f"context {config['max_sequence_length']} tokens, a byte-level BPE vocabulary of "
             f"{config['vocabulary_size']} tokens; {model.count_params():,} parameters, "
             f"{common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             f"{CORPUS_PACKAGE}: the prose of its reStructuredText sources in `{CORPUS_DIR}`, with code "
             "blocks, directives, tables and markup removed. The Python documentation is © Python Software "
             "Foundation, under the PSF License Agreement version 2 (documentation examples also under the "
             "Zero-Clause BSD licence). "
             f"{FORTUNES_PACKAGE}: the quotations of every file in `{FORTUNES_DIR}` but "
             f"{', '.join(FORTUNES_SKIPPED)}, one paragraph each. One document in ten (by a hash of its path) "
             "and one quotation in ten (by a hash of file and index) are held out."),
            ("How it was built",
             f"`apt-get install python3.11-doc fortunes`, then `{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {TRAIN_STEPS} steps "
             f"of {BATCH_SIZE} random windows of {SEQUENCE_LENGTH} tokens (AdamW, peak learning rate "
             f"{LEARNING_RATE}, cosine decay); training took {train_seconds / 60:.1f} minutes on the build "
             "machine (2 CPU cores shared with another training run)."),
            ("Quality on held-out data",
             f"Perplexity {quality['heldout_perplexity']:.1f} per token (this vocabulary) on "
             f"{quality['heldout_sequences']} windows of {SEQUENCE_LENGTH} tokens from held-out documents. "
             f"`expected.json` records greedy continuations (repetition penalty {REPETITION_PENALTY}) that "
             "`tests/test_presets.py` re-checks on every backend."),
            (f"Examples (greedy, repetition_penalty {REPETITION_PENALTY})",
             "\n".join(f"- `{r['input']['text']}` -> `{r['output']}`" for r in records["text-generation"])),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
