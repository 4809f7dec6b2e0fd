"""Own DDIM sampler for the exported pipeline, the diffusers-pipeline check, and the held-out eval.

    # held-out evaluation (writes samples.npz, grid.png, report.json under --out)
    python3 sample.py --pipeline /work/runs/vpred/pipeline --n 256 --steps 20 --guidance 5 \
        --out /work/runs/vpred/eval
    # check that LDMTextToImagePipeline.from_pretrained reproduces this sampler
    python3 sample.py --pipeline /work/runs/vpred/pipeline --check-pipeline
    # a few prompts of your own
    python3 sample.py --pipeline ... --prompt "a big red circle left of a small blue square on a gray background"
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import make_ddim_scheduler, tokenize  # noqa: E402


def load_components(pipeline_dir: str) -> dict:
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import LDMBertModel
    from transformers import BertTokenizer

    return dict(
        vae=AutoencoderKL.from_pretrained(os.path.join(pipeline_dir, "vqvae")).eval(),
        bert=LDMBertModel.from_pretrained(os.path.join(pipeline_dir, "bert")).eval(),
        tokenizer=BertTokenizer.from_pretrained(os.path.join(pipeline_dir, "tokenizer")),
        unet=UNet2DConditionModel.from_pretrained(os.path.join(pipeline_dir, "unet")).eval(),
        scheduler=DDIMScheduler.from_pretrained(os.path.join(pipeline_dir, "scheduler")),
    )


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """Decoder output in [-1,1] NCHW -> uint8 NHWC, rounded exactly like diffusers' numpy_to_pil."""
    x = (img / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).float().numpy()
    return (x * 255).round().astype(np.uint8)


@torch.no_grad()
def generate(c: dict, prompts: list[str], steps: int = 20, guidance: float = 5.0, seed: int = 0,
             batch: int = 64, eta: float = 0.0, latents: torch.Tensor | None = None) -> np.ndarray:
    """Text -> uint8 [N,64,64,3]. Chunk k of `batch` prompts draws its initial latent
    (B,3,16,16) from torch.Generator().manual_seed(seed + k), as the diffusers pipeline would
    with that generator."""
    vae, bert, tok, unet = c["vae"], c["bert"], c["tokenizer"], c["unet"]
    sched = c.get("scheduler") or make_ddim_scheduler()
    out = []
    for k in range(0, len(prompts), batch):
        p = prompts[k:k + batch]
        B = len(p)
        if latents is None:
            g = torch.Generator().manual_seed(seed + k // batch)
            lat = torch.randn((B, unet.config.in_channels, 16, 16), generator=g)
        else:
            lat = latents[k:k + batch].clone()
        cond = bert(tokenize(tok, p), return_dict=False)[0]
        if guidance != 1.0:
            unc = bert(tokenize(tok, [""] * B), return_dict=False)[0]
            ctx = torch.cat([unc, cond])
        sched.set_timesteps(steps)
        for t in sched.timesteps:
            if guidance != 1.0:
                e = unet(torch.cat([lat, lat]), t, encoder_hidden_states=ctx).sample
                eu, ec = e.chunk(2)
                e = eu + guidance * (ec - eu)
            else:
                e = unet(lat, t, encoder_hidden_states=cond).sample
            lat = sched.step(e, t, lat, eta=eta).prev_sample
        img = vae.decode(1 / vae.config.scaling_factor * lat).sample  # same expression as the pipeline
        out.append(to_uint8(img))
    return np.concatenate(out)


def grid(images: np.ndarray, cols: int = 16) -> np.ndarray:
    n = len(images)
    rows = (n + cols - 1) // cols
    g = np.zeros((rows * 64, cols * 64, 3), np.uint8)
    for i, im in enumerate(images):
        g[(i // cols) * 64:(i // cols + 1) * 64, (i % cols) * 64:(i % cols + 1) * 64] = im
    return g


def check_pipeline(pipeline_dir: str, prompts: list[str], steps: int = 20, guidance: float = 5.0,
                   seed: int = 0) -> dict:
    """Load with LDMTextToImagePipeline.from_pretrained and compare to generate()."""
    from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import LDMTextToImagePipeline

    pipe = LDMTextToImagePipeline.from_pretrained(pipeline_dir)
    pipe.set_progress_bar_config(disable=True)
    g = torch.Generator().manual_seed(seed)
    # the pipeline hardcodes latents of height // 8: height=width=128 gives our 16x16 latents
    ref = pipe(prompts, height=128, width=128, num_inference_steps=steps, guidance_scale=guidance,
               generator=g, output_type="np").images
    ref_u8 = (ref * 255).round().astype(np.uint8)
    own = generate(load_components(pipeline_dir), prompts, steps, guidance, seed=seed, batch=len(prompts))
    diff = np.abs(ref_u8.astype(int) - own.astype(int))
    return dict(n=len(prompts), shape=list(ref_u8.shape), max_abs_diff_uint8=int(diff.max()),
                mean_abs_diff_uint8=float(diff.mean()))


def run_eval(c: dict, out_dir: str | None, n: int = 256, steps: int = 20, guidance: float = 5.0,
             seed: int = 0, batch: int = 64, split: str = "heldout") -> dict:
    from data import heldout_prompts
    from evaluate import report

    prompts = heldout_prompts(n) if split == "heldout" else heldout_prompts(n, split=split)
    t0 = time.time()
    imgs = generate(c, prompts, steps, guidance, seed=seed, batch=batch)
    t_gen = time.time() - t0
    rep = report(imgs, prompts)
    rep.update(split=split, steps=steps, guidance=guidance, seed=seed, sampler="DDIM eta=0",
               gen_seconds=round(t_gen, 1))
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        np.savez_compressed(os.path.join(out_dir, "samples.npz"), images=imgs, captions=np.array(prompts))
        with open(os.path.join(out_dir, "captions.txt"), "w") as f:
            f.write("\n".join(prompts) + "\n")
        with open(os.path.join(out_dir, "report.json"), "w") as f:
            json.dump(rep, f, indent=1)
        try:
            from PIL import Image

            Image.fromarray(grid(imgs[:128])).save(os.path.join(out_dir, "grid.png"))
        except ImportError:
            pass
    return rep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--out")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--split", default="heldout", choices=["heldout", "train"],
                    help="prompts from held-out combinations (default) or training ones")
    ap.add_argument("--check-pipeline", action="store_true")
    ap.add_argument("--prompt", action="append")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.check_pipeline:
        from data import heldout_prompts

        r = check_pipeline(a.pipeline, heldout_prompts(8), a.steps, a.guidance, a.seed)
        print(json.dumps(r, indent=1))
        return
    c = load_components(a.pipeline)
    if a.prompt:
        imgs = generate(c, a.prompt, a.steps, a.guidance, a.seed)
        from PIL import Image

        os.makedirs(a.out or ".", exist_ok=True)
        for i, im in enumerate(imgs):
            Image.fromarray(im).save(os.path.join(a.out or ".", f"sample_{i:03d}.png"))
        return
    rep = run_eval(c, a.out, a.n, a.steps, a.guidance, a.seed, a.batch, a.split)
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
