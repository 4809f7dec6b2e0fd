"""Text conditioning through the binding: txt2img and img2img against diffusers'
StableDiffusionPipeline, StableDiffusionImg2ImgPipeline and LDMTextToImagePipeline
(tools/fixtures/pipelines.py: same prompts, seeds, steps and guidance), the converted GGUF
pipelines, tokenize, the prompt arguments of sample(), and the C structs' layout."""
import ctypes
import shutil
import subprocess

import numpy as np
import pytest

import ldm
from conftest import FIXTURES, REPO_ROOT, read_safetensors
from ldm import _capi

SD = FIXTURES / "sd_tiny"  # StableDiffusionPipeline: CLIP, KL-f8, UNet; 64x64 native
LDM_TEXT = FIXTURES / "ldm_txt2img"  # LDMTextToImagePipeline: LDM-BERT, WordPiece, KL-f8, UNet

# The runs of tools/fixtures/pipelines.py (as Tests/LDMTests/TextPipelineTests.swift repeats them).
SD_RUNS = {
    "ddim": dict(prompt="a red circle on a blue background", negative_prompt=None, sampler="ddim", seed=11, steps=8,
                 guidance=7.5),
    "euler_a": dict(prompt="two small green squares, highly detailed!", negative_prompt="blurry, dark",
                    sampler="euler_a", seed=12, steps=8, guidance=7.5),
    "img2img": dict(prompt="a big white triangle", negative_prompt=None, sampler="ddim", seed=13, steps=10,
                    guidance=5.0, init="input64.png", strength=0.6),
}
LDM_RUNS = {
    "ddim": dict(prompt="a small yellow triangle left of a big red circle", sampler="ddim", seed=21, steps=8,
                 guidance=4.0),
    "plms": dict(prompt="a big blue square on a white background", sampler="plms", seed=22, steps=8, guidance=4.0),
}
LONG = "a red circle left of a blue square, " * 12  # 120 text tokens with this vocabulary: 2 windows


@pytest.fixture(scope="module")
def sd():
    with ldm.Model(SD) as model:
        yield model


@pytest.fixture(scope="module")
def ldm_text():
    with ldm.Model(LDM_TEXT) as model:
        yield model


def run(model, r, **extra):
    """One fixture run through txt2img or img2img."""
    args = dict(negative_prompt=r.get("negative_prompt"), steps=r["steps"], sampler=r["sampler"],
                guidance=r["guidance"], seed=r["seed"], **extra)
    if "init" in r:
        return model.img2img(ldm.read_png(FIXTURES / r["init"]), r["prompt"], strength=r["strength"], **args)
    return model.txt2img(r["prompt"], **args)


def max_diff(image, ref):
    assert image.dtype == np.uint8 and image.shape == ref.shape, (image.dtype, image.shape, ref.shape)
    return int(np.abs(image.astype(np.int16) - ref.astype(np.int16)).max())


def psnr(image, ref):
    assert image.shape == ref.shape
    mse = np.mean((image.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# ---- the C structs ----------------------------------------------------------------------------

STRUCTS = {
    "ldm_model_info_t": _capi.ldm_model_info_t, "ldm_sample_params_t": _capi.ldm_sample_params_t,
    "ldm_ctx_params_t": _capi.ldm_ctx_params_t, "ldm_encode_params_t": _capi.ldm_encode_params_t,
}


def test_struct_layout_matches_the_header(tmp_path):
    """Sizes and field offsets of the ctypes structs equal a C compiler's for include/ldm.h."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler (cc or gcc) is needed to check the structs against ldm.h"
    lines = []
    for name, struct in STRUCTS.items():
        lines.append(f'printf("{name} size %zu\\n", sizeof({name}));')
        for field, _ in struct._fields_:
            lines.append(f'printf("{name} {field} %zu\\n", offsetof({name}, {field}));')
    source = tmp_path / "layout.c"
    source.write_text("#include <ldm.h>\n#include <stdio.h>\nint main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = tmp_path / "layout"
    subprocess.run([compiler, "-std=c99", "-I", str(REPO_ROOT / "include"), "-o", str(exe), str(source)], check=True)
    expected = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    ours = []
    for name, struct in STRUCTS.items():
        ours.append(f"{name} size {ctypes.sizeof(struct)}")
        ours += [f"{name} {field} {getattr(struct, field).offset}" for field, _ in struct._fields_]
    assert ours == expected


# ---- model info --------------------------------------------------------------------------------

@pytest.mark.parametrize("path,components,text_max_length", [
    ("sd_tiny", {"autoencoder", "unet", "text_encoder", "tokenizer"}, 77),
    ("sd_tiny.f16.gguf", {"autoencoder", "unet", "text_encoder", "tokenizer"}, 77),
    ("sd_tiny.q8_0.gguf", {"autoencoder", "unet", "text_encoder", "tokenizer"}, 77),
    ("ldm_txt2img", {"autoencoder", "unet", "text_encoder", "tokenizer"}, 77),
    ("ldm_uncond", {"autoencoder", "unet"}, 0),
    ("unet_class", {"unet"}, 0),
    ("ae_kl_f8.safetensors", {"autoencoder"}, 0),
    ("cin_tiny.safetensors", {"autoencoder", "unet", "class_embedder"}, 0),
])
def test_info_of_text_models(path, components, text_max_length):
    with ldm.Model(FIXTURES / path) as model:
        info = model.info
    assert info.components == components
    assert info.text_max_length == text_max_length
    if "text_encoder" in components or "class_embedder" in components:
        assert info.context_dim > 0


# ---- against diffusers ------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SD_RUNS))
def test_stable_diffusion_matches_diffusers(sd, name):
    """uint8 images within 2 of 255 of diffusers' (the rounding of two float implementations)."""
    ref = read_safetensors(FIXTURES / "sd_tiny.ref.safetensors")[f"image_{name}"]
    d = max_diff(run(sd, SD_RUNS[name]), ref)
    print(f"sd_tiny {name}: max |ours - diffusers| = {d}")
    assert d <= 2


@pytest.mark.parametrize("name", list(LDM_RUNS))
def test_ldm_text_to_image_matches_diffusers(ldm_text, name):
    ref = read_safetensors(FIXTURES / "ldm_txt2img.ref.safetensors")[f"image_{name}"]
    d = max_diff(run(ldm_text, LDM_RUNS[name]), ref)
    print(f"ldm_txt2img {name}: max |ours - diffusers| = {d}")
    assert d <= 2


@pytest.mark.parametrize("file,floor", [("sd_tiny.f16.gguf", 40.0), ("sd_tiny.q8_0.gguf", 30.0)])
def test_converted_pipelines(file, floor):
    """ldm-convert's GGUF files, tokenizer embedded: F16 (lossless for fp16-exact weights) and Q8_0."""
    refs = read_safetensors(FIXTURES / "sd_tiny.ref.safetensors")
    with ldm.Model(FIXTURES / file) as model:
        for name, r in SD_RUNS.items():
            image = run(model, r)
            p = psnr(image, refs[f"image_{name}"])
            print(f"{file} {name}: PSNR {p:.2f} dB, max diff {max_diff(image, refs[f'image_{name}'])}")
            assert p >= floor, (name, p)


# ---- txt2img / img2img / sample arguments -----------------------------------------------------

def test_txt2img_is_sample_and_decode(sd):
    r = SD_RUNS["ddim"]
    image = sd.txt2img(r["prompt"], steps=4, seed=3)
    latent = sd.sample(prompt=r["prompt"], guidance=7.5, steps=4, seed=3)
    assert latent.shape == (4, 8, 8)
    np.testing.assert_array_equal(sd.decode(latent), image)
    np.testing.assert_array_equal(sd.generate(prompt=r["prompt"], guidance=7.5, steps=4, seed=3), image)


def test_prompt_conditions_the_sample(sd):
    """Same prompt and seed: the same latent; another prompt: another one."""
    with_prompt = sd.sample(prompt="a red circle", guidance=1.0, steps=3, seed=1)
    np.testing.assert_array_equal(sd.sample(prompt="a red circle", guidance=1.0, steps=3, seed=1), with_prompt)
    assert np.abs(with_prompt - sd.sample(prompt="a blue square", guidance=1.0, steps=3, seed=1)).max() > 1e-4


@pytest.mark.parametrize("fixture", ["sd", "ldm_text"])
def test_empty_negative_prompt_is_the_unconditional_side(request, fixture):
    """diffusers: negative_prompt None and "" are both the empty prompt (ldm_cond_uncond and
    ldm_cond_text("") must agree)."""
    model = request.getfixturevalue(fixture)
    a = model.txt2img("a red circle", negative_prompt="", steps=4, seed=2)
    np.testing.assert_array_equal(model.txt2img("a red circle", negative_prompt=None, steps=4, seed=2), a)
    assert max_diff(model.txt2img("a red circle", negative_prompt="blue", steps=4, seed=2), a) > 0


def test_guidance_one_has_no_unconditional_side(sd):
    a = sd.txt2img("a red circle", guidance=1.0, steps=4, seed=2)
    np.testing.assert_array_equal(sd.txt2img("a red circle", negative_prompt="something else", guidance=1.0,
                                             steps=4, seed=2), a)
    assert max_diff(sd.txt2img("a red circle", guidance=7.5, steps=4, seed=2), a) > 0


def test_prompt_with_raw_uncond(sd):
    """A prompt on one side, a raw context on the other."""
    zeros = np.zeros((77, sd.info.context_dim), np.float32)
    latent = sd.sample(prompt="a red circle", uncond=zeros, guidance=3.0, steps=3, seed=1)
    assert latent.shape == (4, 8, 8) and np.isfinite(latent).all()
    assert np.abs(latent - sd.sample(prompt="a red circle", guidance=3.0, steps=3, seed=1)).max() > 1e-4


def test_sizes(sd):
    assert sd.txt2img("a red circle", steps=2).shape == (64, 64, 3)  # native: sample_size 8, f8
    assert sd.txt2img("a red circle", steps=2, width=96, height=32).shape == (32, 96, 3)
    with pytest.raises(ldm.LDMError) as e:
        sd.txt2img("a red circle", steps=2, width=60, height=64)
    assert e.value.status == ldm.LDM_ERR_INVALID_ARGUMENT


def test_img2img_size_and_strength(sd):
    """init_image sets the latent size; strength runs the last int(steps * strength) steps."""
    small = ldm.read_png(FIXTURES / "input32.png")
    calls = []
    out = sd.img2img(small, "a red circle", strength=0.5, steps=10, seed=1, progress=lambda s, n: calls.append((s, n)))
    assert out.shape == small.shape
    assert calls == [(step, 5) for step in range(1, 6)]
    np.testing.assert_array_equal(
        sd.generate(prompt="a red circle", init_image=small, strength=0.5, steps=10, guidance=7.5, seed=1), out)
    assert max_diff(sd.img2img(small, "a red circle", strength=0.9, steps=10, seed=1), out) > 0
    with pytest.raises(ldm.LDMError) as e:  # a requested size other than the image's
        sd.sample(prompt="a red circle", init_image=small, width=64, height=64, steps=2)
    assert e.value.status == ldm.LDM_ERR_SHAPE
    with pytest.raises(ldm.LDMError) as e:  # sides not multiples of 8
        sd.img2img(np.zeros((36, 32, 3), np.uint8), "a red circle", steps=2)
    assert e.value.status == ldm.LDM_ERR_SHAPE


def test_progress_of_txt2img(sd):
    calls = []
    sd.txt2img("a red circle", steps=5, progress=lambda s, n: calls.append((s, n)))
    assert calls == [(step, 5) for step in range(1, 6)]
    with pytest.raises(ldm.LDMError) as e:
        sd.txt2img("a red circle", steps=5, progress=lambda s, n: s < 2)
    assert e.value.status == ldm.LDM_ERR_CANCELLED


def test_unconditional_model_with_guidance_uses_its_own_empty_side():
    """No conditioning and guidance != 1: ldm_cond_uncond gives the empty conditioning for both
    sides, so guidance changes nothing."""
    with ldm.Model(FIXTURES / "ldm_uncond") as model:
        plain = model.sample(steps=3, seed=1)
        guided = model.sample(steps=3, seed=1, guidance=5.0)
    np.testing.assert_allclose(guided, plain, rtol=0, atol=1e-5 * np.abs(plain).max())


def test_class_embedder_model_matches_reference():
    """cin_tiny (tools/fixtures/pipelines.py class_conditional): class 2, DDIM 8 steps, guidance 3,
    seed 31; the unconditional side is the model's own "no class" label (ldm_cond_uncond)."""
    ref = read_safetensors(FIXTURES / "cin_tiny.ref.safetensors")["image_class2"]
    with ldm.Model(FIXTURES / "cin_tiny.safetensors") as model:
        # a bare CompVis file without its yaml does not say its size: 8x8 latents, 32x32 pixels
        image = model.generate(class_label=2, guidance=3.0, steps=8, sampler="ddim", seed=31, width=32, height=32)
        d = max_diff(image, ref)
        print(f"cin_tiny class 2: max |ours - reference| = {d}")
        assert d <= 2
        # the "no class" label given explicitly (the last of 5) is the same unconditional side
        n = model.sample(class_label=2, uncond_class_label=4, guidance=3.0, steps=8, seed=31, latent_shape=(3, 8, 8))
        np.testing.assert_array_equal(model.sample(class_label=2, guidance=3.0, steps=8, seed=31,
                                                   latent_shape=(3, 8, 8)), n)
        with pytest.raises(ldm.LDMError) as e:
            model.sample(class_label=5, steps=2, latent_shape=(3, 8, 8))  # labels 0..4
        assert e.value.status == ldm.LDM_ERR_INVALID_ARGUMENT
        with pytest.raises(ldm.LDMError):
            model.txt2img("a red circle", steps=2)  # no text encoder


# ---- tokenize ------------------------------------------------------------------------------

def test_tokenize_short_prompt(sd):
    ids = sd.tokenize("a red circle")
    assert len(ids) == 77 and all(isinstance(i, int) for i in ids)
    empty = sd.tokenize("")
    assert len(empty) == 77
    start, end, pad = empty[0], empty[1], empty[2]
    assert ids[0] == start
    n = ids.index(end, 1)
    assert 1 < n < 76  # a few text tokens, then the end token
    assert all(i == pad for i in ids[n + 1:])
    assert start not in ids[1:n] and end not in ids[1:n]
    assert empty == [start, end] + [pad] * 75


def text_tokens(model, prompt):
    """The text tokens of a one-window prompt (between the start and end tokens)."""
    ids = model.tokenize(prompt)
    end = model.tokenize("")[1]
    assert len(ids) == 77
    return ids[1:ids.index(end, 1)]


def test_tokenize_long_prompt_is_windowed_not_cut(sd):
    start, end, pad = sd.tokenize("")[:3]
    unit = text_tokens(sd, LONG[:len(LONG) // 12].strip())
    text = unit * 12  # the same words 12 times (CLIP's BPE works word by word)
    ids = sd.tokenize(LONG)
    windows = [ids[i:i + 77] for i in range(0, len(ids), 77)]
    assert len(ids) % 77 == 0 and len(windows) == (len(text) + 74) // 75 > 1
    got = []
    for w in windows:
        assert w[0] == start
        n = w.index(end, 1)
        assert n <= 76 and all(i == pad for i in w[n + 1:])
        got += w[1:n]
    assert got == text


def test_long_prompt_samples(sd):
    """A long prompt against the one-window empty (or a short negative) prompt."""
    a = sd.txt2img(LONG, steps=3, seed=1)
    b = sd.txt2img(LONG, negative_prompt="blurry", steps=3, seed=1)
    assert a.shape == b.shape == (64, 64, 3) and max_diff(a, b) > 0


@pytest.mark.parametrize("prompt", ["a café in Zürich 😀🐱", "東京の夜景 ☃️ naïve", "🎉" * 100, "\t\n  ", "a\u200bb",
                                    "x" * 5000])
@pytest.mark.parametrize("fixture", ["sd", "ldm_text"])
def test_unusual_prompts(request, fixture, prompt):
    """Unicode, emoji (outside the tiny vocabularies), whitespace, very long words: no crash."""
    model = request.getfixturevalue(fixture)
    ids = model.tokenize(prompt)
    assert len(ids) >= 77 and len(ids) % 77 == 0
    image = model.txt2img(prompt, steps=2, seed=1)
    assert image.shape == (64, 64, 3)


def test_ldm_bert_tokenize(ldm_text):
    ids = ldm_text.tokenize("a big blue square")
    empty = ldm_text.tokenize("")
    assert len(ids) == len(empty) == 77
    assert ids[0] == empty[0] and ids[5] == empty[1]  # [CLS] 4 words [SEP], padding
    assert ids[6:] == empty[2:73]


# ---- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["ldm_uncond", "unet_class", "ae_kl_f8.safetensors"])
def test_prompt_on_a_model_without_text_encoder(path):
    with ldm.Model(FIXTURES / path) as model:
        with pytest.raises(ldm.LDMError) as e:
            model.tokenize("a red circle")
        assert e.value.status == ldm.LDM_ERR_MODEL
        with pytest.raises(ldm.LDMError):
            model.sample(prompt="a red circle", steps=2)


def test_txt2img_on_a_model_without_text_encoder():
    with ldm.Model(FIXTURES / "ldm_uncond") as model:
        with pytest.raises(ldm.LDMError) as e:
            model.txt2img("a red circle", steps=2)
        assert "text encoder" in e.value.message
        with pytest.raises(ldm.LDMError):  # the negative side too
            model.sample(negative_prompt="blurry", guidance=3.0, steps=2)
        assert model.sample(steps=2, seed=1).shape == (3, 8, 8)  # still usable


@pytest.mark.parametrize("kwargs,match", [
    ({"prompt": "a", "cond": np.zeros((77, 32), np.float32)}, "prompt or cond"),
    ({"prompt": "a", "negative_prompt": "b", "uncond": np.zeros((77, 32), np.float32), "guidance": 2.0},
     "negative_prompt or uncond"),
    ({"prompt": "a", "init_image": np.zeros((64, 64, 3), np.uint8), "init_latent": np.zeros((4, 8, 8), np.float32)},
     "init_image or init_latent"),
    ({"prompt": b"a red circle"}, "prompt must be a str"),
    ({"prompt": 5}, "prompt must be a str"),
    ({"prompt": "a", "negative_prompt": ["b"], "guidance": 2.0}, "negative_prompt must be a str"),
    ({"prompt": "a\0b"}, "NUL"),
    ({"prompt": "a\ud800b"}, "Unicode"),
    ({"prompt": "a", "init_image": np.zeros((64, 64, 3), np.float32)}, "init_image must be uint8"),
    ({"prompt": "a", "init_image": np.zeros((64, 64, 4), np.uint8)}, "init_image must be"),
])
def test_bad_text_arguments_are_refused_before_the_library(sd, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sd.sample(steps=2, **kwargs)


@pytest.mark.parametrize("call", [
    lambda m: m.txt2img(None),
    lambda m: m.txt2img(b"bytes"),
    lambda m: m.txt2img("a", negative_prompt=3),
    lambda m: m.img2img(None, "a"),
    lambda m: m.img2img(np.zeros((64, 64, 3), np.uint8), None),
    lambda m: m.img2img(np.zeros((64, 64, 3), np.uint8), "a", strength=0),
    lambda m: m.tokenize(None),
    lambda m: m.tokenize("a\0"),
])
def test_bad_txt2img_arguments(sd, call):
    with pytest.raises(ValueError):
        call(sd)


def test_text_calls_after_close():
    model = ldm.Model(SD)
    model.close()
    with pytest.raises(ValueError, match="closed"):
        model.tokenize("a")
    with pytest.raises(ValueError, match="closed"):
        model.txt2img("a", steps=2)


def test_encode_prompt_is_what_sampling_conditions_on():
    """The context of a prompt, passed back as a raw cond, gives the same sample as the prompt."""
    with ldm.Model(FIXTURES / "sd_tiny") as m:
        context = m.encode_prompt("a red circle")
        assert context.shape == (77, m.info.context_dim) and context.dtype == np.float32
        long = m.encode_prompt("a red circle left of a blue square, " * 12)
        assert long.shape[0] == 77 * (len(m.tokenize("a red circle left of a blue square, " * 12)) // 77)
        a = m.sample(prompt="a red circle", steps=3, seed=2)
        b = m.sample(cond=context, steps=3, seed=2)
        np.testing.assert_array_equal(a, b)
    with ldm.Model(FIXTURES / "ldm_uncond") as m:
        with pytest.raises(ldm.LDMError):
            m.encode_prompt("a cat")
