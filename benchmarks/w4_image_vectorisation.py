"""W4: image-vectorisation, CLIP ViT-B/32 shape, 64 images 224x224 (PERFORMANCE.md).

Writes one random-weight CLIP ViT-B/32 checkpoint with `transformers`, loads it
in both, and times kerasprop's `image-vectorisation` task (decoded images in,
vectors out, preprocessing included) against the transformers CLIP vision tower
with projection on the same images (CLIPImageProcessor included), the two taking
turns in every repeat.

    KERAS_BACKEND=jax python benchmarks/w4_image_vectorisation.py [--images 64] [--repeats 3] [--matmul-precision bfloat16]
"""

import argparse
import os
import resource
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer


def write_checkpoint(folder):
    """A random CLIP ViT-B/32 (openai/clip-vit-base-patch32 shapes) with a small tokenizer."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["ph", "<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    torch.manual_seed(0)
    text_config = dict(vocab_size=len(vocab), bos_token_id=len(vocab) - 2, eos_token_id=len(vocab) - 1)
    CLIPModel(CLIPConfig(text_config=text_config, projection_dim=512)).eval().save_pretrained(folder)
    CLIPTokenizer(vocab=vocab, merges=[("p", "h")]).save_pretrained(folder)
    CLIPImageProcessor().save_pretrained(folder)


def best_of_interleaved(repeats, *fns):
    """Best time and last output of each function, the functions taking turns in every repeat
    (on a shared machine, a load change hits both sides alike)."""
    times, outs = [[] for _ in fns], [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            outs[i] = fn()
            times[i].append(time.perf_counter() - start)
    return [(min(t), out) for t, out in zip(times, outs)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--matmul-precision", default="float32", choices=["float32", "bfloat16", "auto"],
                        help="kerasprop's CLIP matmul_precision")
    args = parser.parse_args()

    import keras

    from kerasprop.models.clip.clip_image_text import CLIP

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)) for _ in range(args.images)]
    with tempfile.TemporaryDirectory() as folder:
        write_checkpoint(folder)
        reference = CLIPModel.from_pretrained(folder).eval()
        processor = CLIPImageProcessor.from_pretrained(folder)
        start = time.perf_counter()
        model = CLIP.from_preset(folder, matmul_precision=args.matmul_precision)
        print(f"kerasprop load: {time.perf_counter() - start:.2f} s")

    def run_reference():
        with torch.inference_mode():
            pixels = processor(images, return_tensors="pt")["pixel_values"]
            features = reference.get_image_features(pixel_values=pixels)
        return getattr(features, "pooler_output", features).numpy()

    def run_kerasprop():
        return np.asarray(model({"image": images}, task="image-vectorisation"))

    backend = f"{keras.backend.backend()}, matmul_precision={args.matmul_precision}"
    start = time.perf_counter()
    run_kerasprop()
    print(f"kerasprop ({backend}) first call, compilation included: {time.perf_counter() - start:.2f} s")
    (ref_time, ref_out), (kp_time, kp_out) = best_of_interleaved(args.repeats, run_reference, run_kerasprop)
    cosine = np.sum(ref_out * kp_out, -1) / (np.linalg.norm(ref_out, axis=-1) * np.linalg.norm(kp_out, axis=-1))
    print(f"outputs agree: min cosine {cosine.min():.6f} (must be > 0.9999)")
    print(f"transformers (torch {torch.__version__}, {torch.get_num_threads()} threads): {args.images / ref_time:.2f} images/s")
    print(f"kerasprop ({backend}): {args.images / kp_time:.2f} images/s")
    print(f"peak resident memory of this process (both models): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"ratio kerasprop/transformers: {ref_time / kp_time:.2f}x (target >= 1.4x){'' if cosine.min() > 0.9999 else ' - DOES NOT COUNT: outputs disagree'}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
