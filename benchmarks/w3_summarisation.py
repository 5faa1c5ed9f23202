"""W3: summarisation speed, kerasprop's T5MultiTask vs transformers `generate` (PERFORMANCE.md).

One random T5-small-shaped checkpoint is written once with transformers and
loaded by both. Batch 8, 256 input tokens, exactly 64 new tokens, greedy and
4-beam search. Token ids must agree (greedy and beams) or the figure does not
count. The two sides alternate repeat by repeat, so that a load on the machine
weighs on both alike; CPU seconds of this process are printed beside wall time
(on a loaded machine they are the steadier figure).

    KERAS_BACKEND=jax python benchmarks/w3_summarisation.py [--repeats 3] [--single-thread] [--int8]

`--single-thread` runs both sides on one thread (XLA and PyTorch), which
keeps the comparison fair on a shared machine, where multi-threaded PyTorch
loses most of its time waiting for busy cores.

Prints one line per measurement and a final ratio line.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

BATCH, INPUT_TOKENS, NEW_TOKENS = 8, 256, 64


def write_checkpoint(folder):
    import sentencepiece
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.T5Config(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8,
                                   decoder_start_token_id=0)
    transformers.T5ForConditionalGeneration(config).save_pretrained(folder)
    # The tokenizer is only loaded; the benchmark feeds token ids.
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(["a summary of the text", "the quick brown fox"] * 50), model_prefix=str(folder / "spiece"),
        vocab_size=25, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, minloglevel=2,
    )


def timed(function):
    """(result, wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single-thread", action="store_true", help="one thread for XLA and PyTorch")
    parser.add_argument("--int8", action="store_true", help="also measure kerasprop with int8 weights (quantize)")
    args = parser.parse_args()
    if args.single_thread:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    import keras
    import numpy as np
    import torch
    import transformers

    if args.single_thread:
        torch.set_num_threads(1)
    from kerasprop.models import T5MultiTask
    from kerasprop.models.generative.seq2seq import GenerationSettings

    folder = pathlib.Path(tempfile.mkdtemp(prefix="w3-t5-small-"))
    write_checkpoint(folder)
    ids = np.random.default_rng(0).integers(3, 32000, size=(BATCH, INPUT_TOKENS)).astype("int32")
    ids[:, -1] = 1
    reference = transformers.T5ForConditionalGeneration.from_pretrained(folder).eval()
    model = T5MultiTask.from_preset(str(folder))
    model.preprocessor = None  # token ids in, token ids out, as for transformers
    quantized = None
    if args.int8:
        quantized = T5MultiTask.from_preset(str(folder))
        quantized.preprocessor = None
        quantized.quantize("int8")
    backend = keras.backend.backend()
    rate = BATCH * NEW_TOKENS
    figures = {}
    for name, beams in (("greedy", 1), ("beam4", 4)):
        settings = GenerationSettings(max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, num_beams=beams)
        model.compile(sampler=settings.sampler())
        if quantized is not None:
            quantized.compile(sampler=settings.sampler())
        decoder = np.zeros((BATCH, 1 + NEW_TOKENS), "int32")
        inputs = {"encoder_token_ids": ids, "encoder_padding_mask": np.ones_like(ids),
                  "decoder_token_ids": decoder, "decoder_padding_mask": (np.arange(1 + NEW_TOKENS) < 1)[None].repeat(BATCH, 0)}

        def hf_generate(beams=beams):
            with torch.no_grad():
                return reference.generate(input_ids=torch.tensor(ids).long(), num_beams=beams, do_sample=False,
                                          min_new_tokens=NEW_TOKENS, max_new_tokens=NEW_TOKENS).numpy()

        sides = {f"kerasprop/{backend}": lambda: np.asarray(model.generate(dict(inputs), stop_token_ids=(1,))["decoder_token_ids"]),
                 "transformers": hf_generate}
        if quantized is not None:
            sides[f"kerasprop-int8/{backend}"] = lambda: np.asarray(
                quantized.generate(dict(inputs), stop_token_ids=(1,))["decoder_token_ids"])
        outputs, walls, cpus = {}, {side: [] for side in sides}, {side: [] for side in sides}
        for side, function in sides.items():
            outputs[side], wall, _ = timed(function)
            print(f"{side} {name}: first call {wall:.1f} s")
        for _ in range(args.repeats):
            for side, function in sides.items():
                _, wall, cpu = timed(function)
                walls[side].append(wall)
                cpus[side].append(cpu)
        for side in sides:
            wall, cpu = np.mean(walls[side]), np.mean(cpus[side])
            figures[f"{side.split('/')[0]} {name}"] = rate / wall
            print(f"{side} {name}: steady {rate / wall:.1f} new tokens/s ({wall:.2f} s wall, {cpu:.2f} s CPU)")
        int8_ids = outputs.pop(f"kerasprop-int8/{backend}", None)
        same = np.array_equal(*outputs.values())
        print(f"{name} token ids identical: {same}")
        if int8_ids is not None:  # random weights: near-flat logits, so agreement says little (see test_quantize.py)
            agree = np.mean(int8_ids == outputs[f"kerasprop/{backend}"])
            print(f"{name} int8 / float32: {figures[f'kerasprop-int8 {name}'] / figures[f'kerasprop {name}']:.2f}x "
                  f"({agree:.0%} of token ids equal)")
    print(
        f"ratio kerasprop/{backend} / transformers: greedy {figures['kerasprop greedy'] / figures['transformers greedy']:.2f}x, "
        f"beam4 {figures['kerasprop beam4'] / figures['transformers beam4']:.2f}x (target >= 1.4x)"
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
