"""One measured job, run in its own process so its memory is its own:
    python3 bench/job.py '{"job": "vae_decode", "impl": "ldm", ...}'
Prints one JSON line: the seconds of each repeat (after one warm-up) and a checksum."""
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The library `make` builds, unless the caller points elsewhere.
os.environ.setdefault("LDM_LIBRARY_PATH", os.path.join(ROOT, ".build", "release", "libldm.so"))


PROMPT = "a photograph of an astronaut riding a horse on the moon, highly detailed"


def _ldm(model, threads):
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import ldm
    return ldm.Model(model, threads=threads)


def _pipeline(model, threads):
    import torch
    from diffusers import StableDiffusionPipeline
    torch.set_num_threads(threads)
    return StableDiffusionPipeline.from_pretrained(model, low_cpu_mem_usage=False, safety_checker=None,
                                                   requires_safety_checker=False)


def _timed(run, repeats):
    out = run()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
    return times, out


def vae_decode(impl, model, size, threads, repeats):
    latent = np.random.RandomState(0).standard_normal((4, size // 8, size // 8)).astype(np.float32)
    if impl == "diffusers":
        import torch
        from diffusers import AutoencoderKL
        torch.set_num_threads(threads)
        vae = AutoencoderKL.from_pretrained(model, low_cpu_mem_usage=False).eval()
        z = torch.from_numpy(latent)[None] / vae.config.scaling_factor

        def run():
            with torch.no_grad():
                return vae.decode(z).sample[0].numpy()
    else:
        m = _ldm(model, threads)

        def run():
            return m.decode(latent, output="float")
    return _timed(run, repeats)


def unet_call(impl, model, size, threads, repeats):
    """One UNet call at batch 2 (classifier-free guidance) on a [4, size, size] latent with
    a 77 x 768 context. libldm runs it as a 1-step DDIM sample with guidance: one UNet call."""
    rng = np.random.RandomState(0)
    x = rng.standard_normal((4, size, size)).astype(np.float32)
    cond, uncond = (rng.standard_normal((77, 768)).astype(np.float32) for _ in range(2))
    if impl == "diffusers":
        import torch
        from diffusers import UNet2DConditionModel
        torch.set_num_threads(threads)
        unet = UNet2DConditionModel.from_pretrained(model, low_cpu_mem_usage=False).eval()
        xb = torch.from_numpy(np.stack([x, x]))
        ctx = torch.from_numpy(np.stack([uncond, cond]))
        t = torch.tensor([500, 500])

        def run():
            with torch.no_grad():
                return unet(xb, t, encoder_hidden_states=ctx).sample.numpy()
    else:
        m = _ldm(model, threads)

        def run():
            return m.sample(cond=cond, uncond=uncond, guidance=7.5, steps=1, latent_shape=(4, size, size))
    return _timed(run, repeats)


def text_encoder(impl, model, threads, repeats):
    """One prompt through tokenizer and text encoder (77 tokens)."""
    if impl == "diffusers":
        import torch
        pipe = _pipeline(model, threads)

        def run():
            with torch.no_grad():
                ids = pipe.tokenizer(PROMPT, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
                return pipe.text_encoder(ids)[0][0].numpy()
    else:
        m = _ldm(model, threads)

        def run():
            return m.encode_prompt(PROMPT)
    return _timed(run, repeats)


def txt2img(impl, model, size, threads, repeats, steps=20):
    """A whole text-to-image run: DDIM, guidance 7.5, an empty negative prompt."""
    if impl == "diffusers":
        import torch
        pipe = _pipeline(model, threads)
        pipe.set_progress_bar_config(disable=True)

        def run():
            with torch.no_grad():
                return pipe(PROMPT, num_inference_steps=steps, guidance_scale=7.5, height=size, width=size,
                            generator=torch.Generator().manual_seed(0), output_type="np").images[0]
    else:
        m = _ldm(model, threads)

        def run():
            return m.txt2img(PROMPT, steps=steps, guidance=7.5, seed=0, width=size, height=size)
    return _timed(run, repeats)


def main():
    args = json.loads(sys.argv[1])
    job = {"vae_decode": vae_decode, "unet_call": unet_call, "text_encoder": text_encoder, "txt2img": txt2img}[args.pop("job")]
    out_path = args.pop("output", None)
    times, out = job(**args)
    if out_path:
        np.save(out_path, out)
    print(json.dumps({"times": times}))


if __name__ == "__main__":
    main()
