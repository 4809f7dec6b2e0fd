#!/usr/bin/env python3
"""libldm against diffusers (torch CPU, fp32) on a random-weight Stable Diffusion 1.5 model,
same thread count, one run: one UNet call at batch 2, the text encoder, VAE decode and encode,
and a whole 20-step DDIM txt2img with guidance, at each image size; libldm with F32, F16 and
Q8_0 weights, and the txt2img once more with Q8_0 in low-memory mode. Prints the table and writes it to bench/results.md with a chart.

    python3 bench/run.py [--threads 2] [--sizes 256 512] [--parts ...] [--force]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import chart  # noqa: E402
import harness  # noqa: E402
import models  # noqa: E402
from job import STEPS, unet_call_noise_part  # noqa: E402

ROOT = os.path.dirname(HERE)
PARTS = {
    "unet_call": "UNet call, batch 2",
    "text_encoder": "CLIP text encoder",
    "vae_decode": "VAE decode",
    "vae_encode": "VAE encode",
    "txt2img": f"txt2img, {STEPS} DDIM steps",
}
WEIGHTS = ("F32", "F16", "Q8_0")
BUSY = 0.1  # a share of the CPUs taken by other processes that marks a result unreliable


def kernel_bench(threads):
    """The kernel bench's lines and OpenBLAS's cblas_sgemm rate in GFLOP/s."""
    exe = os.path.join(ROOT, ".build", "release", "ldm-kernel-bench")
    lines = subprocess.run([exe, str(threads)], capture_output=True, text=True, check=True).stdout.splitlines()
    sgemm = next(float(line.split()[-2]) for line in lines if line.startswith("cblas_sgemm"))
    return lines, sgemm


def flops(part, size, folder, threads, cache):
    """The part's FLOPs by torch's counter on the diffusers model (a txt2img is STEPS UNet
    calls, two text encodings and a decode), cached in bench/work/flops.json."""
    key = f"{part}@{size}"
    if key not in cache:
        if part == "txt2img":
            cache[key] = (STEPS * flops("unet_call", size, folder, threads, cache)
                          + 2 * flops("text_encoder", size, folder, threads, cache)
                          + flops("vae_decode", size, folder, threads, cache))
        else:
            cache[key] = harness.flops(job=part, model=folder, size=size, threads=threads)
    return cache[key]


def agreement(part, size, folder, ref, ours):
    """How far libldm's output is from diffusers': max pixel difference of images, else
    max |difference| relative to max |reference| (for the UNet call, to max |reference's UNet
    part|)."""
    if part == "unet_call":
        ref_unet = ref - unet_call_noise_part(folder, size)
        return f"rel. diff {np.abs(ref - ours).max() / np.abs(ref_unet).max():.1e}"
    if part == "txt2img":
        return f"max pixel diff {int(np.abs(ref.astype(int) - ours.astype(int)).max())}/255"
    return f"rel. diff {np.abs(ref - ours).max() / np.abs(ref).max():.1e}"


def measure(part, size, folder, variants, a):
    """One row per implementation: seconds, memory, and the share of other processes' CPU.
    All are loaded first, then run in turn, round after round, so that a slow spell of the
    machine (a shared host's) falls on each of them alike."""
    long = part == "txt2img"
    warmups, repeats = (0, 1) if long else (a.warmups, a.repeats)
    jobs = [(name, harness.Job(job=part, impl=impl, model=model, size=size, threads=a.threads)) for name, impl, model in variants]
    times = {name: [] for name, _ in jobs}
    for r in range(warmups + repeats):
        for name, job in jobs:
            t = job.run()["time"]
            if r >= warmups:
                times[name].append(t)
    rows, outputs = [], {}
    for name, job in jobs:
        out = os.path.join(models.WORK, f"out_{name}.npy")
        r = dict(name=name, times=times[name], best=min(times[name]), **job.close(out))
        rows.append(r)
        outputs[name] = np.load(out)
        print(f"  {name:9s} {r['best']:8.2f} s   peak RSS {r['peak_rss'] / 2**20:6.0f} MB   peak anon {r['peak_anon'] / 2**20:6.0f} MB"
              + ("   BUSY" if r["foreign"] > BUSY else ""), flush=True)
    for row in rows[1:]:
        row["agreement"] = agreement(part, size, folder, outputs["diffusers"], outputs[row["name"]])
    return rows


def measure_low_memory(size, folder, a):
    """txt2img with Q8_0 weights in libldm's low-memory mode (mapped weight pages dropped after
    each call)."""
    r = harness.run(job="txt2img", impl="ldm", model=models.gguf(folder, "q8_0"), size=size, threads=a.threads,
                    low_memory=True, repeats=1, warmups=0)
    print(f"  Q8_0 low-memory {r['best']:8.2f} s   peak RSS {r['peak_rss'] / 2**20:6.0f} MB   "
          f"peak anon {r['peak_anon'] / 2**20:6.0f} MB" + ("   BUSY" if r["foreign"] > BUSY else ""), flush=True)
    return dict(size=size, **r)


def _commit():
    """The checkout's commit, marked when the tree has changes (the library is built from it)."""
    def git(*args):
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True).stdout.strip()
    return (git("rev-parse", "--short", "HEAD") or "unknown") + (" (with local changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def markdown(results, low, a, sgemm, kernel_lines, command, chart_name):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.machine())
    out = [
        "# Benchmark results", "",
        f"`{command}` on {datetime.date.today()} with the build of commit {_commit()}: {cpu}, {os.cpu_count()} cores, {a.threads} threads for both "
        f"implementations. diffusers runs fp32 (torch {_version('torch')}, diffusers {_version('diffusers')}); libldm "
        "runs the same weights as F32 (the diffusers folder) and as F16 and Q8_0 GGUF files. Times are the best of "
        f"{a.repeats} runs after {a.warmups} unmeasured ones (txt2img: one run), the implementations taking turns run by run; ratios are libldm / diffusers. GFLOP/s is the part's "
        f"FLOPs (torch's counter on the diffusers model) over libldm's F32 time, next to OpenBLAS's `cblas_sgemm` at "
        f"{sgemm:.0f} GFLOP/s on this machine (libldm's own GEMM rate is in the kernel table below). Memory: peak RSS (VmHWM, mapped weights included) and peak "
        "anonymous memory (RssAnon sampled every 10 ms).", "",
        "| part | size | diffusers | libldm F32 | F16 | Q8_0 | F32 GFLOP/s (of sgemm) | peak RSS MB: diffusers / F32 / F16 / Q8_0 "
        "| peak anon MB: diffusers / F32 / F16 / Q8_0 | F32 output vs diffusers |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = r["rows"][0]["best"]
        times = [f"{row['best']:.2f} s" + ("" if i == 0 else f" ({row['best'] / base:.2f})") + (" busy" if row["foreign"] > BUSY else "")
                 for i, row in enumerate(r["rows"])]
        rate = r["flops"] / r["rows"][1]["best"] / 1e9
        rss = " / ".join(f"{row['peak_rss'] / 2**20:.0f}" for row in r["rows"])
        anon = " / ".join(f"{row['peak_anon'] / 2**20:.0f}" for row in r["rows"])
        out.append(f"| {PARTS[r['part']]} | {r['size']} px | " + " | ".join(times)
                   + f" | {rate:.0f} ({100 * rate / sgemm:.0f}%) | {rss} | {anon} | {r['rows'][1].get('agreement', '')} |")
    if low:
        out += ["", "libldm Q8_0 in low-memory mode (`low_memory=True`: mapped weight pages are dropped after each call):", "",
                "| part | size | time (ratio to diffusers) | peak RSS MB | peak anon MB |", "|---|---|---|---|---|"]
        for row in low:
            base = next(r["rows"][0]["best"] for r in results if r["part"] == "txt2img" and r["size"] == row["size"])
            out.append(f"| {PARTS['txt2img']} | {row['size']} px | {row['best']:.2f} s ({row['best'] / base:.2f})"
                       + (" busy" if row["foreign"] > BUSY else "")
                       + f" | {row['peak_rss'] / 2**20:.0f} | {row['peak_anon'] / 2**20:.0f} |")
    out += ["", f"![libldm / diffusers]({chart_name})", "", "Kernels (`ldm-kernel-bench`):", "", "```"] + kernel_lines + ["```", ""]
    return "\n".join(out)


def _version(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--warmups", type=int, default=2,
                   help="unmeasured runs before the repeats (both implementations reach steady speed only "
                        "after a call or two: page faults, allocator and thread-pool warm-up)")
    p.add_argument("--force", action="store_true", help="run on a busy machine (results are marked)")
    p.add_argument("--out", default=os.path.join(HERE, "results.md"))
    a = p.parse_args()
    warning = harness.check_quiet()
    if warning:
        if not a.force:
            sys.exit(warning + " (--force runs anyway)")
        print(warning)
    kernel_lines, sgemm = kernel_bench(a.threads)
    print("\n".join(kernel_lines))
    folder = models.sd15_pipeline()
    variants = [("diffusers", "diffusers", folder), ("F32", "ldm", folder)] + [
        (t, "ldm", models.gguf(folder, t.lower())) for t in WEIGHTS[1:]]
    cache_path = os.path.join(models.WORK, "flops.json")
    cache = json.load(open(cache_path)) if os.path.exists(cache_path) else {}
    results, low = [], []
    for size in a.sizes:
        for part in a.parts:
            if part == "text_encoder" and size != a.sizes[0]:
                continue  # the same 77 tokens at every image size
            n = flops(part, size, folder, a.threads, cache)
            json.dump(cache, open(cache_path, "w"))
            print(f"{PARTS[part]} at {size} px ({n / 1e9:.0f} GFLOP), {a.threads} threads:", flush=True)
            results.append(dict(part=part, size=size, flops=n, rows=measure(part, size, folder, variants, a)))
            if part == "txt2img":
                low.append(measure_low_memory(size, folder, a))
    # OpenBLAS picks its kernels from this variable (libldm's GEMMs where the CPU lacks AVX-512; torch uses MKL/oneDNN)
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    command = (f"OPENBLAS_CORETYPE={coretype} " if coretype else "") + "python3 bench/run.py " + " ".join(sys.argv[1:])
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    chart_path = os.path.splitext(a.out)[0] + ".png"
    # The text first: opening the file empties it, which git would see as a local change.
    text = markdown(results, low, a, sgemm, kernel_lines, command.strip(), os.path.basename(chart_path))
    with open(a.out, "w") as f:
        f.write(text)
    chart.draw(results, PARTS, chart_path)
    print(f"wrote {a.out} and its chart")


if __name__ == "__main__":
    main()
