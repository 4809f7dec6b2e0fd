"""The command-line program build/examples/ldm (examples-c/ldm.c), run through subprocess: its
images against diffusers' (tools/fixtures/pipelines.py), encode/decode against the binding,
`info`, and bad arguments. Nothing is skipped: without the program every test fails, saying to
run `make examples` (the Makefile's test-python target builds it first)."""

import numpy as np
import pytest

import ldm
from conftest import FIXTURES, ldm_run, read_safetensors

SD = FIXTURES / "sd_tiny"
AE = FIXTURES / "ae_kl_f8.safetensors"
DDIM = ["-p", "a red circle on a blue background", "--steps", "8", "--cfg", "7.5", "--seed", "11", "--sampler", "ddim",
        "-W", "64", "-H", "64"]


def ok(cli, *args):
    rc, out, err = ldm_run(cli, *args)
    assert rc == 0, f"ldm {' '.join(map(str, args))} exited {rc}:\n{err}"
    return out, err


def reference(name):
    return read_safetensors(FIXTURES / "sd_tiny.ref.safetensors")[name]


def max_diff(image, ref):
    assert image.dtype == np.uint8 and image.shape == ref.shape, (image.dtype, image.shape, ref.shape)
    return int(np.abs(image.astype(np.int16) - ref.astype(np.int16)).max())


def psnr(image, ref):
    mse = np.mean((image.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# ---- images against diffusers -------------------------------------------------------------------

def test_txt2img_matches_diffusers(cli, tmp_path):
    """The run of StableDiffusionPipeline in tools/fixtures/pipelines.py (image_ddim); the
    progress bar and the closing line go to stderr, stdout stays empty."""
    out = tmp_path / "out.png"
    stdout, stderr = ok(cli, "txt2img", "-m", SD, *DDIM, "-o", out)
    d = max_diff(ldm.read_png(out), reference("image_ddim"))
    print(f"ldm txt2img sd_tiny ddim: max |cli - diffusers| = {d}")
    assert d <= 2
    assert stdout == ""
    assert "8/8" in stderr and "#" * 30 in stderr  # the full bar
    assert f"wrote {out} (64x64)" in stderr


def test_txt2img_quiet(cli, tmp_path):
    stdout, stderr = ok(cli, "txt2img", "-m", SD, *DDIM, "-q", "-o", tmp_path / "out.png")
    assert stdout == "" and stderr == ""
    assert max_diff(ldm.read_png(tmp_path / "out.png"), reference("image_ddim")) <= 2


def test_txt2img_negative_prompt_matches_diffusers(cli, tmp_path):
    """image_euler_a: negative prompt, Euler ancestral (noise drawn at every step from the seed)."""
    out = tmp_path / "out.png"
    ok(cli, "txt2img", "-m", SD, "-p", "two small green squares, highly detailed!", "-n", "blurry, dark", "--steps", "8",
       "--seed", "12", "--sampler", "euler_a", "-q", "-o", out)
    d = max_diff(ldm.read_png(out), reference("image_euler_a"))
    print(f"ldm txt2img sd_tiny euler_a: max |cli - diffusers| = {d}")
    assert d <= 2


def test_txt2img_converted_q8_0(cli, tmp_path):
    out = tmp_path / "out.png"
    ok(cli, "txt2img", "-m", FIXTURES / "sd_tiny.q8_0.gguf", *DDIM, "-q", "-o", out)
    p = psnr(ldm.read_png(out), reference("image_ddim"))
    print(f"ldm txt2img sd_tiny.q8_0.gguf ddim: PSNR {p:.2f} dB")
    assert p >= 30
    lean = tmp_path / "lean.png"
    ok(cli, "txt2img", "-m", FIXTURES / "sd_tiny.q8_0.gguf", *DDIM, "-q", "--low-memory", "-o", lean)
    assert np.array_equal(ldm.read_png(lean), ldm.read_png(out))


def test_img2img_matches_diffusers(cli, tmp_path):
    """image_img2img: StableDiffusionImg2ImgPipeline from input64.png, strength 0.6, 10 steps,
    guidance 5, seed 13; the progress bar counts the 6 steps run."""
    out = tmp_path / "out.png"
    stdout, stderr = ok(cli, "img2img", "-m", SD, "-i", FIXTURES / "input64.png", "-p", "a big white triangle",
                        "--strength", "0.6", "--steps", "10", "--cfg", "5", "--seed", "13", "-o", out)
    d = max_diff(ldm.read_png(out), reference("image_img2img"))
    print(f"ldm img2img sd_tiny: max |cli - diffusers| = {d}")
    assert d <= 2
    assert stdout == "" and "6/6" in stderr


def test_txt2img_agrees_with_the_binding(cli, tmp_path):
    """A long unicode prompt (two windows) through argv and through Model.txt2img."""
    prompt = "a café ☕ with a red circle left of a blue square, " * 8
    out = tmp_path / "out.png"
    ok(cli, "txt2img", "-m", SD, "-p", prompt, "-n", "blurry", "--steps", "4", "--seed", "3", "--sampler", "dpmpp_2m",
       "--threads", "2", "-q", "-o", out)
    with ldm.Model(SD, threads=2) as model:
        expected = model.txt2img(prompt, negative_prompt="blurry", steps=4, seed=3, sampler="dpmpp_2m")
    assert max_diff(ldm.read_png(out), expected) <= 1


def test_unconditional_model(cli, tmp_path):
    """No prompt on an unconditional model: guidance is off unless asked."""
    out = tmp_path / "out.png"
    ok(cli, "txt2img", "-m", FIXTURES / "ldm_uncond", "--steps", "10", "--seed", "4", "-q", "-o", out)
    expected = read_safetensors(FIXTURES / "ldm_uncond.ref.safetensors")["image_ddim"]
    assert max_diff(ldm.read_png(out), expected) <= 2


def test_class_conditional_model(cli, tmp_path):
    """cin_tiny (tools/fixtures/pipelines.py class_conditional): --class 2 with guidance 3 against
    the model's "no class" label, DDIM 8 steps, seed 31."""
    out = tmp_path / "out.png"
    ok(cli, "txt2img", "-m", FIXTURES / "cin_tiny.safetensors", "--class", "2", "--cfg", "3", "--steps", "8", "--seed",
       "31", "-W", "32", "-H", "32", "-q", "-o", out)
    d = max_diff(ldm.read_png(out), read_safetensors(FIXTURES / "cin_tiny.ref.safetensors")["image_class2"])
    print(f"ldm txt2img cin_tiny class 2: max |cli - reference| = {d}")
    assert d <= 2


# ---- encode / decode ------------------------------------------------------------------------

@pytest.mark.parametrize("sample", [False, True], ids=["mean", "sample"])
def test_encode_decode_round_trip(cli, tmp_path, sample):
    """`ldm encode` writes the .npy of Model.encode's latent; `ldm decode` of it writes the PNG
    of Model.decode (same thread count, so the same arithmetic)."""
    latent_path, png = tmp_path / "latent.npy", tmp_path / "out.png"
    ok(cli, "encode", "-m", AE, "-i", FIXTURES / "input64.png", *(["--sample", "--seed", "5"] if sample else []),
       "--threads", "2", "-o", latent_path)
    ok(cli, "decode", "-m", AE, "-i", latent_path, "--threads", "2", "-o", png)
    latent = np.load(latent_path)
    with ldm.Model(AE, threads=2) as model:
        expected = model.encode(ldm.read_png(FIXTURES / "input64.png"), sample=sample, seed=5)
        assert latent.dtype == np.float32 and latent.shape == expected.shape == (4, 8, 8)
        np.testing.assert_array_equal(latent, expected)
        np.testing.assert_array_equal(ldm.read_png(png), model.decode(expected))


def test_decode_reads_numpy_files(cli, tmp_path):
    """A latent saved by numpy itself (np.save) decodes as Model.decode does."""
    latent = np.random.default_rng(0).standard_normal((4, 4, 6)).astype(np.float32)
    np.save(tmp_path / "latent.npy", latent)
    ok(cli, "decode", "-m", AE, "-i", tmp_path / "latent.npy", "--threads", "2", "-o", tmp_path / "out.png")
    with ldm.Model(AE, threads=2) as model:
        np.testing.assert_array_equal(ldm.read_png(tmp_path / "out.png"), model.decode(latent))


# ---- info -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path,lines", [
    ("sd_tiny", ["autoencoder     KL, f8, 4 latent channels", "unet            yes, 4 -> 4 channels, predicts epsilon",
                 "native latent 8x8", "conditioning    text (context {context_dim}, 77 tokens a window)"]),
    ("sd_tiny.q8_0.gguf", ["mostly Q8_0", "conditioning    text (context {context_dim}, 77 tokens a window)"]),
    ("ldm_uncond", ["autoencoder     VQ, f4, 3 latent channels", "unet            yes, 3 -> 3 channels",
                    "conditioning    none"]),
    ("ae_kl_f8.safetensors", ["autoencoder     KL, f8, 4 latent channels, scale 0.18215", "unet            no"]),
    ("cin_tiny.safetensors", ["conditioning    class labels"]),
])
def test_info(cli, path, lines):
    stdout, stderr = ok(cli, "info", FIXTURES / path)
    with ldm.Model(FIXTURES / path) as model:
        info = model.info
    assert stdout.startswith(str(FIXTURES / path) + "\n")
    for line in lines:
        assert line.format(context_dim=info.context_dim) in stdout, stdout
    assert f"{info.n_params / 1e6:.1f} M" in stdout
    assert stderr == ""


# ---- bad arguments ----------------------------------------------------------------------------

def not_png(tmp_path):
    path = tmp_path / "not.png"
    path.write_bytes(b"GIF89a this is no PNG\n" * 10)
    return path


BAD = {  # name: (arguments, exit code, what stderr says)
    "unknown command": (lambda t: ["paint", "-m", SD, "-o", t / "o.png"], 2, "unknown command: paint"),
    "unknown sampler": (lambda t: ["txt2img", "-m", SD, "-p", "a", "--sampler", "k_lms", "-o", t / "o.png"], 2,
                        "unknown sampler: k_lms"),
    "missing -m": (lambda t: ["txt2img", "-p", "a", "-o", t / "o.png"], 2, "missing -m"),
    "missing -o": (lambda t: ["txt2img", "-m", SD, "-p", "a"], 2, "missing -m, -i or -o"),
    "img2img without -i": (lambda t: ["img2img", "-m", SD, "-p", "a", "-o", t / "o.png"], 2, "missing -m, -i or -o"),
    "missing value": (lambda t: ["txt2img", "-m", SD, "-o", t / "o.png", "--steps"], 2, "missing value after: --steps"),
    "bad number": (lambda t: ["txt2img", "-m", SD, "-p", "a", "--steps", "ten", "-o", t / "o.png"], 2,
                   "bad option or value: --steps"),
    "unknown option": (lambda t: ["txt2img", "-m", SD, "--frobnicate", "1", "-o", t / "o.png"], 2,
                       "bad option or value: --frobnicate"),
    "info without model": (lambda t: ["info"], 2, "info takes one MODEL"),
    "no command": (lambda t: [], 2, "usage: ldm COMMAND"),
    "missing model file": (lambda t: ["txt2img", "-m", t / "nope.gguf", "-p", "a", "-o", t / "o.png"], 1,
                           "file not found"),
    "info of a missing model": (lambda t: ["info", t / "nope.gguf"], 1, "file not found"),
    "garbage model file": (lambda t: ["txt2img", "-m", not_png(t), "-p", "a", "-o", t / "o.png"], 1, "ldm: "),
    "non-PNG img2img input": (lambda t: ["img2img", "-m", SD, "-i", not_png(t), "-p", "a", "-o", t / "o.png"], 1,
                              "not a readable PNG"),
    "non-PNG encode input": (lambda t: ["encode", "-m", AE, "-i", not_png(t), "-o", t / "o.npy"], 1,
                             "not a readable PNG"),
    "missing encode input": (lambda t: ["encode", "-m", AE, "-i", t / "nope.png", "-o", t / "o.npy"], 1,
                             "file not found"),
    "non-npy decode input": (lambda t: ["decode", "-m", AE, "-i", not_png(t), "-o", t / "o.png"], 1,
                             "is not a float32 C-order .npy array"),
    "prompt without text encoder": (lambda t: ["txt2img", "-m", FIXTURES / "ldm_uncond", "-p", "a", "-o", t / "o.png"],
                                    1, "has no text encoder"),
    "size not a multiple of 8": (lambda t: ["txt2img", "-m", SD, "-p", "a", "-W", "60", "-H", "64", "-q",
                                            "-o", t / "o.png"], 1, "multiples of 8"),
    "unwritable output": (lambda t: ["txt2img", "-m", SD, "-p", "a", "--steps", "2", "-q", "-o", t / "no" / "o.png"],
                          1, "cannot write"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_arguments(cli, tmp_path, name):
    """A non-zero exit (2: usage, 1: the library refused), a message on stderr, nothing on
    stdout, no crash (a signal would give a negative return code), no output file."""
    make_args, code, message = BAD[name]
    rc, stdout, stderr = ldm_run(cli, *make_args(tmp_path))
    assert rc == code, (rc, stderr)
    assert message in stderr, stderr
    assert stderr.startswith("ldm: ") or stderr.startswith("usage: ")
    assert stdout == ""
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("seed,meaning", [("1e3", 1000), ("0x10", 16), ("12.7", None),
                                          ("18446744073709551616", None)])
def test_seed_is_read_exactly(cli, tmp_path, seed, meaning):
    """A seed that is not a whole decimal number in [0, 2**64) is refused (exit 2) or, where it
    names one, means that number: never another seed silently."""
    args = ["txt2img", "-m", SD, "-p", "a red circle", "--steps", "2", "-q"]
    rc, _, stderr = ldm_run(cli, *args, "--seed", seed, "-o", tmp_path / "given.png")
    if rc == 2:
        assert "--seed" in stderr
        return
    assert rc == 0, stderr
    assert meaning is not None, f"--seed {seed} was accepted (exit 0) though it names no seed in [0, 2**64)"
    ok(cli, *args, "--seed", meaning, "-o", tmp_path / "meant.png")
    assert np.array_equal(ldm.read_png(tmp_path / "given.png"), ldm.read_png(tmp_path / "meant.png")), \
        f"--seed {seed} did not sample with seed {meaning}"


@pytest.mark.parametrize("option,value", [("--steps", "2.5"), ("-W", "64.5"), ("--class", "2.5"),
                                          ("--threads", "1.5")])
def test_integer_options_refuse_fractions(cli, tmp_path, option, value):
    """An integer option given a fraction is a usage error (exit 2), not silently truncated."""
    rc, _, stderr = ldm_run(cli, "txt2img", "-m", FIXTURES / "cin_tiny.safetensors", "--class", "2", "--steps", "2",
                            "-W", "32", "-H", "32", "-q", option, value, "-o", tmp_path / "o.png")
    assert rc == 2, f"ldm txt2img {option} {value}: exit {rc}, expected a usage error (2)\n{stderr}"
    assert f"bad option or value: {option}" in stderr


def test_help_goes_to_stdout(cli):
    rc, stdout, stderr = ldm_run(cli, "--help")
    assert rc == 0 and stdout.startswith("usage: ldm COMMAND") and stderr == ""
    for sampler in ldm.SAMPLERS:
        assert sampler in stdout
