#!/usr/bin/env python3
"""libldm / diffusers ratios measured in pairs: both run at the same time, one thread each,
each pinned to its own core (swapped every round), so whatever slows the machine from outside
(other virtual machines on the host, which no load average shows) slows both alike. Writes
bench/paired.md.

    python3 bench/paired.py [--sizes 256 512] [--parts unet_call vae_decode] [--weights F32 F16 Q8_0] [--rounds 2]
"""
import argparse
import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import models  # noqa: E402
from run import PARTS, _commit  # noqa: E402


def start(impl, model, part, size, cpu):
    """job.py for one implementation on one thread, pinned to `cpu`."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return harness.Job(popen=dict(env=env, preexec_fn=lambda: os.sched_setaffinity(0, {cpu})),
                       job=part, impl=impl, model=model, size=size, threads=1)


def pair(part, size, model, folder, a):
    """Per round, libldm's total time over diffusers' for the same repeats; best times."""
    ratios, best = [], [float("inf"), float("inf")]
    for r in range(a.rounds):
        ours, theirs = (0, 1) if r % 2 == 0 else (1, 0)
        jobs = start("ldm", model, part, size, ours), start("diffusers", folder, part, size, theirs)
        totals = [0.0, 0.0]
        for i in range(a.warmups + a.repeats):
            for job in jobs:
                job.send("run")
            times = [job.receive()["time"] for job in jobs]
            if i >= a.warmups:
                totals = [total + t for total, t in zip(totals, times)]
                best = [min(b, t) for b, t in zip(best, times)]
        for job in jobs:
            job.close()
        ratios.append(totals[0] / totals[1])
    return ratios, best


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--parts", nargs="+", choices=["unet_call", "vae_decode", "vae_encode", "text_encoder"],
                   default=["unet_call", "vae_decode"])
    p.add_argument("--weights", nargs="+", choices=["F32", "F16", "Q8_0"], default=["F32", "F16", "Q8_0"])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--warmups", type=int, default=1)
    p.add_argument("--out", default=os.path.join(HERE, "paired.md"))
    a = p.parse_args()
    if os.cpu_count() < 2:
        sys.exit("paired runs need two cores")
    warning = harness.check_quiet()
    if warning:
        sys.exit(warning)
    folder = models.sd15_pipeline()
    rows = []
    for size in a.sizes:
        for part in a.parts:
            for w in a.weights:
                model = folder if w == "F32" else models.gguf(folder, w.lower())
                ratios, best = pair(part, size, model, folder, a)
                mean = sum(ratios) / len(ratios)
                rows.append(f"| {PARTS[part]} | {size} px | {w} | {mean:.2f} | " + " ".join(f"{x:.2f}" for x in ratios)
                            + f" | {best[0]:.2f} s | {best[1]:.2f} s |")
                print(rows[-1], flush=True)
    command = "python3 bench/paired.py " + " ".join(sys.argv[1:])
    text = ["# Paired results", "",
            f"`{command.strip()}` on {datetime.date.today()} with the build of commit {_commit()}: libldm and diffusers "
            f"run at the same time, one thread each, pinned to different cores (swapped every round); {a.warmups} "
            f"unmeasured and {a.repeats} measured calls per round. The ratio of a round is libldm's total time over "
            "diffusers'.", "",
            "| part | size | libldm weights | mean ratio | ratio per round | libldm best | diffusers best |",
            "|---|---|---|---|---|---|---|"] + rows + [""]
    with open(a.out, "w") as f:
        f.write("\n".join(text))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
