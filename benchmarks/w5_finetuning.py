"""W5: finetuning speed, kerasprop's MiniLM text classifier under Keras `fit` vs a plain PyTorch loop.

Both sides start from the same weights: all-MiniLM-L6-v2 (the bundled package) as
kerasprop's `SupervisedTextClassifier` and as transformers' `BertForSequenceClassification`,
with the pooler and the 4-class head copied from the Keras model into the PyTorch one
(the initial logits are compared and printed). Dropout is off on both, both use AdamW
(learning rate 5e-5, weight decay 0.01, betas 0.9/0.999, epsilon 1e-8), batch 32,
sequence length 128, the same 50 batches of token ids in the same order. Prints the
time to the first step (compilation included), steady steps/s (steps 11 to 50), the
loss on a held-out batch after training (they must agree within 1%), and the ratio.

    KERAS_BACKEND=jax python benchmarks/w5_finetuning.py [--steps 50]

Only the MiniLM leg exists; the T5-small seq2seq leg of PERFORMANCE.md is not written yet.
"""

import argparse
import os
import pathlib
import sys
import time

BATCH, LENGTH, CLASSES = 32, 128, 4
LEARNING_RATE, WEIGHT_DECAY, EPSILON = 5e-5, 0.01, 1e-8
TOPICS = {
    0: "match goal team season coach player league score stadium fans",
    1: "market shares price bank profit investors trade economy rates growth",
    2: "recipe oven flour sugar butter dinner kitchen taste sauce bake",
    3: "planet telescope orbit star galaxy rocket mission moon space light",
}
FILLER = "the a of and to in on with for was is that it as at by from this after before".split()


def make_batches(tokenizer, steps, seed=0):
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


def keras_leg(model, batches):
    """(seconds to the first step, steady seconds per step, held-out loss) for Keras `fit`."""
    import keras
    import numpy as np

    times = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())

    *train, held_out = batches
    x = {"token_ids": np.concatenate([b[0] for b in train]), "padding_mask": np.concatenate([b[1] for b in train]),
         "segment_ids": np.zeros((len(train) * BATCH, LENGTH), "int32")}
    y = np.concatenate([b[2] for b in train])
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[Clock()])
    steady = np.diff(times[10:]).mean()
    logits = model.predict({"token_ids": held_out[0], "padding_mask": held_out[1],
                            "segment_ids": np.zeros_like(held_out[0])}, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(held_out[2], logits)
    return times[0] - start, steady, float(keras.ops.convert_to_numpy(loss))


def torch_leg(model, batches):
    """The same for a plain PyTorch training loop on the transformers model."""
    import numpy as np
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY, eps=EPSILON)
    *train, held_out = batches
    model.train()
    times, start = [], time.perf_counter()
    for token_ids, mask, labels in train:
        out = model(input_ids=torch.from_numpy(token_ids.astype("int64")), attention_mask=torch.from_numpy(mask).long(),
                    labels=torch.from_numpy(labels.astype("int64")))
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        times.append(time.perf_counter())
    model.eval()
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(held_out[0].astype("int64")),
                    attention_mask=torch.from_numpy(held_out[1]).long(), labels=torch.from_numpy(held_out[2].astype("int64")))
    return times[0] - start, float(np.diff(times[10:]).mean()), float(out.loss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    import keras
    import numpy as np
    import torch
    import transformers

    from kerasprop.hub.catalog import bundled_path
    from kerasprop.models import SupervisedTextClassifier

    folder = str(bundled_path("all-minilm-l6-v2"))
    backend = keras.backend.backend()
    model = SupervisedTextClassifier.from_preset(folder, num_classes=CLASSES, dropout=0.0)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    batches = make_batches(model.preprocessor.tokenizer, args.steps)
    model.preprocessor = None  # token ids in, as on the PyTorch side
    model.compile(optimizer=keras.optimizers.AdamW(LEARNING_RATE, weight_decay=WEIGHT_DECAY, epsilon=EPSILON),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    reference = transformers.BertForSequenceClassification.from_pretrained(
        folder, num_labels=CLASSES, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    with torch.no_grad():  # the Keras pooler and head, copied
        for keras_dense, torch_linear in ((model.backbone.get_layer("pooled_dense"), reference.bert.pooler.dense),
                                          (model.output_dense, reference.classifier)):
            kernel, bias = (keras.ops.convert_to_numpy(w) for w in keras_dense.weights)
            torch_linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
            torch_linear.bias.copy_(torch.from_numpy(bias))
    token_ids, mask, _ = batches[-1]
    keras_logits = model.predict({"token_ids": token_ids, "padding_mask": mask, "segment_ids": np.zeros_like(token_ids)},
                                 verbose=0)
    reference.eval()
    with torch.no_grad():
        torch_logits = reference(input_ids=torch.from_numpy(token_ids.astype("int64")),
                                 attention_mask=torch.from_numpy(mask).long()).logits.numpy()
    print(f"initial logits: max abs difference {np.abs(keras_logits - torch_logits).max():.2e}")

    first, steady, loss = keras_leg(model, batches)
    print(f"kerasprop/{backend} fit: first step {first:.1f} s, steady {1 / steady:.3f} steps/s, "
          f"held-out loss {loss:.4f}")
    torch_first, torch_steady, torch_loss = torch_leg(reference, batches)
    print(f"pytorch loop (transformers, {torch.get_num_threads()} threads): first step {torch_first:.1f} s, "
          f"steady {1 / torch_steady:.3f} steps/s, held-out loss {torch_loss:.4f}")
    print(f"held-out losses differ by {abs(loss - torch_loss) / torch_loss:.2%} (must be < 1%)")
    print(f"ratio kerasprop/{backend} / pytorch loop: {torch_steady / steady:.2f}x steps/s (target >= 1.25x on jax)")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
