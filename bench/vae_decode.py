#!/usr/bin/env python3
"""Stable Diffusion's VAE decoder (kl-f8, random weights) at 256x256: libldm vs diffusers on
the same weights, same thread count, in one run.  python3 bench/vae_decode.py [--threads N]"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import models  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    warning = harness.check_quiet()
    if warning:
        print(warning)
    folder = models.sd_vae()
    common = dict(job="vae_decode", model=folder, size=a.size, threads=a.threads, repeats=a.repeats)
    ref = harness.run(impl="diffusers", output=os.path.join(models.WORK, "vae_ref.npy"), **common)
    ours = harness.run(impl="ldm", output=os.path.join(models.WORK, "vae_ldm.npy"), **common)
    r, o = np.load(os.path.join(models.WORK, "vae_ref.npy")), np.load(os.path.join(models.WORK, "vae_ldm.npy"))
    err = float(np.abs(r - o).max() / np.abs(r).max())
    print(f"SD VAE decode {a.size}x{a.size}, {a.threads} threads, best of {a.repeats}:")
    for name, rep in (("diffusers", ref), ("libldm", ours)):
        print(f"  {name:9s} {rep['best']:7.2f} s   peak RSS {rep['peak_rss'] / 2**20:7.0f} MB   peak anon {rep['peak_anon'] / 2**20:7.0f} MB")
    print(f"  ratio libldm/diffusers: {ours['best'] / ref['best']:.2f}   (outputs agree to {err:.1e} relative)")


if __name__ == "__main__":
    main()
