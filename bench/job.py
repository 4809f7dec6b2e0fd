"""One measurement's process, so its memory is its own, serving runs on request so that the
runs of several implementations can be interleaved (bench/harness.py drives it):
    python3 bench/job.py '{"job": "vae_decode", "impl": "ldm", "model": ..., "size": 256, ...}'
`model` is a Stable Diffusion pipeline folder (diffusers loads the component it needs) or, for
libldm, a GGUF of one. It prints one JSON line when loaded, then answers each line on stdin
with one: `run` runs the job once and reports its seconds (impl "flops": the diffusers job's
FLOPs, counted by torch), `save PATH` saves the last output as a numpy file. It ends with stdin.
"""
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The library `make` builds, unless the caller points elsewhere.
os.environ.setdefault("LDM_LIBRARY_PATH", os.path.join(ROOT, ".build", "release", "libldm.so"))
# Quiet loaders: the parent prints the results.
for name in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY"):
    os.environ.setdefault(name, "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

PROMPT = "a photograph of an astronaut riding a horse on the moon, highly detailed"
STEPS, GUIDANCE = 20, 7.5


LOW_MEMORY = False  # libldm's low-memory mode, from the job's arguments


def _ldm(model, threads):
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import ldm
    return ldm.Model(model, threads=threads, low_memory=LOW_MEMORY)


def _torch(threads):
    import torch
    torch.set_num_threads(threads)
    return torch


def _component(cls, model, subfolder):
    return cls.from_pretrained(model, subfolder=subfolder, low_cpu_mem_usage=False).eval()


def _pipeline(model):
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import logging
    logging.disable_progress_bar()  # loading's, which set_progress_bar_config leaves on
    pipe = StableDiffusionPipeline.from_pretrained(model, low_cpu_mem_usage=False, safety_checker=None,
                                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def vae_decode(impl, model, size, threads):
    latent = np.random.RandomState(0).standard_normal((4, size // 8, size // 8)).astype(np.float32)
    if impl == "ldm":
        m = _ldm(model, threads)
        return lambda: m.decode(latent, output="float")
    torch = _torch(threads)
    from diffusers import AutoencoderKL
    vae = _component(AutoencoderKL, model, "vae")
    z = torch.from_numpy(latent)[None] / vae.config.scaling_factor
    return lambda: vae.decode(z).sample[0].numpy()


def vae_encode(impl, model, size, threads):
    """RGB image -> scaled posterior mean."""
    image = np.random.RandomState(0).randint(0, 256, (size, size, 3), dtype=np.uint8)
    if impl == "ldm":
        m = _ldm(model, threads)
        return lambda: m.encode(image)
    torch = _torch(threads)
    from diffusers import AutoencoderKL
    vae = _component(AutoencoderKL, model, "vae")
    x = torch.from_numpy(image.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    return lambda: (vae.encode(x).latent_dist.mean * vae.config.scaling_factor)[0].numpy()


def unet_call(impl, model, size, threads):
    """One UNet call at batch 2 (classifier-free guidance) on a [4, size/8, size/8] latent with a
    77 x 768 context: a 1-step DDIM sample from seed 0's noise, as libldm runs it, so both
    return the same latent (the scheduler's step and the noise cost under a millisecond)."""
    rng = np.random.RandomState(0)
    cond, uncond = (rng.standard_normal((77, 768)).astype(np.float32) for _ in range(2))
    shape = (4, size // 8, size // 8)
    if impl == "ldm":
        m = _ldm(model, threads)
        return lambda: m.sample(cond=cond, uncond=uncond, guidance=GUIDANCE, steps=1, seed=0, latent_shape=shape)
    torch = _torch(threads)
    from diffusers import UNet2DConditionModel
    unet = _component(UNet2DConditionModel, model, "unet")
    x, t, step = _ddim_step(model, shape)
    ctx = torch.from_numpy(np.stack([uncond, cond]))

    def run():
        eps_uncond, eps_cond = unet(torch.cat([x, x]), t, encoder_hidden_states=ctx).sample.chunk(2)
        return step(eps_uncond + GUIDANCE * (eps_cond - eps_uncond))
    return run


def unet_call_noise_part(model, size):
    """What unet_call's output would be with a zero noise prediction: the output is this plus a
    hundredth of the guided prediction, so comparisons of the UNet leave this part out."""
    import torch
    x, _, step = _ddim_step(model, (4, size // 8, size // 8))
    return step(torch.zeros_like(x))


def _ddim_step(model, shape):
    """Seed 0's noise x [1, *shape], the timestep of a 1-step DDIM run and its step(noise
    prediction) -> the next latent [*shape]."""
    import torch
    from diffusers import DDIMScheduler
    scheduler = DDIMScheduler.from_pretrained(model, subfolder="scheduler")
    scheduler.set_timesteps(1)
    t = scheduler.timesteps[0]
    x = torch.randn((1,) + shape, generator=torch.Generator().manual_seed(0))
    return x, t, lambda eps: scheduler.step(eps, t, x).prev_sample[0].numpy()


def text_encoder(impl, model, size, threads):
    """One prompt through tokenizer and text encoder (77 tokens); `size` plays no part."""
    if impl == "ldm":
        m = _ldm(model, threads)
        return lambda: m.encode_prompt(PROMPT)
    _torch(threads)
    from transformers import CLIPTextModel, CLIPTokenizer
    tokenizer = CLIPTokenizer.from_pretrained(model, subfolder="tokenizer")
    encoder = _component(CLIPTextModel, model, "text_encoder")

    def run():
        ids = tokenizer(PROMPT, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        return encoder(ids)[0][0].numpy()
    return run


def txt2img(impl, model, size, threads):
    """A whole text-to-image run: DDIM, guidance 7.5, an empty negative prompt -> uint8 RGB."""
    if impl == "ldm":
        m = _ldm(model, threads)
        return lambda: m.txt2img(PROMPT, steps=STEPS, guidance=GUIDANCE, seed=0, width=size, height=size)
    torch = _torch(threads)
    pipe = _pipeline(model)

    def run():
        image = pipe(PROMPT, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=size, width=size,
                     generator=torch.Generator().manual_seed(0), output_type="np").images[0]
        return np.round(image * 255).astype(np.uint8)
    return run


JOBS = {f.__name__: f for f in (unet_call, text_encoder, vae_decode, vae_encode, txt2img)}


def reply(**fields):
    print(json.dumps(fields), flush=True)


def main():
    global LOW_MEMORY
    args = json.loads(sys.argv[1])
    LOW_MEMORY = args.get("low_memory", False)
    job, impl = JOBS[args["job"]], args["impl"]
    run = job("diffusers" if impl == "flops" else impl, args["model"], args["size"], args["threads"])
    if impl != "ldm":
        import torch
        torch.set_grad_enabled(False)
    reply(ready=True)
    out = None
    for line in sys.stdin:
        command, _, path = line.strip().partition(" ")
        if command == "run" and impl == "flops":
            from torch.utils.flop_counter import FlopCounterMode
            with FlopCounterMode(display=False) as counter:
                run()
            reply(flops=counter.get_total_flops())
        elif command == "run":
            t = time.perf_counter()
            out = run()
            reply(time=time.perf_counter() - t)
        elif command == "save":
            np.save(path, out)
            reply(saved=path)
        else:
            sys.exit(f"job.py: unknown command {line.strip()!r}")


if __name__ == "__main__":
    main()
