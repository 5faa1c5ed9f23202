"""W2: greedy text generation, GPT-2 124M shape, batch 4, 32-token prompts, 64 new tokens.

kerasprop (the task API), keras-hub used directly and transformers `generate`
load the very same random checkpoint (written once with transformers) and
must produce the same new text. The legs are timed interleaved (one call of each
in turn), so a shared machine's load falls on all of them alike. Prints one line
per measurement and a final ratio line.

    KERAS_BACKEND=jax python benchmarks/w2_text_generation.py [--folder /tmp/w2-gpt2] [--repeats 3] [--no-transformers]
"""

import argparse
import json
import os
import pathlib
import statistics
import time

BATCH, PROMPT_TOKENS, NEW_TOKENS = 4, 32, 64


def write_checkpoint(folder):
    """A random GPT-2 124M in Hugging Face format; a byte-level vocabulary of 50257 entries without merges."""
    import torch
    import transformers
    from tokenizers.pre_tokenizers import ByteLevel

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {char: i for i, char in enumerate(sorted(ByteLevel.alphabet()))}
    vocab.update({f"tok{i}": i for i in range(len(vocab), 50256)})
    vocab["<|endoftext|>"] = 50256
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    torch.manual_seed(0)
    config = transformers.GPT2Config(bos_token_id=50256, eos_token_id=50256)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)


def interleaved(legs, repeats):
    """Times each leg's first call, then `repeats` rounds of one call per leg in turn (a shared machine's
    load falls on every leg alike). Returns {name: (result, first call s, median steady s, CPU s per call)}."""
    figures = {}
    for name, function in legs.items():
        start = time.perf_counter()
        figures[name] = [function(), time.perf_counter() - start, [], []]
    for _ in range(repeats):
        for name, function in legs.items():
            start, cpu = time.perf_counter(), time.process_time()
            function()
            figures[name][2].append(time.perf_counter() - start)
            figures[name][3].append(time.process_time() - cpu)
    return {name: (result, first, statistics.median(steady), statistics.median(cpu))
            for name, (result, first, steady, cpu) in figures.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/w2-gpt2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-transformers", action="store_true", help="leave out the (slow) transformers leg")
    parser.add_argument("--int8", action="store_true", help="also measure kerasprop with int8 weights (quantize)")
    args = parser.parse_args()
    folder = pathlib.Path(args.folder)
    if not (folder / "model.safetensors").exists():
        write_checkpoint(folder)

    import keras
    import keras_hub

    from kerasprop.models import GPT2TextGenerator

    # 31 single-byte tokens after the start token: 32-token prompts.
    texts = [("abcdefghijklmnopqrstuvwxyz0123456789" * 2)[i : i + PROMPT_TOKENS - 1] for i in range(BATCH)]
    backend = keras.config.backend()

    model = GPT2TextGenerator.from_preset(str(folder))
    options = {"text": texts, "min_length": NEW_TOKENS, "max_length": NEW_TOKENS, "temperature": 0.0}
    direct = keras_hub.models.GPT2CausalLM.from_preset(str(folder))
    direct.compile(sampler="greedy")
    legs = {
        f"kerasprop ({backend})": lambda: model(options, task="text-generation"),
        f"keras-hub direct ({backend})": lambda: [
            t.decode("utf-8") if isinstance(t, bytes) else str(t)
            for t in direct.generate(texts, max_length=PROMPT_TOKENS + NEW_TOKENS, stop_token_ids=None,
                                     strip_prompt=True)
        ],
    }
    if args.int8:
        quantized = GPT2TextGenerator.from_preset(str(folder))
        quantized.quantize("int8")
        legs[f"kerasprop int8 ({backend})"] = lambda: quantized(options, task="text-generation")
    if not args.no_transformers:
        import torch
        import transformers

        torch.set_grad_enabled(False)
        hf_model = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        ids = torch.tensor([[tokenizer.eos_token_id] + tokenizer(t)["input_ids"] for t in texts])

        def hf_generate():
            out = hf_model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                    min_new_tokens=NEW_TOKENS, max_new_tokens=NEW_TOKENS, pad_token_id=50256)
            return [tokenizer.decode(row[PROMPT_TOKENS:]) for row in out]

        legs["transformers (torch)"] = hf_generate

    tokens = BATCH * NEW_TOKENS
    speed = {}
    results = interleaved(legs, args.repeats)
    for name, (_, first, steady, cpu) in results.items():
        speed[name] = tokens / steady
        print(f"{name}: first call {first:.2f}s, steady {steady:.2f}s (CPU {cpu:.2f}s), "
              f"{speed[name]:.1f} new tokens/s", flush=True)
    int8 = {name: results.pop(name) for name in list(results) if " int8 " in name}
    for name, (texts_int8, *_) in int8.items():
        float_texts = next(iter(results.values()))[0]
        print(f"{name} / kerasprop float32: {speed.pop(name) / next(iter(speed.values())):.2f}x; texts identical to "
              f"float32 for {sum(a == b for a, b in zip(texts_int8, float_texts))} of {len(float_texts)} prompts "
              "(random weights: near-flat logits, so agreement says little; quality is judged on trained presets)")
    outputs = [result for result, *_ in results.values()]
    print(f"outputs identical: {all(out == outputs[0] for out in outputs)}")
    ours, keras_hub_direct, *reference = speed.values()
    ratios = [f"kerasprop/keras-hub {ours / keras_hub_direct:.2f}"]
    if reference:
        ratios.insert(0, f"kerasprop/transformers {ours / reference[0]:.2f}")
    print(f"ratio {', '.join(ratios)}, kerasprop/limit(105 tokens/s) {ours / 105:.2f}")


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    main()
