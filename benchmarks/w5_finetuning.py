"""W5: finetuning speed, kerasprop models under Keras `fit` vs a plain PyTorch loop on transformers models.

`--model minilm`: kerasprop's `SupervisedTextClassifier` on all-MiniLM-L6-v2 (the
bundled package) vs transformers' `BertForSequenceClassification`, with the pooler
and the 4-class head copied from the Keras model into the PyTorch one; batch 32,
sequence length 128. `--model t5-small`: a T5-small-shaped checkpoint (random
weights, written once with transformers, as W3 does) as kerasprop's `T5MultiTask`
vs `T5ForConditionalGeneration`; batch 8, 128 input and 32 target tokens. Both
sides start from the same weights (the initial logits are compared and printed),
dropout is off, both use AdamW (learning rate 5e-5, weight decay 0.01, betas
0.9/0.999, epsilon 1e-8) on the same batches of token ids in the same order.
Prints the time to the first step (compilation included), steady steps/s (steps 11
to the end), the loss on a held-out batch after training (they must agree within
1%), and the ratio.

    KERAS_BACKEND=jax python benchmarks/w5_finetuning.py --model minilm|t5-small [--steps 50]
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

BATCH, LENGTH, CLASSES = 32, 128, 4
T5_BATCH, T5_INPUT, T5_TARGET = 8, 128, 32
LEARNING_RATE, WEIGHT_DECAY, EPSILON = 5e-5, 0.01, 1e-8
TOPICS = {
    0: "match goal team season coach player league score stadium fans",
    1: "market shares price bank profit investors trade economy rates growth",
    2: "recipe oven flour sugar butter dinner kitchen taste sauce bake",
    3: "planet telescope orbit star galaxy rocket mission moon space light",
}
FILLER = "the a of and to in on with for was is that it as at by from this after before".split()


def minilm_batches(tokenizer, steps, seed=0):
    """`steps + 1` batches of (token ids, padding mask, labels): texts of 60-200 words, cut or padded to 128."""
    import numpy as np

    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(steps + 1):
        labels = rng.integers(0, CLASSES, BATCH)
        texts = []
        for label in labels:
            words = TOPICS[int(label)].split() + FILLER
            texts.append(" ".join(rng.choice(words, int(rng.integers(60, 200)))))
        token_ids = np.zeros((BATCH, LENGTH), "int32")
        for row, text in enumerate(texts):
            ids = [101] + list(np.asarray(tokenizer(text)))[: LENGTH - 2] + [102]
            token_ids[row, : len(ids)] = ids
        batches.append((token_ids, token_ids != 0, labels.astype("int32")))
    return batches


def minilm_legs(steps, dtype_policy):
    """(keras model, torch model, keras batches, torch batches) for the MiniLM classifier."""
    import keras
    import numpy as np
    import torch
    import transformers

    from kerasprop.hub.catalog import bundled_path
    from kerasprop.models import SupervisedTextClassifier

    folder = str(bundled_path("all-minilm-l6-v2"))
    model = SupervisedTextClassifier.from_preset(folder, num_classes=CLASSES, dropout=0.0, dtype=dtype_policy)
    batches = minilm_batches(model.preprocessor.tokenizer, steps)
    reference = transformers.BertForSequenceClassification.from_pretrained(
        folder, num_labels=CLASSES, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    with torch.no_grad():  # the Keras pooler and head, copied
        for keras_dense, torch_linear in ((model.backbone.get_layer("pooled_dense"), reference.bert.pooler.dense),
                                          (model.output_dense, reference.classifier)):
            kernel, bias = (keras.ops.convert_to_numpy(w) for w in keras_dense.weights)
            torch_linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
            torch_linear.bias.copy_(torch.from_numpy(bias))
    keras_batches = [({"token_ids": ids, "padding_mask": mask, "segment_ids": np.zeros_like(ids)}, labels)
                     for ids, mask, labels in batches]
    torch_batches = [{"input_ids": torch.from_numpy(ids.astype("int64")), "attention_mask": torch.from_numpy(mask).long(),
                      "labels": torch.from_numpy(labels.astype("int64"))} for ids, mask, labels in batches]
    return model, reference, keras_batches, torch_batches, BATCH


def t5_legs(steps, dtype_policy, folder):
    """The same for a T5-small-shaped checkpoint: batch 8, 128 input and 32 target tokens, no padding."""
    import numpy as np
    import torch
    import transformers

    from kerasprop.models import T5MultiTask
    from w3_summarisation import write_checkpoint

    write_checkpoint(folder)
    model = T5MultiTask.from_preset(str(folder), dtype=dtype_policy)
    reference = transformers.T5ForConditionalGeneration.from_pretrained(folder, dropout_rate=0.0)
    rng = np.random.default_rng(0)
    keras_batches, torch_batches = [], []
    for _ in range(steps + 1):
        inputs = rng.integers(3, 32000, (T5_BATCH, T5_INPUT)).astype("int32")
        labels = rng.integers(3, 32000, (T5_BATCH, T5_TARGET)).astype("int32")
        decoder = np.concatenate([np.zeros((T5_BATCH, 1), "int32"), labels[:, :-1]], axis=1)  # shifted right
        ones = np.ones_like(inputs)
        keras_batches.append(({"encoder_token_ids": inputs, "encoder_padding_mask": ones, "decoder_token_ids": decoder,
                               "decoder_padding_mask": np.ones_like(decoder)}, labels))
        torch_batches.append({"input_ids": torch.from_numpy(inputs.astype("int64")),
                              "attention_mask": torch.from_numpy(ones.astype("int64")),
                              "labels": torch.from_numpy(labels.astype("int64"))})
    return model, reference, keras_batches, torch_batches, T5_BATCH


def keras_leg(model, batches, batch_size):
    """(seconds to the first step, steady seconds per step, held-out loss) for Keras `fit`."""
    import keras
    import numpy as np

    times = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())

    *train, (held_x, held_y) = batches
    x = {key: np.concatenate([b[0][key] for b in train]) for key in train[0][0]}
    y = np.concatenate([b[1] for b in train])
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[Clock()])
    steady = np.diff(times[10:]).mean()
    logits = model.predict(held_x, batch_size=batch_size, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(held_y, logits)
    return times[0] - start, steady, float(keras.ops.convert_to_numpy(loss))


def torch_leg(model, batches):
    """The same for a plain PyTorch training loop on the transformers model."""
    import numpy as np
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY, eps=EPSILON)
    *train, held_out = batches
    model.train()
    times, start = [], time.perf_counter()
    for batch in train:
        out = model(**batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        times.append(time.perf_counter())
    model.eval()
    with torch.no_grad():
        out = model(**held_out)
    return times[0] - start, float(np.diff(times[10:]).mean()), float(out.loss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm", choices=["minilm", "t5-small"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--dtype-policy", default="float32", choices=["float32", "mixed_bfloat16"],
                        help="Keras dtype policy of the kerasprop model (mixed_bfloat16: bfloat16 compute, float32 weights)")
    args = parser.parse_args()
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import keras
    import numpy as np
    import torch

    backend = keras.backend.backend()
    with tempfile.TemporaryDirectory() as folder:
        if args.model == "minilm":
            model, reference, keras_batches, torch_batches, batch_size = minilm_legs(args.steps, args.dtype_policy)
        else:
            model, reference, keras_batches, torch_batches, batch_size = t5_legs(args.steps, args.dtype_policy,
                                                                                 pathlib.Path(folder))
        for layer in model._flatten_layers():
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
        model.preprocessor = None  # token ids in, as on the PyTorch side
        model.compile(optimizer=keras.optimizers.AdamW(LEARNING_RATE, weight_decay=WEIGHT_DECAY, epsilon=EPSILON),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        keras_logits = model.predict(keras_batches[-1][0], batch_size=batch_size, verbose=0)
        reference.eval()
        with torch.no_grad():
            torch_logits = reference(**torch_batches[-1]).logits.numpy()
        print(f"W5 {args.model}: batch {batch_size}, {args.steps} steps; initial logits: max abs difference "
              f"{np.abs(keras_logits - torch_logits).max():.2e}")

        first, steady, loss = keras_leg(model, keras_batches, batch_size)
    print(f"kerasprop/{backend} fit ({args.dtype_policy}): first step {first:.1f} s, steady {1 / steady:.3f} steps/s, "
          f"held-out loss {loss:.4f}")
    torch_first, torch_steady, torch_loss = torch_leg(reference, torch_batches)
    print(f"pytorch loop (transformers, {torch.get_num_threads()} threads): first step {torch_first:.1f} s, "
          f"steady {1 / torch_steady:.3f} steps/s, held-out loss {torch_loss:.4f}")
    print(f"held-out losses differ by {abs(loss - torch_loss) / torch_loss:.2%} (must be < 1%)")
    print(f"ratio kerasprop/{backend} / pytorch loop: {torch_steady / steady:.2f}x steps/s (target >= 1.25x on jax)")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
