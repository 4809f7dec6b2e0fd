"""Metrics of the shipped model, for its model card: the evaluator's verdicts on held-out prompts
with libldm (the converted GGUF, through the Python binding) and with the PyTorch pipeline (fp32),
the autoencoder's reconstruction PSNR with both, and the evaluator's own accuracy on real renders
of the prompts and on libldm's autoencoder reconstructions of those renders (what the LDM, which
draws in the autoencoder's latent space, can reach at best).

    python3 tools/train/measure.py --pipeline /work/runs/vpred/pipeline \
        --model models/shapes.q8_0.gguf --card models/README.md

Image i of the n held-out prompts starts from seed i in both engines (libldm draws the same
initial noise as torch.Generator().manual_seed(i)), so the two columns compare like for like.
--card rewrites the block between the card's "<!-- metrics -->" markers with the tables.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
import ldm  # noqa: E402
from data import heldout_prompts, make_batch, render_caption  # noqa: E402
from evaluate import evaluate, summarize  # noqa: E402
from sample import generate, load_components, to_uint8  # noqa: E402

ATTRIBUTES = ("count", "background", "colour", "shape", "size", "relation", "all")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over images of the per-image PSNR (dB) of uint8 pictures."""
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(1)
    return float(np.mean(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))))


@torch.no_grad()
def autoencoder_psnr(c: dict, model: ldm.Model, n: int) -> dict:
    imgs, _ = make_batch((0, 99), n, split="heldout")
    vae = c["vae"]
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
    torch_rec = to_uint8(vae.decode(vae.encode(x).latent_dist.mean).sample)
    ours = np.stack([model.decode(model.encode(im)) for im in imgs])
    return dict(n=n, torch_fp32_db=psnr(torch_rec, imgs), libldm_db=psnr(ours, imgs))


def measure(a) -> dict:
    prompts = heldout_prompts(a.n)
    renders = np.stack([render_caption(p, i)[0] for i, p in enumerate(prompts)])
    c = load_components(a.pipeline)
    latents = torch.cat([torch.randn((1, 3, 16, 16), generator=torch.Generator().manual_seed(i))
                         for i in range(a.n)])
    t0 = time.time()
    ref = generate(c, prompts, a.steps, a.guidance, latents=latents)
    t_ref = time.time() - t0
    with ldm.Model(a.model, threads=a.threads) as m:
        t0 = time.time()
        ours = np.stack([m.txt2img(p, steps=a.steps, sampler="ddim", guidance=a.guidance, seed=i)
                         for i, p in enumerate(prompts)])
        t_ours = time.time() - t0
        ae = autoencoder_psnr(c, m, a.ae_n)
        recon = np.stack([m.decode(m.encode(im)) for im in renders])
    v_ref, v_ours = _verdicts(ref, prompts), _verdicts(ours, prompts)
    diff = np.abs(ref.astype(int) - ours.astype(int))
    return dict(
        prompts=dict(n=a.n, split="held-out combinations", steps=a.steps, sampler="DDIM eta=0",
                     guidance=a.guidance, seeds=f"0..{a.n - 1}"),
        torch_fp32=dict(summarize(v_ref, prompts), seconds=round(t_ref, 1)),
        libldm=dict(summarize(v_ours, prompts), seconds=round(t_ours, 1), model=os.path.basename(a.model)),
        agreement=dict(mean_abs_diff_uint8=float(diff.mean()), psnr_libldm_vs_torch_db=psnr(ours, ref),
                       same_all_verdict=float(np.mean([r["all"] == s["all"] for r, s in zip(v_ref, v_ours)]))),
        autoencoder=ae,
        evaluator_on_renders=summarize(_verdicts(renders, prompts), prompts),
        evaluator_on_reconstructions=summarize(_verdicts(recon, prompts), prompts),
    )


def _verdicts(images, prompts):
    return [evaluate(im, p) for im, p in zip(images, prompts)]


def markdown(r: dict) -> str:
    p = r["prompts"]
    head = ("| | " + " | ".join(ATTRIBUTES) + " |\n|---|" + "---|" * len(ATTRIBUTES) + "\n")
    rows = "".join(
        f"| {name} | " + " | ".join(f"{100 * r[key][k]:.1f}" for k in ATTRIBUTES) + " |\n"
        for name, key in ((f"libldm, {r['libldm']['model']}", "libldm"), ("PyTorch fp32", "torch_fp32"),
                          ("evaluator on real renders", "evaluator_on_renders"),
                          ("evaluator on their autoencoder reconstructions (libldm)", "evaluator_on_reconstructions")))
    g = r["agreement"]
    ae = r["autoencoder"]
    return (f"{p['n']} held-out prompts, {p['steps']} {p['sampler']} steps, guidance {p['guidance']}, "
            f"seeds {p['seeds']}; percent of prompts judged right (colour, shape, size: every object of the "
            f"prompt; relation: over the two-object prompts):\n\n{head}{rows}\n"
            f"libldm and PyTorch give the same all-correct verdict on {100 * g['same_all_verdict']:.1f}% of "
            f"the prompts; their pictures differ by {g['mean_abs_diff_uint8']:.2f} grey levels on average "
            f"(PSNR {g['psnr_libldm_vs_torch_db']:.1f} dB).\n\n"
            f"Autoencoder reconstruction PSNR on {ae['n']} held-out renders: {ae['torch_fp32_db']:.2f} dB "
            f"(PyTorch fp32), {ae['libldm_db']:.2f} dB (libldm).\n")


def update_card(path: str, text: str):
    card = open(path).read()
    new, n = re.subn(r"(<!-- metrics -->\n).*?(<!-- /metrics -->)", lambda m: m[1] + text + m[2], card,
                     flags=re.S)
    if n != 1:
        raise SystemExit(f"{path}: no <!-- metrics --> ... <!-- /metrics --> block")
    open(path, "w").write(new)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True, help="the trained diffusers pipeline folder (fp32)")
    ap.add_argument("--model", required=True, help="its GGUF conversion")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--ae-n", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write all numbers here")
    ap.add_argument("--card", help="model card whose metrics block to rewrite")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    r = measure(a)
    text = markdown(r)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    if a.card:
        update_card(a.card, text)


if __name__ == "__main__":
    main()
