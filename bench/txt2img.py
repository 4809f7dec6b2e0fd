#!/usr/bin/env python3
"""Stable Diffusion 1.5's architecture with random weights: the CLIP text encoder alone, and a
whole 20-step DDIM txt2img with guidance at 256x256, diffusers fp32 vs libldm (F32 folder, F16
and Q8_0 GGUF), same threads, one run.  python3 bench/txt2img.py [--threads N] [--size 256]"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import models  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args()
    warning = harness.check_quiet()
    if warning:
        print(warning)
    folder = models.sd15_pipeline()
    variants = [("diffusers", "diffusers", folder), ("libldm F32", "ldm", folder),
                ("libldm F16", "ldm", models.gguf(folder, "f16")), ("libldm Q8_0", "ldm", models.gguf(folder, "q8_0"))]
    for job, extra, title in (("text_encoder", {}, "CLIP ViT-L/14 text encoder, one prompt"),
                              ("txt2img", {"size": a.size}, f"txt2img {a.size}x{a.size}, 20 DDIM steps, guidance 7.5")):
        print(f"{title}, {a.threads} threads, best of {max(a.repeats, 1)}:")
        base = None
        for name, impl, model in variants:
            r = harness.run(job=job, impl=impl, model=model, threads=a.threads, repeats=max(a.repeats, 1), **extra)
            base = base or r["best"]
            print(f"  {name:12s} {r['best']:8.2f} s  x{r['best'] / base:5.2f}   peak RSS {r['peak_rss'] / 2**20:6.0f} MB"
                  f"   peak anon {r['peak_anon'] / 2**20:6.0f} MB", flush=True)


if __name__ == "__main__":
    main()
