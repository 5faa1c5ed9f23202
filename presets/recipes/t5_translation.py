"""Builds `presets/t5-tiny-translation`: a small T5 that translates simple English phrases into German.

The parallel corpus is generated from templates (colours, shapes, numbers,
days: "the red circle" -> "der rote Kreis", "I see the red circle" -> "ich
sehe den roten Kreis"), with German articles, cases and plurals right. The
prompts are T5's ("translate English to German: ..."), written by the model's
own `process_batch`. Colour-shape pairs are split: the held-out phrases
combine a colour and a shape that never occur together in training.

Run from the repository root (about 4 minutes on 2 idle CPU cores):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.t5_translation
"""

import itertools
import random
import sys

import keras
import keras_hub
import numpy as np

from presets.recipes import common
from presets.recipes.t5_multitask import exact_match, packed_batches, train_from_scratch, train_tokenizer

NAME = "t5-tiny-translation"
SEED = 20261122
COLOURS = {"red": "rot", "blue": "blau", "green": "grün", "yellow": "gelb", "black": "schwarz",
           "white": "weiß", "brown": "braun", "grey": "grau"}
#: English -> (German, gender, German plural).
SHAPES = {"circle": ("Kreis", "m", "Kreise"), "square": ("Quadrat", "n", "Quadrate"),
          "triangle": ("Dreieck", "n", "Dreiecke"), "line": ("Linie", "f", "Linien"),
          "star": ("Stern", "m", "Sterne"), "box": ("Kiste", "f", "Kisten"), "ball": ("Ball", "m", "Bälle"),
          "cube": ("Würfel", "m", "Würfel")}
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "line": "lines", "star": "stars",
           "box": "boxes", "ball": "balls", "cube": "cubes"}
NUMBERS = {"two": "zwei", "three": "drei", "four": "vier", "five": "fünf", "six": "sechs", "seven": "sieben",
           "eight": "acht", "nine": "neun", "ten": "zehn"}
DAYS = {"Monday": "Montag", "Tuesday": "Dienstag", "Wednesday": "Mittwoch", "Thursday": "Donnerstag",
        "Friday": "Freitag", "Saturday": "Samstag", "Sunday": "Sonntag"}
NOMINATIVE = {"m": "der", "f": "die", "n": "das"}
ACCUSATIVE = {"m": ("den", "en"), "f": ("die", "e"), "n": ("das", "e")}
BACKBONE = dict(num_layers=2, num_heads=4, hidden_dim=96, intermediate_dim=192, key_value_dim=24, dropout=0.0)
BATCH_SIZE = 32
EPOCHS = 12
LEARNING_RATE = 3e-3
RECORDED = 8


def phrases(colour, shape, rng):
    """(English, German) phrases for one colour and shape."""
    de_colour, (de_shape, gender, de_plural) = COLOURS[colour], SHAPES[shape]
    the = f"{NOMINATIVE[gender]} {de_colour}e {de_shape}"
    article, ending = ACCUSATIVE[gender]
    number, day = rng.choice(sorted(NUMBERS)), rng.choice(sorted(DAYS))
    return [
        (f"the {colour} {shape}", the),
        (f"I see the {colour} {shape}", f"ich sehe {article} {de_colour}{ending} {de_shape}"),
        (f"{number} {colour} {PLURALS[shape]}", f"{NUMBERS[number]} {de_colour}e {de_plural}"),
        (f"the {colour} {shape} on {day}", f"{the} am {DAYS[day]}"),
    ]


def corpus(split):
    """The phrases of the training or held-out colour-shape pairs (every fifth pair is held out)."""
    rng = random.Random(SEED)
    pairs = list(itertools.product(sorted(COLOURS), sorted(SHAPES)))
    rng.shuffle(pairs)
    chosen = pairs[::5] if split == "heldout" else [p for i, p in enumerate(pairs) if i % 5]
    examples = [e for colour, shape in chosen for _ in range(1 if split == "heldout" else 6)
                for e in phrases(colour, shape, rng)]
    return {"input_text": [e for e, _ in examples], "output_text": [g for _, g in examples]}


def build_and_train(folder):
    from kerasprop.models.t5.t5_multitask import T5MultiTask

    stopwatch = common.Stopwatch()
    params = corpus("train")
    probe = T5MultiTask(backbone=keras_hub.models.T5Backbone(vocabulary_size=8, **{**BACKBONE, "num_layers": 1}))
    features = probe.process_batch(params, task="translation", source_language="English", target_language="German")
    texts = [str(t) for key in ("encoder_text", "decoder_text") for t in features[key]]
    tokenizer = keras_hub.models.T5Tokenizer(proto=train_tokenizer(texts))
    preprocessor = keras_hub.models.T5Seq2SeqLMPreprocessor(tokenizer=tokenizer)
    backbone = keras_hub.models.T5Backbone(vocabulary_size=tokenizer.vocabulary_size(), **BACKBONE)
    # T5's own initialisation of the token embeddings (see t5_multitask).
    embeddings = backbone.token_embedding.embeddings
    embeddings.assign(keras.random.normal(embeddings.shape, stddev=1.0, seed=SEED))
    model = T5MultiTask(backbone=backbone, preprocessor=preprocessor, tasks=["translation"],
                        encoder_sequence_length=64, decoder_sequence_length=32,
                        description="A small T5 that translates simple English phrases into German.")
    order = np.random.default_rng(SEED).permutation(len(features["encoder_text"]))
    shuffled = {key: value[order] for key, value in features.items()}
    batches = packed_batches(preprocessor, shuffled, BATCH_SIZE)
    print(f"{tokenizer.vocabulary_size()} pieces, {len(batches)} batches per epoch, {stopwatch():.0f}s", flush=True)

    train_from_scratch(backbone, batches, EPOCHS, LEARNING_RATE, SEED, stopwatch)
    train_seconds = stopwatch()
    model.save_to_preset(folder)
    return train_seconds


def evaluate(folder):
    """Exact match on held-out colour-shape pairs through `model(task_input, task="translation")`."""
    from kerasprop.models.t5.t5_multitask import T5MultiTask

    model = T5MultiTask.from_preset(str(folder))
    heldout = corpus("heldout")
    outputs = model({"text": heldout["input_text"], "max_length": 16}, task="translation")
    quality = {"exact_match": exact_match(outputs, heldout["output_text"]), "examples": len(outputs)}
    records = {
        "quality": quality,
        "translation": [
            {"input": {"text": text, "max_length": 16}, "output": output, "reference": reference}
            for text, output, reference in list(zip(heldout["input_text"], outputs, heldout["output_text"]))[:RECORDED]
        ],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    config = model.backbone.get_config()
    common.write_card(
        folder,
        f"{NAME}: a small English-to-German T5 (bundled, offline)",
        "The offline default for `Translation`. It translates short English phrases about coloured shapes, "
        "numbers and days into German (\"the red circle\" -> \"der rote Kreis\"); it is a demonstration model "
        "that needs no download, not a general-purpose translator.",
        [
            ("Tasks", "- `translation` (T5's prompt `translate English to German: {text}`)"),
            ("Architecture and size",
             f"T5 encoder-decoder (`T5MultiTask` on keras-hub's `T5Backbone`): {config['num_layers']} encoder and "
             f"{config['num_layers']} decoder layers, hidden size {config['hidden_dim']}, {config['num_heads']} "
             f"heads, feed-forward {config['intermediate_dim']}, a sentencepiece vocabulary of "
             f"{config['vocabulary_size']} pieces; {model.count_params():,} parameters, "
             f"{common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             "Generated by this recipe from templates (8 colours, 8 shapes with their German genders and plurals, "
             "numbers two to ten, the days of the week; nominative and accusative), no external dataset; released "
             "with kerasprop under Apache-2.0. One colour-shape pair in five is held out of training."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE} "
             f"(AdamW, peak learning rate {LEARNING_RATE}, cosine decay); training took {train_seconds / 60:.1f} "
             "minutes on the build machine (2 shared CPU cores)."),
            ("Quality on held-out data",
             common.table([("exact match", f"{records['quality']['exact_match']:.3f}",
                            records["quality"]["examples"])], ("measure", "value", "examples"))
             + "\n\nHeld-out phrases combine a colour and a shape never seen together in training. Measured "
             "through `model(task_input, task=\"translation\")`; `expected.json` records inputs and outputs."),
            ("Examples", "\n".join(f"- `{r['input']['text']}` -> `{r['output']}` (reference: `{r['reference']}`)"
                                   for r in records["translation"])),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
