"""Sampling through the binding: the unconditional LDM pipeline against diffusers, argument
handling on tiny UNet-only models, progress callbacks and cancellation."""
import threading
import time

import numpy as np
import pytest

import ldm
from conftest import FIXTURES, read_safetensors

SD1 = FIXTURES / "unet_sd1.compvis.safetensors"  # context [n, 24], latent [4, h, w], no autoencoder
SMALL = (4, 8, 8)


@pytest.fixture(scope="module")
def sd1():
    with ldm.Model(SD1) as model:
        yield model


@pytest.fixture(scope="module")
def uncond_ldm():
    with ldm.Model(FIXTURES / "ldm_uncond") as model:
        yield model


def context(seed, dim=24, tokens=7):
    return np.random.default_rng(seed).standard_normal((tokens, dim)).astype(np.float32)


def assert_cancelled(error):
    assert error.value.status == ldm.LDM_ERR_CANCELLED, error.value


# ---- end to end ----------------------------------------------------------------------------

@pytest.mark.parametrize("sampler,seed", [("ddim", 4), ("plms", 6)])
def test_unconditional_ldm_matches_diffusers(uncond_ldm, sampler, seed):
    """LDMPipeline, 10 steps, eta 0 (tools/fixtures/pipelines.py; only deterministic samplers,
    as LDMPipeline draws per-step noise from torch's global RNG): uint8 images within 2 of 255,
    the rounding of two float implementations of the same computation."""
    expected = read_safetensors(FIXTURES / "ldm_uncond.ref.safetensors")[f"image_{sampler}"].astype(np.uint8)
    image = uncond_ldm.generate(steps=10, sampler=sampler, eta=0.0, seed=seed)
    assert image.dtype == np.uint8 and image.shape == expected.shape
    diff = int(np.abs(image.astype(np.int16) - expected).max())
    print(f"ldm_uncond {sampler}: max |ours - diffusers| = {diff}")
    assert diff <= 2


def test_eta_draws_noise(uncond_ldm):
    """eta > 0 adds noise at every DDIM step, drawn from the seed's stream."""
    noisy = uncond_ldm.sample(steps=4, eta=1.0, seed=5)
    np.testing.assert_array_equal(uncond_ldm.sample(steps=4, eta=1.0, seed=5), noisy)
    assert np.abs(noisy - uncond_ldm.sample(steps=4, eta=0.0, seed=5)).max() > 1e-3
    with pytest.raises(ldm.LDMError) as e:
        uncond_ldm.sample(steps=4, eta=1.5)
    assert e.value.status == ldm.LDM_ERR_INVALID_ARGUMENT


def test_generate_sizes_agree(uncond_ldm):
    """The native size, the same size in pixels and as a latent give one result."""
    native = uncond_ldm.sample(steps=2, seed=1)
    assert native.shape == (3, 8, 8)
    np.testing.assert_array_equal(uncond_ldm.sample(steps=2, seed=1, width=32, height=32), native)
    np.testing.assert_array_equal(uncond_ldm.sample(steps=2, seed=1, latent_shape=(3, 8, 8)), native)
    assert uncond_ldm.sample(steps=2, seed=1, width=48, height=32).shape == (3, 8, 12)
    assert uncond_ldm.generate(steps=2, seed=1, width=48, height=32).shape == (32, 48, 3)


@pytest.mark.parametrize("path,components,unet,prediction", [
    ("ldm_uncond", {"autoencoder", "unet"}, (3, 3, 0, 0, 8), "epsilon"),
    ("unet_sd1.compvis.safetensors", {"unet"}, (4, 4, 24, 0, 0), "epsilon"),
    ("unet_class", {"unet"}, (4, 4, 16, 10, 8), "epsilon"),
    ("unet_concat", {"unet"}, (6, 3, 0, 0, 8), "epsilon"),
    ("ae_vq", {"autoencoder"}, (0, 0, 0, 0, 0), "epsilon"),
])
def test_info_of_sampling_models(path, components, unet, prediction):
    with ldm.Model(FIXTURES / path) as model:
        info = model.info
    assert info.components == components
    assert (info.unet_in_channels, info.unet_out_channels, info.context_dim, info.n_classes, info.sample_size) == unet
    assert info.prediction == prediction


# ---- UNet-only models --------------------------------------------------------------------------

def test_sample_is_deterministic_per_seed(sd1):
    a = sd1.sample(context(0), latent_shape=SMALL, steps=4, seed=1)
    assert a.dtype == np.float32 and a.shape == SMALL and np.isfinite(a).all()
    np.testing.assert_array_equal(sd1.sample(context(0), latent_shape=SMALL, steps=4, seed=1), a)
    assert np.abs(sd1.sample(context(0), latent_shape=SMALL, steps=4, seed=2) - a).max() > 1e-3


def test_context_changes_the_sample(sd1):
    a = sd1.sample(context(0), latent_shape=SMALL, steps=4, seed=1)
    assert np.abs(sd1.sample(context(1), latent_shape=SMALL, steps=4, seed=1) - a).max() > 1e-4


def test_guidance(sd1):
    plain = sd1.sample(context(0), latent_shape=SMALL, steps=4, seed=1)
    # guidance 1 turns guidance off: the unconditional side is not used
    np.testing.assert_array_equal(sd1.sample(context(0), uncond=context(9), latent_shape=SMALL, steps=4, seed=1), plain)
    guided = sd1.sample(context(0), uncond=context(9), guidance=7.5, latent_shape=SMALL, steps=4, seed=1)
    assert np.isfinite(guided).all() and np.abs(guided - plain).max() > 1e-4
    # an unconditional side of another length is run apart from the conditioned one
    other = sd1.sample(context(0), uncond=context(9, tokens=3), guidance=7.5, latent_shape=SMALL, steps=4, seed=1)
    assert np.isfinite(other).all()


def test_guidance_needs_uncond(sd1):
    with pytest.raises(ldm.LDMError) as e:
        sd1.sample(context(0), guidance=7.5, latent_shape=SMALL, steps=2)
    assert e.value.status == ldm.LDM_ERR_INVALID_ARGUMENT


@pytest.mark.parametrize("cond,uncond", [(context(0, dim=23), None), (context(0), context(0, dim=32))],
                         ids=["cond", "uncond"])
def test_wrong_context_width(sd1, cond, uncond):
    with pytest.raises(ldm.LDMError) as e:
        sd1.sample(cond, uncond=uncond, guidance=1.0 if uncond is None else 2.0, latent_shape=SMALL, steps=2)
    assert e.value.status == ldm.LDM_ERR_SHAPE


def test_model_needs_its_context(sd1):
    with pytest.raises(ldm.LDMError) as e:
        sd1.sample(latent_shape=SMALL, steps=2)
    assert e.value.status == ldm.LDM_ERR_INVALID_ARGUMENT


def test_pixel_size_needs_an_autoencoder(sd1):
    with pytest.raises(ldm.LDMError) as e:
        sd1.sample(context(0), width=64, height=64, steps=2)
    assert e.value.status == ldm.LDM_ERR_INVALID_ARGUMENT


def test_native_size_unknown(sd1):
    """A bare CompVis checkpoint has no config saying its size."""
    with pytest.raises(ldm.LDMError) as e:
        sd1.sample(context(0), steps=2)
    assert e.value.status == ldm.LDM_ERR_INVALID_ARGUMENT


def test_parts_the_model_does_not_take(sd1):
    for extra in ({"class_label": 1}, {"vector": np.zeros(8, np.float32)}, {"concat": np.zeros(SMALL, np.float32)}):
        with pytest.raises(ldm.LDMError):
            sd1.sample(context(0), latent_shape=SMALL, steps=2, **extra)


def test_generate_needs_an_autoencoder(sd1):
    with pytest.raises(ValueError, match="autoencoder"):
        sd1.generate(context(0), latent_shape=SMALL, steps=2)


@pytest.mark.parametrize("sampler", ldm.SAMPLERS)
def test_every_sampler_runs(sd1, sampler):
    latent = sd1.sample(context(0), latent_shape=SMALL, steps=3, sampler=sampler, seed=3)
    assert latent.shape == SMALL and np.isfinite(latent).all()


def test_samplers_differ(sd1):
    """Each name reaches its own ldm_sampler_t (the C enum is in another order)."""
    results = [sd1.sample(context(0), latent_shape=SMALL, steps=3, sampler=s, seed=3) for s in ldm.SAMPLERS]
    for i in range(len(results)):
        for j in range(i):
            assert not np.array_equal(results[i], results[j]), (ldm.SAMPLERS[i], ldm.SAMPLERS[j])


def test_img2img(sd1):
    """strength 0.5 of 10 steps runs the last 5, as diffusers' img2img pipeline does."""
    start = np.random.default_rng(5).standard_normal(SMALL).astype(np.float32)
    calls = []
    a = sd1.sample(context(0), latent_shape=SMALL, steps=10, seed=1, init_latent=start, strength=0.5,
                   progress=lambda step, n: calls.append((step, n)))
    assert np.isfinite(a).all()
    assert calls == [(step, 5) for step in range(1, 6)]
    assert np.abs(a - sd1.sample(context(0), latent_shape=SMALL, steps=10, seed=1)).max() > 1e-4
    assert np.abs(a - sd1.sample(context(0), latent_shape=SMALL, steps=10, seed=1, init_latent=start,
                                 strength=0.9)).max() > 1e-4
    with pytest.raises(ldm.LDMError) as e:
        sd1.sample(context(0), latent_shape=SMALL, steps=10, init_latent=np.zeros((4, 8, 6), np.float32))
    assert e.value.status == ldm.LDM_ERR_SHAPE


def test_class_model_needs_a_label():
    with ldm.Model(FIXTURES / "unet_class") as model:
        cond = context(0, dim=16)
        with pytest.raises(ldm.LDMError) as e:
            model.sample(cond, steps=2)
        assert e.value.status == ldm.LDM_ERR_INVALID_ARGUMENT
        with pytest.raises(ldm.LDMError):
            model.sample(cond, class_label=10, steps=2)  # labels are 0..9
        three = model.sample(cond, class_label=3, steps=3, seed=1)
        assert three.shape == (4, 8, 8) and np.isfinite(three).all()
        assert np.abs(model.sample(cond, class_label=4, steps=3, seed=1) - three).max() > 1e-4
        with pytest.raises(ldm.LDMError):  # the unconditional side needs its label too
            model.sample(cond, uncond=cond, class_label=3, guidance=3.0, steps=3, seed=1)
        guided = model.sample(cond, uncond=cond, class_label=3, uncond_class_label=0, guidance=3.0, steps=3, seed=1)
        assert np.isfinite(guided).all() and np.abs(guided - three).max() > 1e-4


def test_concat_model():
    """unet_concat: 3 latent channels and 3 concat channels, no context."""
    with ldm.Model(FIXTURES / "unet_concat") as model:
        low = np.random.default_rng(2).standard_normal((3, 8, 8)).astype(np.float32)
        with pytest.raises(ldm.LDMError):
            model.sample(steps=2)
        with pytest.raises(ldm.LDMError) as e:
            model.sample(concat=low[:, :4], steps=2)
        assert e.value.status == ldm.LDM_ERR_SHAPE
        a = model.sample(concat=low, steps=3, seed=1)
        assert a.shape == (3, 8, 8) and np.isfinite(a).all()
        guided = model.sample(concat=low, uncond_concat=np.zeros_like(low), guidance=2.0, steps=3, seed=1)
        assert np.isfinite(guided).all() and np.abs(guided - a).max() > 1e-4


@pytest.mark.parametrize("kwargs", [
    {"sampler": "k_lms"}, {"sampler": None}, {"steps": 0}, {"steps": 2.0}, {"steps": 2**31}, {"seed": -1},
    {"seed": 2**64}, {"guidance": float("nan")}, {"guidance": "7"}, {"eta": float("inf")}, {"strength": 0.0},
    {"strength": 1.5}, {"latent_shape": (3, 8, 8)}, {"latent_shape": (8, 8)}, {"latent_shape": (4, 0, 8)},
    {"width": 64}, {"latent_shape": SMALL, "width": 64, "height": 64}, {"cond": np.zeros((1, 7, 24), np.float32)},
    {"cond": np.zeros((7, 24), np.int32)}, {"cond": np.full((7, 24), np.nan, np.float32)},
    {"uncond": np.zeros(24, np.float32)}, {"class_label": -1}, {"class_label": 1.0}, {"uncond_class_label": True},
    {"concat": np.zeros((8, 8), np.float32)}, {"vector": np.zeros((1, 8), np.float32)},
    {"init_latent": np.zeros((1, 4, 8, 8), np.float32)},
])
def test_bad_arguments_are_refused_before_the_library(sd1, kwargs):
    args = {"cond": context(0), "latent_shape": SMALL, "steps": 2, **kwargs}
    if "width" in kwargs and "latent_shape" not in kwargs:
        del args["latent_shape"]
    with pytest.raises(ValueError):
        sd1.sample(**args)


def test_progress_must_be_callable(sd1):
    with pytest.raises(TypeError):
        sd1.sample(context(0), latent_shape=SMALL, steps=2, progress="print")


def test_sample_after_close():
    model = ldm.Model(SD1)
    model.close()
    with pytest.raises(ValueError, match="closed"):
        model.sample(context(0), latent_shape=SMALL, steps=2)


# ---- progress and cancellation ---------------------------------------------------------------

@pytest.mark.parametrize("sampler", ["ddim", "plms", "heun"])
def test_progress_sees_every_step_in_order(sd1, sampler):
    """One call per step, also for samplers with more model calls than steps."""
    calls = []
    plain = sd1.sample(context(0), latent_shape=SMALL, steps=6, sampler=sampler, seed=1)
    watched = sd1.sample(context(0), latent_shape=SMALL, steps=6, sampler=sampler, seed=1,
                         progress=lambda step, n: calls.append((step, n)))
    assert calls == [(step, 6) for step in range(1, 7)]
    np.testing.assert_array_equal(watched, plain)


def test_progress_returning_false_cancels(sd1):
    calls = []

    def progress(step, n):
        calls.append(step)
        return step < 3

    with pytest.raises(ldm.LDMError) as e:
        sd1.sample(context(0), latent_shape=SMALL, steps=10, progress=progress)
    assert_cancelled(e)
    assert calls == [1, 2, 3]
    # returning True (or None, as above) goes on; the model still works after a cancel
    assert np.isfinite(sd1.sample(context(0), latent_shape=SMALL, steps=3, progress=lambda s, n: True)).all()


class Boom(Exception):
    pass


def test_exception_in_progress_propagates(sd1):
    calls = []

    def progress(step, n):
        calls.append(step)
        if step == 2:
            raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        sd1.sample(context(0), latent_shape=SMALL, steps=10, progress=progress)
    assert calls == [1, 2]
    assert np.isfinite(sd1.sample(context(0), latent_shape=SMALL, steps=3, seed=1)).all()


def test_cancel_from_another_thread(sd1):
    """cancel() during a long sample (200 steps on a 64x64 latent): the run lock held by
    sample() must not block it, and the run stops within about one step."""
    before = sd1.sample(context(0), latent_shape=SMALL, steps=3, seed=1)
    running = threading.Event()
    times = {}

    def progress(step, n):
        times.setdefault("first step", time.monotonic())
        running.set()

    def cancel():
        if running.wait(300):
            times["cancel"] = time.monotonic()
            sd1.cancel()

    canceller = threading.Thread(target=cancel)
    canceller.start()
    start = time.monotonic()
    try:
        with pytest.raises(ldm.LDMError) as e:
            sd1.sample(context(0), latent_shape=(4, 64, 64), steps=200, progress=progress)
    finally:
        running.set()  # never leave the thread waiting
        canceller.join()
    end = time.monotonic()
    assert_cancelled(e)
    step = times["first step"] - start  # an upper bound of one step, setup included
    assert end - times["cancel"] < 2 * step + 1.0, (end - times["cancel"], step)
    np.testing.assert_array_equal(sd1.sample(context(0), latent_shape=SMALL, steps=3, seed=1), before)
