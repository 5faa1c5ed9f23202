"""W2: greedy text generation, GPT-2 124M shape, batch 4, 32-token prompts, 64 new tokens.

kerasprop (the task API), keras-hub used directly and transformers `generate`
load the very same random checkpoint (written once with transformers) and
must produce the same new text. Prints one line per measurement and a final
ratio line.

    KERAS_BACKEND=jax python benchmarks/w2_text_generation.py [--folder /tmp/w2-gpt2] [--repeats 3]
"""

import argparse
import json
import os
import pathlib
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


def timed(fn, repeats):
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    steady = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        steady.append(time.perf_counter() - start)
    return result, first, sorted(steady)[len(steady) // 2]


def report(name, first, steady):
    tokens = BATCH * NEW_TOKENS
    print(f"{name}: first call {first:.2f}s, steady {steady:.2f}s, {tokens / steady:.1f} new tokens/s", flush=True)
    return tokens / steady


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/w2-gpt2")
    parser.add_argument("--repeats", type=int, default=3)
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
    ours, first, steady = timed(lambda: model(options, task="text-generation"), args.repeats)
    kerasprop_speed = report(f"kerasprop ({backend})", first, steady)
    del model

    direct = keras_hub.models.GPT2CausalLM.from_preset(str(folder))
    direct.compile(sampler="greedy")
    sequence_length = PROMPT_TOKENS + NEW_TOKENS
    theirs, first, steady = timed(
        lambda: direct.generate(texts, max_length=sequence_length, stop_token_ids=None, strip_prompt=True),
        args.repeats,
    )
    direct_speed = report(f"keras-hub direct ({backend})", first, steady)
    del direct

    import torch
    import transformers

    torch.set_grad_enabled(False)
    hf_model = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    ids = torch.tensor([[tokenizer.eos_token_id] + tokenizer(t)["input_ids"] for t in texts])
    hf_out, first, steady = timed(
        lambda: hf_model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                  min_new_tokens=NEW_TOKENS, max_new_tokens=NEW_TOKENS, pad_token_id=50256),
        args.repeats,
    )
    hf_speed = report("transformers (torch)", first, steady)
    reference = [tokenizer.decode(row[PROMPT_TOKENS:]) for row in hf_out]

    theirs = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in theirs]
    same = list(ours) == reference and theirs == reference
    print(f"outputs identical: {same}")
    print(
        f"ratio kerasprop/transformers {kerasprop_speed / hf_speed:.2f}, "
        f"kerasprop/keras-hub {kerasprop_speed / direct_speed:.2f}, "
        f"kerasprop/limit(105 tokens/s) {kerasprop_speed / 105:.2f}"
    )


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    main()
