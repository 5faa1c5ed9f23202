"""`kerasprop demo` from a cold process, against the two minutes issue 21 allows it on 2 cores.

Runs the README's main job (`kerasprop demo`: every task once on its bundled default) in a fresh
process `--repeats` times and prints the median wall time and its ratio to the 120-second target.

    KERAS_BACKEND=jax python benchmarks/demo_time.py [--repeats 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 120.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    command = [sys.executable, "-m", "kerasprop.cli", "demo"]
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ))
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    backend = os.environ.get("KERAS_BACKEND", "jax")
    print(f"kerasprop demo ({backend}): median {median:.1f}s over {args.repeats} runs "
          f"(min {min(times):.1f}s, max {max(times):.1f}s)")
    print(f"ratio to the {TARGET_SECONDS:.0f} s target: {median / TARGET_SECONDS:.2f}x (target at most 1.00x)")


if __name__ == "__main__":
    main()
