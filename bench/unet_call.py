#!/usr/bin/env python3
"""One Stable Diffusion 1.5 UNet call at batch 2 (as with guidance), random weights, at 32x32
and 64x64 latents: diffusers fp32 vs libldm with F32, F16 and Q8_0 weights, same threads, one
run.  python3 bench/unet_call.py [--threads N] [--sizes 32 64] [--repeats 2]"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import models  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    warning = harness.check_quiet()
    if warning:
        print(warning)
    folder = models.sd15_unet()
    variants = [("diffusers", "diffusers", folder), ("libldm F32", "ldm", folder),
                ("libldm F16", "ldm", models.gguf(folder, "f16")), ("libldm Q8_0", "ldm", models.gguf(folder, "q8_0"))]
    for size in a.sizes:
        print(f"SD1.5 UNet, batch 2, latent {size}x{size}, {a.threads} threads, best of {a.repeats}:")
        base = None
        for name, impl, model in variants:
            r = harness.run(job="unet_call", impl=impl, model=model, size=size, threads=a.threads, repeats=a.repeats)
            base = base or r["best"]
            print(f"  {name:12s} {r['best']:7.2f} s  x{r['best'] / base:5.2f}   peak RSS {r['peak_rss'] / 2**20:6.0f} MB"
                  f"   peak anon {r['peak_anon'] / 2**20:6.0f} MB", flush=True)


if __name__ == "__main__":
    main()
