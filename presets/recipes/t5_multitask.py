"""Builds `presets/t5-tiny-multitask`: a small T5 for QA, emotion and summarisation.

The data is generated (see `synthetic_text`), the sentencepiece vocabulary is
trained on it, and the model is trained from scratch on the three tasks with
backprop's prompts, which the model's own `process_batch` writes. The card's
quality figures are measured on held-out names, places, organisations and
emotion phrasings through the public task path.

Run from the repository root (about 25 minutes on 2 idle CPU cores):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.t5_multitask

`--evaluate-only` re-measures a built preset and rewrites its card and
`expected.json` without training.
"""

import sys
import io
import random

import keras
import keras_hub
import numpy as np

from presets.recipes import common
from presets.recipes import synthetic_text

NAME = "t5-tiny-multitask"
SEED = 20261121
TRAIN_EXAMPLES = {"qa": 4800, "emotion": 1200, "summarisation": 1200}
HELDOUT_EXAMPLES = {"qa": 60, "emotion": 60, "summarisation": 12}
#: Held-out examples whose outputs `expected.json` records for the cross-backend test.
RECORDED = {"qa": 8, "emotion": 8, "summarisation": 2}
VOCABULARY_SIZE = 1000
BACKBONE = dict(num_layers=2, num_heads=4, hidden_dim=128, intermediate_dim=256, key_value_dim=32, dropout=0.0)
BATCH_SIZE = 32
EPOCHS = 3
LEARNING_RATE = 2e-3


def training_params(rng, split="train", counts=None):
    """backprop finetuning params per task, from the generated examples."""
    counts = counts or TRAIN_EXAMPLES
    qa = synthetic_text.qa_examples(rng, counts["qa"], split)
    emotion = synthetic_text.emotion_examples(rng, counts["emotion"], split)
    summaries = synthetic_text.summary_examples(rng, counts["summarisation"], split)
    return {
        "qa": {
            "questions": [e["question"] for e in qa],
            "contexts": [e["context"] for e in qa],
            "prev_qas": [e["prev_qa"] for e in qa],
            "answers": [e["answer"] for e in qa],
        },
        "emotion": {"input_text": [e["text"] for e in emotion], "output_text": [e["emotion"] for e in emotion]},
        "summarisation": {
            "input_text": [e["text"] for e in summaries],
            "output_text": [e["summary"] for e in summaries],
        },
    }


def train_tokenizer(texts):
    """A sentencepiece model with T5's special ids (pad 0, end 1, unk 2), as bytes."""
    import sentencepiece

    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=proto,
        vocab_size=VOCABULARY_SIZE,
        model_type="unigram",
        character_coverage=1.0,
        bos_id=-1,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    return proto.getvalue()


def packed_batches(preprocessor, features, batch_size):
    """Token batches for one task, padded to that task's longest example (rounded up to 8)."""
    tokenizer = preprocessor.tokenizer
    encoder_length = max(len(t) for t in tokenizer(list(features["encoder_text"]))) + 1
    decoder_length = max(len(t) for t in tokenizer(list(features["decoder_text"]))) + 1
    lengths = {
        "encoder_sequence_length": -(-encoder_length // 8) * 8,
        "decoder_sequence_length": -(-decoder_length // 8) * 8,
    }
    batches = []
    for start in range(0, len(features["encoder_text"]) - batch_size + 1, batch_size):
        chunk = {key: value[start : start + batch_size] for key, value in features.items()}
        x, y, weight = preprocessor(chunk, **lengths)
        batches.append(
            ({k: keras.ops.convert_to_numpy(v) for k, v in x.items()}, keras.ops.convert_to_numpy(y),
             keras.ops.convert_to_numpy(weight).astype("float32"))
        )
    return batches


def build_and_train(folder):
    from kerasprop.models.t5.t5_multitask import T5MultiTask

    rng = random.Random(SEED)
    params = training_params(rng)
    stopwatch = common.Stopwatch()

    # The model's own process_batch writes backprop's prompts; the vocabulary is trained on them.
    tokenizer_probe = T5MultiTask(
        backbone=keras_hub.models.T5Backbone(vocabulary_size=8, **{**BACKBONE, "num_layers": 1}),
        preprocessor=None,
    )
    features = {task: tokenizer_probe.process_batch(params[task], task=task) for task in params}
    texts = [str(t) for f in features.values() for key in ("encoder_text", "decoder_text") for t in f[key]]
    random.Random(SEED).shuffle(texts)
    tokenizer = keras_hub.models.T5Tokenizer(proto=train_tokenizer(texts))
    preprocessor = keras_hub.models.T5Seq2SeqLMPreprocessor(tokenizer=tokenizer)
    print(f"tokenizer: {tokenizer.vocabulary_size()} pieces, {stopwatch():.0f}s", flush=True)

    backbone = keras_hub.models.T5Backbone(vocabulary_size=tokenizer.vocabulary_size(), **BACKBONE)
    # keras-hub initialises T5's token embeddings with TruncatedNormal(1.0), i.e. mean 1.0 and
    # stddev 0.05: every token starts almost the same and the encoder output ignores its input.
    # Use T5's own initialisation (normal, stddev 1.0) to train from scratch.
    embeddings = backbone.token_embedding.embeddings
    embeddings.assign(keras.random.normal(embeddings.shape, stddev=1.0, seed=SEED))
    model = T5MultiTask(
        backbone=backbone, preprocessor=preprocessor, encoder_sequence_length=512, decoder_sequence_length=128
    )
    batches = [b for f in features.values() for b in packed_batches(preprocessor, f, BATCH_SIZE)]
    print(f"{len(batches)} batches per epoch, {stopwatch():.0f}s", flush=True)

    # Train on the pre-packed batches: each task keeps its own padded length.
    train_from_scratch(backbone, batches, EPOCHS, LEARNING_RATE, SEED, stopwatch)
    train_seconds = stopwatch()
    model.save_to_preset(folder)
    return train_seconds


def train_from_scratch(backbone, batches, epochs, learning_rate, seed, stopwatch):
    """Trains `backbone` on packed `(x, y, sample_weight)` batches: AdamW, 5% warm-up then cosine decay."""
    trainer = keras_hub.models.T5Seq2SeqLM(backbone=backbone, preprocessor=None)
    steps = epochs * len(batches)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - steps // 20, warmup_target=learning_rate, warmup_steps=steps // 20
    )
    trainer.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    order = np.random.default_rng(seed)
    for epoch in range(epochs):
        losses = [trainer.train_on_batch(*batches[i]) for i in order.permutation(len(batches))]
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.3f}, {stopwatch():.0f}s", flush=True)


def evaluate(folder):
    """Measures the saved preset on held-out examples through `model(task_input, task=...)`."""
    from kerasprop.models.t5.t5_multitask import T5MultiTask

    model = T5MultiTask.from_preset(str(folder))
    rng = random.Random(SEED + 1)
    qa = synthetic_text.qa_examples(rng, HELDOUT_EXAMPLES["qa"], "heldout")
    emotion = synthetic_text.emotion_examples(rng, HELDOUT_EXAMPLES["emotion"], "heldout")
    summaries = synthetic_text.summary_examples(rng, HELDOUT_EXAMPLES["summarisation"], "heldout")

    qa_inputs = [qa_task_input(e) for e in qa]
    qa_outputs = [model(task_input, task="qa") for task_input in qa_inputs]
    emotion_outputs = model({"text": [e["text"] for e in emotion]}, task="emotion")
    summary_outputs = model({"text": [e["text"] for e in summaries]}, task="summarisation")
    quality = {
        "qa_exact_match": exact_match(qa_outputs, [e["answer"] for e in qa]),
        "emotion_accuracy": exact_match(emotion_outputs, [e["emotion"] for e in emotion]),
        "summary_key_fact_recall": key_fact_recall(summary_outputs, [e["key_facts"] for e in summaries]),
        "summary_shorter_than_input": float(
            np.mean([len(s.split()) < len(e["text"].split()) for s, e in zip(summary_outputs, summaries)])
        ),
    }
    records = {
        "seed": SEED + 1,
        "heldout_examples": HELDOUT_EXAMPLES,
        "quality": quality,
        "qa": [{"input": i, "output": o} for i, o in list(zip(qa_inputs, qa_outputs))[: RECORDED["qa"]]],
        "emotion": [
            {"input": {"text": e["text"]}, "output": o}
            for e, o in list(zip(emotion, emotion_outputs))[: RECORDED["emotion"]]
        ],
        "summarisation": [
            {"input": {"text": e["text"]}, "output": o}
            for e, o in list(zip(summaries, summary_outputs))[: RECORDED["summarisation"]]
        ],
    }
    return model, records


def qa_task_input(example):
    task_input = {"question": example["question"], "context": example["context"]}
    if example["prev_qa"]:
        task_input["prev_q"] = [q for q, _ in example["prev_qa"]]
        task_input["prev_a"] = [a for _, a in example["prev_qa"]]
    return task_input


def _normal(text):
    return " ".join(text.lower().strip().rstrip(".").split())


def exact_match(outputs, answers):
    """The fraction of outputs equal to their answer (case, spacing and a final full stop ignored)."""
    return float(np.mean([_normal(o) == _normal(a) for o, a in zip(outputs, answers)]))


def key_fact_recall(summaries, key_facts):
    """The fraction of key facts that appear verbatim (ignoring case) in their summary."""
    found = [fact.lower() in summary.lower() for summary, facts in zip(summaries, key_facts) for fact in facts]
    return float(np.mean(found))


def write_card(folder, model, records, train_seconds):
    quality = records["quality"]
    config = model.backbone.get_config()
    architecture = (
        f"T5 encoder-decoder (`T5MultiTask` on keras-hub's `T5Backbone`): {config['num_layers']} encoder and "
        f"{config['num_layers']} decoder layers, hidden size {config['hidden_dim']}, {config['num_heads']} heads, "
        f"feed-forward {config['intermediate_dim']} (gated GELU), a sentencepiece unigram vocabulary of "
        f"{config['vocabulary_size']} pieces; {model.count_params():,} parameters, "
        f"{common.folder_size_mb(folder):.1f} MB on disk."
    )
    examples = "\n".join(
        f"- `{record['input']}` -> `{record['output']}`" for record in records["qa"][:3] + records["emotion"][:3]
    )
    common.write_card(
        folder,
        f"{NAME}: a small multi-task T5 (bundled, offline)",
        "No task's default: a small `Seq2SeqLM` for tests and examples of the keras-hub contract (the MiniLM presets serve `QA`, `Emotion` and `Summarisation`). It works on English text in the shape of "
        "its generated training data (short factual paragraphs about people, one-sentence reactions, "
        "event reports); it is a demonstration model that needs no download, not a general-purpose one.",
        [
            ("Tasks", "- `qa` (backprop's prompt `q: {prev_q} a: {prev_a} ... q: {question} c: {context}`, "
             "follow-up questions included)\n- `emotion` (`emotion: {text}`; GoEmotions labels: "
             f"{', '.join(synthetic_text.EMOTIONS)})\n- `summarisation` (`summarise: {{text}}`)\n"
             "- `text-generation` (the raw prompt, as every T5 model in kerasprop)"),
            ("Architecture and size", architecture),
            ("Data and licence",
             "Generated by `presets/recipes/synthetic_text.py` (templated English with varied people, places, "
             "jobs, objects, dates, organisations and events), no external dataset; released with kerasprop "
             f"under Apache-2.0. Training examples: {TRAIN_EXAMPLES}. Held-out data uses names, places, "
             "organisations and emotion phrasings that never occur in training."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE} "
             f"(AdamW, peak learning rate {LEARNING_RATE}, cosine decay); training took {train_seconds / 60:.1f} "
             "minutes on the build machine (2 shared CPU cores)."),
            ("Quality on held-out data",
             common.table(
                 [
                     ("QA exact match", f"{quality['qa_exact_match']:.3f}", HELDOUT_EXAMPLES["qa"]),
                     ("emotion accuracy", f"{quality['emotion_accuracy']:.3f}", HELDOUT_EXAMPLES["emotion"]),
                     ("summary: key facts kept (verbatim)", f"{quality['summary_key_fact_recall']:.3f}",
                      HELDOUT_EXAMPLES["summarisation"]),
                     ("summary: shorter than its input", f"{quality['summary_shorter_than_input']:.3f}",
                      HELDOUT_EXAMPLES["summarisation"]),
                 ],
                 ("measure", "value", "examples"),
             )
             + "\n\nMeasured by the recipe through `model(task_input, task=...)`; `expected.json` records the "
             "inputs and outputs that `tests/test_presets.py` re-checks on every backend."),
            ("Examples", examples),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
