#!/usr/bin/env python3
"""libldm / diffusers ratios measured in pairs: both run at the same time, one thread each,
each pinned to its own core (swapped every round), so whatever slows the machine from outside
(other virtual machines on the host, which no load average shows) slows both alike. Writes
bench/paired.md.

    python3 bench/paired.py [--sizes 256 512] [--parts unet_call vae_decode] [--weights F32 F16 Q8_0] [--rounds 2]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import models  # noqa: E402
from run import PARTS, _commit  # noqa: E402


def start(impl, model, part, size, cpu, a):
    """job.py for one implementation on one thread, pinned to `cpu`."""
    args = json.dumps(dict(job=part, impl=impl, model=model, size=size, threads=1, warmups=a.warmups, repeats=a.repeats))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, os.path.join(HERE, "job.py"), args], stdout=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))


def times(p):
    out, _ = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"bench job failed ({p.returncode})")
    return json.loads(out.strip().splitlines()[-1])["times"]


def pair(part, size, model, folder, a):
    """Per round, libldm's total time over diffusers' for the same repeats; best times."""
    ratios, best = [], [float("inf"), float("inf")]
    for r in range(a.rounds):
        ours, theirs = (0, 1) if r % 2 == 0 else (1, 0)
        p_ours = start("ldm", model, part, size, ours, a)
        p_theirs = start("diffusers", folder, part, size, theirs, a)
        t_ours, t_theirs = times(p_ours), times(p_theirs)
        ratios.append(sum(t_ours) / sum(t_theirs))
        best = [min(best[0], *t_ours), min(best[1], *t_theirs)]
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
