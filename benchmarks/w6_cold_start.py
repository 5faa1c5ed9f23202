"""W6 (PERFORMANCE.md): cold start of the `kerasprop` command vs a bare `import keras_hub`.

Runs each command in a fresh process `--repeats` times and prints the median
wall time of each and their ratio. The kerasprop command vectorises one
sentence with the default offline model (all-MiniLM-L6-v2).

    python benchmarks/w6_cold_start.py [--repeats 5] [--backend jax]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

SENTENCE = "kerasprop starts quickly enough to be used from the shell."


def timed(command, env):
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", default="jax")
    args = parser.parse_args()
    env = {**os.environ, "KERAS_BACKEND": args.backend, "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    reference = [sys.executable, "-c", "import keras_hub"]
    kerasprop = [sys.executable, "-m", "kerasprop.cli", "run", "text-vectorisation", "--text", SENTENCE, "--json"]
    timed(kerasprop, env)  # warm the file cache once for both
    results = {}
    for name, command in (("import keras_hub", reference), ("kerasprop run text-vectorisation", kerasprop)):
        times = [timed(command, env) for _ in range(args.repeats)]
        results[name] = statistics.median(times)
        print(f"{name}: median {results[name]:.2f}s over {args.repeats} runs (min {min(times):.2f}s)")
    ratio = results["kerasprop run text-vectorisation"] / results["import keras_hub"]
    print(f"ratio kerasprop / bare import ({args.backend}): {ratio:.2f}x (target at most 1.5x)")


if __name__ == "__main__":
    main()
