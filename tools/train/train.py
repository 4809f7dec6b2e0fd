"""One-command training recipe for the libldm toy text-to-image LDM (CPU).

    nice -n 19 python3 tools/train/train.py --out /work/runs/shapes

Stages (each skipped when its DONE marker exists; each resumes from its checkpoint; a finished
ldm stage is extended when --steps exceeds the steps it ran, its cosine learning rate then
restarting from the new total's curve, and export and eval are redone):
  1. ae       KL-f4 AutoencoderKL (64x64x3 -> 16x16x3), L1 reconstruction + 1e-6 KL
  2. latents  encode a pool of training renders once; scaling_factor = 1 / std(latents)
  3. ldm      UNet2DConditionModel + LDMBertModel trained jointly (v prediction, 10% empty
              captions for classifier-free guidance, EMA of the weights; --order-loss, 1 by
              default, weighs a training-only head asking LDM-BERT where each object of the
              caption lies)
  4. export   <out>/pipeline in LDMTextToImagePipeline.save_pretrained layout
  5. eval     held-out prompts, DDIM 20 steps, guidance 5 -> <out>/eval/report.json
Logs: <out>/train.log; timings and metrics: <out>/summary.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
import data as D  # noqa: E402


# ---------------------------------------------------------------------------- utilities
def keep_nice(level=19):
    """The box is shared: stay at nice 19 even if something reset this thread's priority."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) < level:
            os.setpriority(os.PRIO_PROCESS, 0, level)
    except (OSError, AttributeError):
        pass


class Log:
    def __init__(self, path):
        self.f = open(path, "a")

    def __call__(self, *a):
        keep_nice()
        s = time.strftime("%H:%M:%S ") + " ".join(str(x) for x in a)
        print(s, flush=True)
        self.f.write(s + "\n")
        self.f.flush()


class Threads:
    """Picks 1 or `max_threads` torch threads, re-measured all the time. On this shared 2-core box
    a second OpenMP thread is a loss whenever the other core is busy (the nice'd thread stalls
    every barrier: up to 5x slower steps); otherwise 2 threads are ~1.8x faster. Every `period`
    steps, and right after a step much slower than usual, `probe` steps run with the other
    setting; the faster recent median wins."""

    def __init__(self, max_threads, period=50, probe=2):
        self.opts = [max_threads, 1] if max_threads > 1 else [1]
        self.best, self.period, self.probe = self.opts[0], period, probe
        self.times = {o: [] for o in self.opts}
        self.cur, self.force = None, 0

    def before(self, step):
        other = [o for o in self.opts if o != self.best]
        probing = other and (self.force > 0 or step % self.period >= self.period - self.probe)
        want = other[0] if probing else self.best
        self.force = max(0, self.force - 1) if probing else self.force
        if want != self.cur:
            torch.set_num_threads(want)
            self.cur = want
        self.t0 = time.time()

    def after(self):
        dt = time.time() - self.t0
        ts = self.times[self.cur]
        if self.cur == self.best and len(ts) >= 4 and dt > 2.0 * float(np.median(ts)) and len(self.opts) > 1:
            self.force = self.probe
        ts.append(dt)
        del ts[:-10]
        med = {o: float(np.median(v[-self.probe:] if o != self.best else v[-5:])) for o, v in self.times.items() if v}
        if len(med) == len(self.opts):
            self.best = min(med, key=med.get)


def atomic_save(obj, path):
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def lr_at(step, total, base, warmup, final_frac=0.1):
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def to_tensor(imgs_u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(imgs_u8).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def summary_update(out, **kw):
    p = os.path.join(out, "summary.json")
    s = json.load(open(p)) if os.path.exists(p) else {}
    s.update(kw)
    with open(p, "w") as f:
        json.dump(s, f, indent=1)


def bf16(a):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16)


# ---------------------------------------------------------------------------- stage 1
def encode_moments(ae, x):
    """Posterior mean and logvar (fp32) of images x in [-1,1]."""
    h = ae.quant_conv(ae.encoder(x)).float()
    mean, logvar = h.chunk(2, dim=1)
    return mean, logvar.clamp(-30.0, 20.0)


@torch.no_grad()
def ae_heldout_metrics(ae, a, n=512):
    from evaluate import report

    ae.eval()
    imgs, caps = D.make_batch((a.seed, 99), n, split="heldout")
    recs = []
    for k in range(0, n, 64):
        x = to_tensor(imgs[k:k + 64])
        mean, _ = encode_moments(ae, x)
        recs.append(ae.decode(mean).sample)
    rec = torch.cat(recs)
    rec_u8 = ((rec / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    mse = ((rec_u8.astype(np.float64) - imgs.astype(np.float64)) ** 2).reshape(n, -1).mean(1)
    psnr_img = 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))
    ev = report(rec_u8, caps)
    ae.train()
    return dict(psnr_mean_db=float(psnr_img.mean()), psnr_global_db=float(10 * np.log10(255.0 ** 2 / mse.mean())),
                psnr_min_db=float(psnr_img.min()), n=n, evaluator_all_correct_on_recon=ev["all"],
                evaluator_on_recon=ev)


def train_ae(a, out, log):
    d = os.path.join(out, "ae")
    os.makedirs(d, exist_ok=True)
    ck = os.path.join(d, "ckpt.pt")
    torch.manual_seed(a.seed)
    ae = C.make_ae()
    opt = torch.optim.AdamW(ae.parameters(), lr=a.ae_lr, betas=(0.9, 0.99), weight_decay=0.0)
    step, elapsed = 0, 0.0
    if os.path.exists(ck):
        s = torch.load(ck, weights_only=False)
        ae.load_state_dict(s["model"])
        opt.load_state_dict(s["opt"])
        step, elapsed = s["step"], s["elapsed"]
        log(f"[ae] resumed at step {step} ({elapsed / 60:.1f} min done)")
    log(f"[ae] params {C.n_params(ae):,} (encoder {C.n_params(ae.encoder):,}, decoder {C.n_params(ae.decoder):,})")
    t_last, t0, acc = time.time(), time.time(), []
    thr = Threads(a.threads)
    while step < a.ae_steps:
        thr.before(step)
        lr = lr_at(step, a.ae_steps, a.ae_lr, 200)
        for g in opt.param_groups:
            g["lr"] = lr
        imgs, _ = D.make_batch((a.seed, 1, step), a.ae_batch, split="train")
        x = to_tensor(imgs)
        gen = torch.Generator().manual_seed(a.seed * 1_000_003 + step)
        with bf16(a):
            mean, logvar = encode_moments(ae, x)
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)
            rec = ae.decode(z).sample.float()
        B = x.shape[0]
        rec_loss = (rec - x).abs().sum() / B  # LDM: L1 summed over pixels, mean over batch
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum() / B
        loss = rec_loss + a.ae_kl * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.parameters(), 1e4)
        opt.step()
        thr.after()
        step += 1
        acc.append(((rec - x).abs().mean().item(), kl.item()))
        if step % a.log_every == 0 or step == a.ae_steps:
            now = time.time()
            l1, klv = np.mean(acc, 0)
            acc = []
            log(f"[ae] step {step}/{a.ae_steps} l1 {l1:.4f} kl {klv:.1f} lr {lr:.2e} "
                f"{(now - t0) / a.log_every:.3f}s/step threads {thr.best} elapsed {(elapsed + now - t_last) / 60:.1f}min")
            t0 = now
        if time.time() - t_last > a.ckpt_every or step == a.ae_steps:
            elapsed += time.time() - t_last
            t_last = time.time()
            atomic_save(dict(model=ae.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed), ck)
    m = ae_heldout_metrics(ae, a)
    log(f"[ae] held-out PSNR {m['psnr_mean_db']:.2f} dB (global {m['psnr_global_db']:.2f}, min "
        f"{m['psnr_min_db']:.2f}); evaluator all-correct on reconstructions {m['evaluator_all_correct_on_recon']:.3f}")
    ae.save_pretrained(os.path.join(d, "final"))
    summary_update(out, ae=dict(params=C.n_params(ae), encoder_params=C.n_params(ae.encoder),
                                decoder_params=C.n_params(ae.decoder), steps=a.ae_steps, batch=a.ae_batch,
                                train_minutes=round(elapsed / 60, 2), **m))
    open(os.path.join(d, "DONE"), "w").write("ok\n")


# ---------------------------------------------------------------------------- stage 2 prep
@torch.no_grad()
def cache_latents(a, out, log, tok):
    from diffusers import AutoencoderKL

    d = os.path.join(out, "latents")
    os.makedirs(d, exist_ok=True)
    t_start = time.time()
    ae = AutoencoderKL.from_pretrained(os.path.join(out, "ae", "final")).eval()
    N, chunk = a.pool, 2048
    means = np.zeros((N, 3, 16, 16), np.float16)
    stds = np.zeros((N, 3, 16, 16), np.float16)
    toks = np.zeros((N, 77), np.uint8)
    part = os.path.join(d, "partial.npz")
    start = 0
    if os.path.exists(part):
        z = np.load(part)
        start = int(z["done"])
        means[:start], stds[:start], toks[:start] = z["means"][:start], z["stds"][:start], z["toks"][:start]
        log(f"[latents] resumed at {start}")
    t_ck = time.time()
    thr = Threads(a.threads, period=6, probe=1)
    for k in range(start, N, chunk):
        thr.before(k // chunk)
        n = min(chunk, N - k)
        imgs, caps = D.make_batch((a.seed, 2), n, split="train", start=k)
        for j in range(0, n, 256):
            with bf16(a):
                mean, logvar = encode_moments(ae, to_tensor(imgs[j:j + 256]))
            means[k + j:k + j + len(mean)] = mean.numpy()
            stds[k + j:k + j + len(mean)] = torch.exp(0.5 * logvar).numpy()
        toks[k:k + n] = C.tokenize(tok, caps).numpy()
        thr.after()
        if time.time() - t_ck > a.ckpt_every:
            np.savez(part + ".tmp.npz", means=means, stds=stds, toks=toks, done=k + n)
            os.replace(part + ".tmp.npz", part)
            t_ck = time.time()
        if (k // chunk) % 10 == 0:
            log(f"[latents] {k + n}/{N}")
    # scale factor: 1 / std of posterior samples (as the LDM paper's first-batch estimate,
    # here over the whole pool)
    rng = np.random.default_rng(a.seed)
    zs = means.astype(np.float32) + stds.astype(np.float32) * rng.standard_normal(means.shape, dtype=np.float32)
    sf = float(1.0 / zs.std())
    log(f"[latents] latent mean {zs.mean():.4f} std {zs.std():.4f} -> scaling_factor {sf:.5f}; "
        f"mean posterior std {stds.astype(np.float32).mean():.4f}")
    np.save(os.path.join(d, "means.npy"), means)
    np.save(os.path.join(d, "stds.npy"), stds)
    np.save(os.path.join(d, "toks.npy"), toks)
    ae.register_to_config(scaling_factor=sf)
    ae.save_pretrained(os.path.join(out, "ae", "final"))
    if os.path.exists(part):
        os.remove(part)
    summary_update(out, latents=dict(pool=N, scaling_factor=sf, minutes=round((time.time() - t_start) / 60, 2)))
    open(os.path.join(d, "DONE"), "w").write(f"{sf}\n")


# ---------------------------------------------------------------------------- stage 3
@torch.no_grad()
def ema_update(ema_params, params, decay):
    torch._foreach_mul_(ema_params, decay)
    torch._foreach_add_(ema_params, params, alpha=1.0 - decay)


def order_labels(tok, toks: torch.Tensor) -> torch.Tensor:
    """Per-token targets of the auxiliary order loss: for the size, colour and shape tokens of
    a two-object caption, where that object lies relative to the other one (0 left, 1 right,
    2 above, 3 below); -100 (ignored) elsewhere. The layout is fixed by the caption grammar:
    [CLS] a size colour shape <relation> a size colour shape on a ..."""
    v = tok.vocab
    lab = torch.full(toks.shape, -100, dtype=torch.long)
    for rel_word, first, n_rel in (("left", 0, 2), ("right", 1, 2), ("above", 2, 1), ("below", 3, 1)):
        rows = toks[:, 5] == v[rel_word]
        lab[rows, 2:5] = first
        lab[rows, 6 + n_rel:9 + n_rel] = first ^ 1
    return lab


def train_ldm(a, out, log, tok):
    from diffusers import AutoencoderKL

    d = os.path.join(out, "ldm")
    os.makedirs(d, exist_ok=True)
    ck = os.path.join(d, "ckpt.pt")
    L = os.path.join(out, "latents")
    means = torch.from_numpy(np.load(os.path.join(L, "means.npy")))
    stds = torch.from_numpy(np.load(os.path.join(L, "stds.npy")))
    toks = torch.from_numpy(np.load(os.path.join(L, "toks.npy")).astype(np.int64))
    N = len(toks)
    ae = AutoencoderKL.from_pretrained(os.path.join(out, "ae", "final")).eval()
    sf = ae.config.scaling_factor
    empty = C.tokenize(tok, [""])[0]
    torch.manual_seed(a.seed)
    bert = C.make_bert(len(tok.vocab))
    unet = C.make_unet()
    ema_bert, ema_unet = copy.deepcopy(bert).eval(), copy.deepcopy(unet).eval()
    params = list(unet.parameters()) + list(bert.parameters())
    ema_params = list(ema_unet.parameters()) + list(ema_bert.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), weight_decay=a.wd)
    # The diffusion loss alone leaves LDM-BERT blind to which object the relation puts where
    # (probe_order.py); a linear head reading each object's token vectors must tell, so the
    # cross-attention keys carry it. The head is training-only and not exported.
    labels = order_labels(tok, toks)
    head = torch.nn.Linear(bert.config.d_model, 4)
    head_opt = torch.optim.AdamW(head.parameters(), lr=a.lr, weight_decay=0.0)
    step, elapsed, evals = 0, 0.0, []
    if os.path.exists(ck):
        s = torch.load(ck, weights_only=False)
        unet.load_state_dict(s["unet"])
        bert.load_state_dict(s["bert"])
        ema_unet.load_state_dict(s["ema_unet"])
        ema_bert.load_state_dict(s["ema_bert"])
        opt.load_state_dict(s["opt"])
        if "order_head" in s:
            head.load_state_dict(s["order_head"])
            head_opt.load_state_dict(s["order_opt"])
        step, elapsed, evals = s["step"], s["elapsed"], s.get("evals", [])
        log(f"[ldm] resumed at step {step} ({elapsed / 60:.1f} min done)")
    log(f"[ldm] unet params {C.n_params(unet):,}, bert params {C.n_params(bert):,} "
        f"(incl. unused to_logits {C.n_params(bert.to_logits):,}), pool {N}, scaling_factor {sf:.5f}")
    sched = C.make_train_scheduler()
    ac = sched.alphas_cumprod.float()
    snr = ac / (1 - ac)
    # v prediction weights the x0 error by SNR + 1, so the noisiest steps, where the layout (and
    # with it the relation words) is decided, keep their weight; eps prediction weights it by SNR
    # and the model never learned relations. min-SNR-gamma caps the weight of the clean end.
    w_t = torch.clamp(snr + 1, max=a.min_snr) / (snr + 1) if a.min_snr > 0 else torch.ones_like(snr)
    t_last, t0, acc = time.time(), time.time(), []
    unet.train()
    bert.train()
    thr = Threads(a.threads)
    while step < a.steps:
        thr.before(step)
        lr = lr_at(step, a.steps, a.lr, a.warmup)
        for g in opt.param_groups + head_opt.param_groups:
            g["lr"] = lr
        rng = np.random.default_rng([a.seed, 3, step])
        idx = torch.from_numpy(rng.integers(0, N, a.batch))
        drop = torch.from_numpy(rng.random(a.batch) < a.uncond_p)
        ids = toks[idx].clone()
        ids[drop] = empty
        gen = torch.Generator().manual_seed(a.seed * 1_000_003 + step)
        z0 = (means[idx].float() + stds[idx].float() * torch.randn((a.batch, 3, 16, 16), generator=gen)) * sf
        t = torch.randint(0, 1000, (a.batch,), generator=gen)
        noise = torch.randn(z0.shape, generator=gen)
        s_a, s_b = ac[t].sqrt().view(-1, 1, 1, 1), (1 - ac[t]).sqrt().view(-1, 1, 1, 1)
        zt = s_a * z0 + s_b * noise
        with bf16(a):
            ctx = bert(ids, return_dict=False)[0]
            pred = unet(zt, t, encoder_hidden_states=ctx).sample.float()
        per = (pred - (s_a * noise - s_b * z0)).pow(2).mean(dim=(1, 2, 3))
        loss = (w_t[t] * per).mean()
        order_loss = torch.zeros(())
        if a.order_loss > 0:
            lab = labels[idx]
            lab[drop] = -100
            order_loss = torch.nn.functional.cross_entropy(head(ctx.float()).flatten(0, 1), lab.flatten(),
                                                           reduction="sum") / (lab >= 0).sum().clamp(min=1)
            loss = loss + a.order_loss * order_loss
        opt.zero_grad(set_to_none=True)
        head_opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        if a.order_loss > 0:
            head_opt.step()
        decay = min(a.ema, (1 + step) / (10 + step))
        ema_update(ema_params, params, decay)
        thr.after()
        step += 1
        acc.append((per.mean().item(), loss.item(), float(gn), order_loss.item()))
        if step % a.log_every == 0 or step == a.steps:
            now = time.time()
            mse, wl, gnm, ol = np.mean(acc, 0)
            acc = []
            log(f"[ldm] step {step}/{a.steps} mse {mse:.4f} wloss {wl:.4f} order {ol:.3f} gnorm {gnm:.2f} lr {lr:.2e} "
                f"{(now - t0) / a.log_every:.3f}s/step threads {thr.best} elapsed {(elapsed + now - t_last) / 60:.1f}min")
            t0 = now
        if a.eval_every and (step % a.eval_every == 0) and step < a.steps:
            from sample import run_eval

            torch.set_num_threads(thr.best)
            thr.cur = thr.best
            te = time.time()
            rep = run_eval(dict(vae=ae, bert=ema_bert, tokenizer=tok, unet=ema_unet), None, n=a.eval_n,
                           steps=20, guidance=a.guidance, seed=0)
            evals.append(dict(step=step, **{k: rep[k] for k in ("count", "background", "colour", "shape",
                                                                "size", "relation", "all")}))
            log(f"[ldm] eval@{step} (EMA, {a.eval_n} held-out, 20 steps, g={a.guidance}): "
                + " ".join(f"{k} {v:.3f}" for k, v in evals[-1].items() if k != "step")
                + f" ({time.time() - te:.0f}s)")
            t0 += time.time() - te
        if time.time() - t_last > a.ckpt_every or step == a.steps:
            elapsed += time.time() - t_last
            t_last = time.time()
            atomic_save(dict(unet=unet.state_dict(), bert=bert.state_dict(), ema_unet=ema_unet.state_dict(),
                             ema_bert=ema_bert.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed,
                             evals=evals, order_head=head.state_dict(), order_opt=head_opt.state_dict()), ck)
    ema_unet.save_pretrained(os.path.join(d, "ema_unet"))
    ema_bert.save_pretrained(os.path.join(d, "ema_bert"))
    summary_update(out, ldm=dict(unet_params=C.n_params(unet), bert_params=C.n_params(bert), steps=a.steps,
                                 batch=a.batch, lr=a.lr, ema=a.ema, min_snr=a.min_snr,
                                 train_minutes=round(elapsed / 60, 2), periodic_evals=evals))
    open(os.path.join(d, "DONE"), "w").write(f"{a.steps}\n")


def ldm_steps_done(out) -> int:
    """Steps of a finished ldm stage (0 when not finished)."""
    p = os.path.join(out, "ldm", "DONE")
    return int(open(p).read()) if os.path.exists(p) else 0


# ---------------------------------------------------------------------------- export
def export(out, log, tok_dir):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import LDMBertModel, LDMTextToImagePipeline

    ae = AutoencoderKL.from_pretrained(os.path.join(out, "ae", "final"))
    unet = UNet2DConditionModel.from_pretrained(os.path.join(out, "ldm", "ema_unet"))
    bert = LDMBertModel.from_pretrained(os.path.join(out, "ldm", "ema_bert"))
    tok = C.make_tokenizer(tok_dir)
    pipe = LDMTextToImagePipeline(vqvae=ae, bert=bert, tokenizer=tok, unet=unet, scheduler=C.make_ddim_scheduler())
    p = os.path.join(out, "pipeline")
    pipe.save_pretrained(p)
    C.save_tokenizer(tok, os.path.join(p, "tokenizer"), os.path.join(tok_dir, "vocab.txt"))
    counts = dict(vqvae=C.n_params(ae), bert=C.n_params(bert), unet=C.n_params(unet))
    counts["total"] = sum(counts.values())
    log(f"[export] {p}: params {counts}")
    summary_update(out, params=counts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2,
                    help="at most this many torch threads (1 is used while it measures faster)")
    ap.add_argument("--no-bf16", dest="bf16", action="store_false",
                    help="train in fp32 (default: bf16 autocast for matmuls/convs, fp32 weights)")
    ap.add_argument("--ckpt-every", type=float, default=240.0, help="seconds between checkpoints")
    ap.add_argument("--log-every", type=int, default=50)
    # stage 1
    ap.add_argument("--ae-steps", type=int, default=2000)
    ap.add_argument("--ae-batch", type=int, default=32)
    ap.add_argument("--ae-lr", type=float, default=1e-3)
    ap.add_argument("--ae-kl", type=float, default=1e-6)
    ap.add_argument("--pool", type=int, default=100_000, help="training renders encoded for stage 2")
    # stage 2
    ap.add_argument("--steps", type=int, default=17_000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--min-snr", type=float, default=5.0, help="min-SNR-gamma cap of the v loss weight (0: plain MSE)")
    ap.add_argument("--order-loss", type=float, default=1.0,
                    help="weight of the auxiliary loss asking LDM-BERT where each object lies (0: off)")
    ap.add_argument("--uncond-p", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=2500)
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--final-eval-n", type=int, default=256)
    ap.add_argument("--skip-final-eval", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    log = Log(os.path.join(a.out, "train.log"))
    log("args", vars(a))
    tok_dir = os.path.join(a.out, "tokenizer")
    tok = C.make_tokenizer(tok_dir)
    t = time.time()
    if not os.path.exists(os.path.join(a.out, "ae", "DONE")):
        train_ae(a, a.out, log)
    if not os.path.exists(os.path.join(a.out, "latents", "DONE")):
        cache_latents(a, a.out, log, tok)
    ran_ldm = ldm_steps_done(a.out) < a.steps
    if ran_ldm:
        train_ldm(a, a.out, log, tok)
    if ran_ldm or not os.path.exists(os.path.join(a.out, "pipeline", "model_index.json")):
        export(a.out, log, tok_dir)
    log(f"training stages done (this invocation {(time.time() - t) / 60:.1f} min)")
    if not a.skip_final_eval and (ran_ldm or not os.path.exists(os.path.join(a.out, "eval", "report.json"))):
        from sample import load_components, run_eval

        rep = run_eval(load_components(os.path.join(a.out, "pipeline")), os.path.join(a.out, "eval"),
                       n=a.final_eval_n, steps=20, guidance=a.guidance, seed=0)
        log("[eval] " + json.dumps(rep))
        summary_update(a.out, eval=rep)


if __name__ == "__main__":
    main()
