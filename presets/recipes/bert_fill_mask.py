"""Builds `presets/bert-tiny-fill-mask`: a small BERT masked language model that knows a few facts.

It is trained from scratch on generated sentences about sixteen countries
(capitals, cities, languages) and coloured shapes (see `facts`), with
keras-hub's dynamic masking. For each country one sentence template is held
out; the held-out quality is the top-1 accuracy of filling its masked fact
word through `model({"text": ..., "top_k": 1}, task="fill-mask")`.

Run from the repository root (about 3 minutes on 2 idle CPU cores):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.bert_fill_mask
"""

import random
import sys

import keras
import keras_hub
import numpy as np

from presets.recipes import common, facts

NAME = "bert-tiny-fill-mask"
SEED = 20261123
BACKBONE = dict(num_layers=2, num_heads=4, hidden_dim=64, intermediate_dim=128, max_sequence_length=32)
REPEATS = 10
EPOCHS = 12
BATCH_SIZE = 32
LEARNING_RATE = 4e-3


def split():
    """(training facts, shape sentences, held-out facts): one fact template per country is held out."""
    train, heldout = [], []
    for i, (country, (capital, language, city)) in enumerate(facts.COUNTRIES.items()):
        for j, template in enumerate(facts.FACT_TEMPLATES):
            sentence = template.format(country=country, capital=capital, language=language, city=city)
            (heldout if j == i % len(facts.FACT_TEMPLATES) else train).append((sentence, (country, capital, language)))
    shapes = [facts.shape_sentence(t, c, s) for t in facts.SHAPE_TEMPLATES for c in facts.COLOURS for s in facts.SHAPES]
    return [s for s, _ in train], shapes, heldout


def masked(sentence, answers):
    """The sentence with its first fact word (capital, country or language) masked, and that word."""
    words = sentence.split()
    index = next(i for i, w in enumerate(words) if w in answers)
    return " ".join(words[:index] + ["[MASK]"] + words[index + 1:]), words[index]


def build_and_train(folder):
    from kerasprop.models.tokens.masked_lm import BertMaskedLM

    stopwatch = common.Stopwatch()
    fact_sentences, shapes, _ = split()
    tokenizer = facts.bert_tokenizer()
    preprocessor = keras_hub.models.BertMaskedLMPreprocessor(
        tokenizer, sequence_length=BACKBONE["max_sequence_length"], mask_selection_rate=0.2, mask_selection_length=4
    )
    backbone = keras_hub.models.BertBackbone(vocabulary_size=tokenizer.vocabulary_size(), dropout=0.0, **BACKBONE)
    model = BertMaskedLM(backbone=backbone, preprocessor=preprocessor,
                         description="A small BERT that fills in facts about sixteen countries and coloured shapes.")
    # Facts are fewer and harder to learn than shape sentences: they are seen four times as often.
    data = fact_sentences * 4 * REPEATS + shapes * REPEATS
    random.Random(SEED).shuffle(data)
    steps = EPOCHS * (len(data) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - steps // 20, warmup_target=LEARNING_RATE, warmup_steps=steps // 20
    )
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), weighted_metrics=[])
    model.fit(x=data, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=2)
    train_seconds = stopwatch()
    model.save_to_preset(folder)
    return train_seconds


def evaluate(folder):
    from kerasprop.models.tokens.masked_lm import MaskedLM

    model = MaskedLM.from_preset(str(folder))
    _, _, heldout = split()
    cases = [masked(sentence, answers) for sentence, answers in heldout]
    outputs = model({"text": [text for text, _ in cases], "top_k": 1}, task="fill-mask")
    accuracy = float(np.mean([out[0]["token_str"] == answer for out, (_, answer) in zip(outputs, cases)]))
    records = {
        "quality": {"top1_accuracy": accuracy, "examples": len(cases)},
        "fill-mask": [{"input": {"text": text, "top_k": 3}, "output": model({"text": text, "top_k": 3},
                                                                            task="fill-mask"), "answer": answer}
                      for text, answer in cases[:6]],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    config = model.backbone.get_config()
    common.write_card(
        folder,
        f"{NAME}: a small BERT masked language model (bundled, offline)",
        "The offline default for the `FillMask` task. It fills masked words in short sentences about sixteen countries "
        "(capitals, cities, languages) and coloured shapes (\"paris is the [MASK] of france .\" -> \"capital\"); "
        "a demonstration model that needs no download, not a general-purpose one.",
        [
            ("Tasks", "- `fill-mask` (`[MASK]` or `<mask>`; lower-cased, word-level vocabulary)"),
            ("Architecture and size",
             f"BERT (`BertMaskedLM` on keras-hub's `BertMaskedLM`): {config['num_layers']} layers, hidden size "
             f"{config['hidden_dim']}, {config['num_heads']} heads, feed-forward {config['intermediate_dim']}, "
             f"a word-level vocabulary of {config['vocabulary_size']} tokens; {model.count_params():,} parameters, "
             f"{common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             "Generated by `presets/recipes/facts.py` (templated sentences), no external dataset; released with "
             "kerasprop under Apache-2.0. For each country one of the six fact templates is held out of training."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE} "
             f"with keras-hub's dynamic masking (AdamW, peak learning rate {LEARNING_RATE}, cosine decay); "
             f"training took {train_seconds / 60:.1f} minutes on the build machine (2 shared CPU cores)."),
            ("Quality on held-out data",
             common.table([("top-1 accuracy of the masked fact word", f"{records['quality']['top1_accuracy']:.3f}",
                            records["quality"]["examples"])], ("measure", "value", "examples"))
             + "\n\nMeasured through `model(task_input, task=\"fill-mask\")`; `expected.json` records inputs and "
             "outputs."),
            ("Examples", "\n".join(f"- `{r['input']['text']}` -> `{r['output'][0]['token_str']}` "
                                   f"(answer: `{r['answer']}`)" for r in records["fill-mask"])),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
