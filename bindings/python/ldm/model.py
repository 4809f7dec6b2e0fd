"""What users touch: Model (numpy in, numpy out), SAMPLERS, LDMError, PNG I/O, version and logging.

Every input is checked here before a pointer reaches the library, every library object made
during a call is freed before the call returns, and results are copied into numpy arrays first.
"""
import ctypes
import dataclasses
import math
import os
import threading
from contextlib import contextmanager

import numpy as np

from . import _capi

_AUTOENCODER_KINDS = {_capi.LDM_AUTOENCODER_NONE: None, _capi.LDM_AUTOENCODER_KL: "kl",
                      _capi.LDM_AUTOENCODER_VQ: "vq"}
_WEIGHT_TYPES = {_capi.LDM_TYPE_F32: "f32", _capi.LDM_TYPE_F16: "f16", _capi.LDM_TYPE_BF16: "bf16",
                 _capi.LDM_TYPE_Q8_0: "q8_0"}
_PREDICTIONS = {_capi.LDM_PREDICTION_EPSILON: "epsilon", _capi.LDM_PREDICTION_SAMPLE: "sample",
                _capi.LDM_PREDICTION_V: "v_prediction"}
_COMPONENTS = {_capi.LDM_COMPONENT_AUTOENCODER: "autoencoder", _capi.LDM_COMPONENT_UNET: "unet",
               _capi.LDM_COMPONENT_TEXT_ENCODER: "text_encoder", _capi.LDM_COMPONENT_TOKENIZER: "tokenizer",
               _capi.LDM_COMPONENT_CLASS_EMBEDDER: "class_embedder"}
_SAMPLER_IDS = {"ddpm": _capi.LDM_SAMPLER_DDPM, "ddim": _capi.LDM_SAMPLER_DDIM, "plms": _capi.LDM_SAMPLER_PLMS,
                "euler": _capi.LDM_SAMPLER_EULER, "euler_a": _capi.LDM_SAMPLER_EULER_A,
                "heun": _capi.LDM_SAMPLER_HEUN, "dpmpp_2m": _capi.LDM_SAMPLER_DPMPP_2M,
                "dpmpp_2m_karras": _capi.LDM_SAMPLER_DPMPP_2M_KARRAS}
SAMPLERS = list(_SAMPLER_IDS)  # the names Model.sample accepts, each the diffusers scheduler of ldm.h
_INT32_MAX = 2**31 - 1


class LDMError(Exception):
    """A library call failed: `status` is the ldm_status_t (LDM_ERR_*), `message` its details."""

    def __init__(self, status, message):
        self.status = status
        self.message = message
        name = _capi.lib().ldm_status_str(status).decode()
        super().__init__(f"{message} ({name}, status {status})" if message else f"{name} (status {status})")


def _check(status):
    if status != _capi.LDM_OK:
        raise LDMError(status, _capi.lib().ldm_last_error().decode("utf-8", "replace"))


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """ldm_model_info_t in Python terms (enums as the strings users write)."""

    autoencoder: str | None  # "kl", "vq" or None
    latent_channels: int
    downsample_factor: int  # image side / latent side
    scale_factor: float  # latent = scale_factor * z
    weight_type: str  # "f32", "f16", "bf16" or "q8_0": the type most weights are stored in
    n_params: int
    components: frozenset  # of "autoencoder", "unet", "text_encoder", "tokenizer", "class_embedder": what it holds
    unet_in_channels: int  # latent channels + concat channels; 0 without a UNet
    unet_out_channels: int
    context_dim: int  # cross-attention width; 0: the UNet takes no context
    n_classes: int  # class labels the UNet takes; 0: none
    sample_size: int  # the native latent side; 0: not known
    prediction: str  # what the UNet predicts: "epsilon", "sample" or "v_prediction"
    text_max_length: int  # token ids per text window (77); 0: no text encoder


# ---- numpy <-> library objects ------------------------------------------------------------

def _path(path):
    return os.fsencode(os.fspath(path))


def _new_image(pixels):
    """An ldm_image_t copied from a C-contiguous uint8 array of shape [H, W, C]."""
    h, w, c = pixels.shape
    if h > _INT32_MAX or w > _INT32_MAX:
        raise ValueError(f"image of {w}x{h} pixels is too large")
    out = ctypes.POINTER(_capi.ldm_image_t)()
    data = pixels.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
    _check(_capi.lib().ldm_image_new(w, h, c, data, ctypes.byref(out)))
    return out


def _image_to_numpy(image):
    lib = _capi.lib()
    h, w, c = lib.ldm_image_height(image), lib.ldm_image_width(image), lib.ldm_image_channels(image)
    if h * w * c == 0:
        return np.zeros((h, w, c), dtype=np.uint8)
    return np.ctypeslib.as_array(lib.ldm_image_data(image), shape=(h, w, c)).copy()


def _new_tensor(array):
    """An ldm_tensor_t copied from a C-contiguous float32 array."""
    shape = (ctypes.c_int64 * array.ndim)(*array.shape)
    out = ctypes.POINTER(_capi.ldm_tensor_t)()
    data = array.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    _check(_capi.lib().ldm_tensor_new(array.ndim, shape, data, ctypes.byref(out)))
    return out


def _tensor_to_numpy(tensor):
    lib = _capi.lib()
    shape = tuple(lib.ldm_tensor_dim(tensor, axis) for axis in range(lib.ldm_tensor_ndim(tensor)))
    count = lib.ldm_tensor_count(tensor)
    if count != int(np.prod(shape)):
        raise RuntimeError(f"ldm: tensor of shape {shape} reports {count} elements")
    if count == 0:
        return np.zeros(shape, dtype=np.float32)
    return np.ctypeslib.as_array(lib.ldm_tensor_data(tensor), shape=shape).copy()


def _pixels(image, allowed_channels, name="image"):
    """`image` as a C-contiguous uint8 [H, W, C] array, C in allowed_channels ([H, W] is C=1)."""
    if image is None:
        raise ValueError(f"{name} is None")
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {a.dtype}")
    if a.ndim == 2 and 1 in allowed_channels:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in allowed_channels:
        want = " or ".join(f"HxWx{c}" for c in allowed_channels)
        raise ValueError(f"{name} must be {want}, got shape {a.shape}")
    return np.ascontiguousarray(a)


def _floats(value, name, layout):
    """`value` as a C-contiguous, finite float32 array with one dimension per name in `layout`
    (a non-finite input can only give garbage out, so it is refused early)."""
    if value is None:
        raise ValueError(f"{name} is None")
    a = np.asarray(value)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{name} must be a float array, got {a.dtype}")
    if a.ndim != len(layout):
        raise ValueError(f"{name} must be [{', '.join(layout)}], got shape {a.shape}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has NaN or infinite values")
    return a


def _latent(latent, name="latent"):
    """A latent (or concat channels) as _floats [C, h, w]."""
    return _floats(latent, name, ("C", "h", "w"))


def _prompt(value, name):
    """A prompt (str) as the NUL-terminated UTF-8 bytes the library reads; ValueError for
    other types, an embedded NUL (C would cut the prompt there) or unencodable text."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a str, got {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{name} contains a NUL character")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:  # lone surrogates
        raise ValueError(f"{name} is not valid Unicode text: {e}") from None


def _int(value, name, low, high):
    """`value` as a Python int in [low, high]; ValueError otherwise (bools are not ints here)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


def _real(value, name):
    """`value` as a finite Python float; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class _Side:
    """One side of a sample, what an ldm_cond_t holds: checked, arrays in float32. The context
    comes from `context`, or from `prompt` (UTF-8 bytes) through the model's text encoder, or,
    with `model_uncond`, the model's own unconditional side provides it (or the class)."""

    context: np.ndarray | None
    class_label: int | None
    concat: np.ndarray | None
    vector: np.ndarray | None
    prompt: bytes | None = None
    model_uncond: bool = False


def _optional(convert, value, *args):
    """convert(value, *args), or None for an argument left out."""
    return None if value is None else convert(value, *args)


def _new_cond(ctx, side, owned):
    """An ldm_cond_t holding `side` (a prompt encoded on `ctx`). It is appended to `owned` as
    soon as it exists, and so is every tensor made for it, so that the caller's finally frees
    them even when a setter fails."""
    lib = _capi.lib()
    cond = ctypes.POINTER(_capi.ldm_cond_t)()
    if side.prompt is not None:
        _check(lib.ldm_cond_text(ctx, side.prompt, ctypes.byref(cond)))
    elif side.model_uncond:
        _check(lib.ldm_cond_uncond(ctx, ctypes.byref(cond)))
    else:
        _check(lib.ldm_cond_new(ctypes.byref(cond)))
    owned.append((lib.ldm_cond_free, cond))
    for values, setter in ((side.context, lib.ldm_cond_set_context), (side.concat, lib.ldm_cond_set_concat),
                           (side.vector, lib.ldm_cond_set_vector)):
        if values is not None:
            tensor = _new_tensor(values)
            owned.append((lib.ldm_tensor_free, tensor))
            _check(setter(cond, tensor))
    if side.class_label is not None:
        _check(lib.ldm_cond_set_class(cond, side.class_label))
    return cond


def _progress_callback(fn, failure):
    """A ctypes progress function calling fn(step, n_steps). An exception must not unwind
    through the library's frames: it is stored in `failure` and the run is cancelled, so that
    the caller can re-raise it once ldm_sample has returned."""
    def call(step, n_steps, _user):
        try:
            result = fn(int(step), int(n_steps))
            return result is None or bool(result)
        except BaseException as e:  # KeyboardInterrupt too: it is re-raised after the call
            failure.append(e)
            return False

    return _capi.ldm_progress_fn(call)


# ---- the model ------------------------------------------------------------------------------

class Model:
    """A loaded model and one context to run it.

    Use it from one thread at a time (calls on one Model are serialised by a lock); cancel()
    may be called from any thread while another runs encode, decode or sample.
    """

    def __init__(self, path, threads=None, low_memory=False):
        """path: a .gguf file, a .safetensors checkpoint or a diffusers folder.
        threads: the number of CPU threads; None (or 0) uses one per online CPU.
        low_memory: drop the mapped weights' pages after every call, so resident memory holds
        only what one call uses (they are read again when next needed)."""
        self._lib = _capi.lib()  # kept so that close() still works during interpreter shutdown
        self._model = None
        self._ctx = None
        self._run_lock = threading.Lock()  # one operation at a time; close() waits for it
        self._handle_lock = threading.Lock()  # cancel() vs. close()
        if threads is None:
            threads = 0
        elif not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or not 0 <= threads <= _INT32_MAX:
            raise ValueError(f"threads must be a non-negative int or None, got {threads!r}")
        model = ctypes.POINTER(_capi.ldm_model_t)()
        _check(self._lib.ldm_model_load(_path(path), ctypes.byref(model)))
        self._model = model
        try:
            params = _capi.ldm_ctx_params_t()
            self._lib.ldm_ctx_params_init(ctypes.byref(params), ctypes.sizeof(params))
            params.n_threads = int(threads)
            params.low_memory = bool(low_memory)
            ctx = ctypes.POINTER(_capi.ldm_ctx_t)()
            _check(self._lib.ldm_ctx_new(model, ctypes.byref(params), ctypes.byref(ctx)))
            self._ctx = ctx
            self.info = self._read_info()
        except BaseException:
            self.close()
            raise

    def _read_info(self):
        raw = _capi.ldm_model_info_t(struct_size=ctypes.sizeof(_capi.ldm_model_info_t))
        _check(self._lib.ldm_model_info(self._model, ctypes.byref(raw)))
        return ModelInfo(
            autoencoder=_AUTOENCODER_KINDS.get(raw.autoencoder, raw.autoencoder),
            latent_channels=raw.latent_channels,
            downsample_factor=raw.downsample_factor,
            scale_factor=raw.scale_factor,
            weight_type=_WEIGHT_TYPES.get(raw.weight_type, raw.weight_type),
            n_params=raw.n_params,
            components=frozenset(name for bit, name in _COMPONENTS.items() if raw.components & bit),
            unet_in_channels=raw.unet_in_channels,
            unet_out_channels=raw.unet_out_channels,
            context_dim=raw.context_dim,
            n_classes=raw.n_classes,
            sample_size=raw.sample_size,
            prediction=_PREDICTIONS.get(raw.prediction, raw.prediction),
            text_max_length=raw.text_max_length,
        )

    @contextmanager
    def _running(self):
        """Holds the run lock and yields the context; ValueError once closed."""
        with self._run_lock:
            if self._ctx is None:
                raise ValueError("ldm.Model is closed")
            yield self._ctx

    def encode(self, image, sample=False, seed=0):
        """RGB uint8 [H, W, 3] (sides multiples of info.downsample_factor) -> scaled latent,
        float32 [C, H/f, W/f]. sample: KL models draw from the posterior with noise equal to
        torch.randn after manual_seed(seed) instead of taking its mean."""
        pixels = _pixels(image, (3,))
        params = _capi.ldm_encode_params_t()
        self._lib.ldm_encode_params_init(ctypes.byref(params), ctypes.sizeof(params))
        params.sample = bool(sample)
        params.seed = _int(seed, "seed", 0, 2**64 - 1)
        with self._running() as ctx:
            image_c = latent_c = None
            try:
                image_c = _new_image(pixels)
                latent_c = ctypes.POINTER(_capi.ldm_tensor_t)()
                _check(self._lib.ldm_encode(ctx, image_c, ctypes.byref(params), ctypes.byref(latent_c)))
                return _tensor_to_numpy(latent_c)
            finally:
                self._lib.ldm_tensor_free(latent_c)
                self._lib.ldm_image_free(image_c)

    def decode(self, latent, output="uint8"):
        """Scaled latent [C, h, w] -> image. output="uint8": RGB uint8 [H, W, 3];
        output="float": the decoder's raw float32 [3, H, W], nominally in [-1, 1], not clamped.
        VQ models quantise the latent to the codebook first."""
        if output not in ("uint8", "float"):
            raise ValueError(f'output must be "uint8" or "float", got {output!r}')
        values = _latent(latent)
        with self._running() as ctx:
            latent_c = result = None
            try:
                latent_c = _new_tensor(values)
                if output == "uint8":
                    result = ctypes.POINTER(_capi.ldm_image_t)()
                    _check(self._lib.ldm_decode(ctx, latent_c, ctypes.byref(result)))
                    return _image_to_numpy(result)
                result = ctypes.POINTER(_capi.ldm_tensor_t)()
                _check(self._lib.ldm_decode_float(ctx, latent_c, ctypes.byref(result)))
                return _tensor_to_numpy(result)
            finally:
                if output == "uint8":
                    self._lib.ldm_image_free(result)
                else:
                    self._lib.ldm_tensor_free(result)
                self._lib.ldm_tensor_free(latent_c)

    def tokenize(self, prompt):
        """The token ids the text encoder sees for `prompt` (str): one window of
        info.text_max_length ids (start token, up to 75 text tokens, end token, padding) per 75
        text tokens; long prompts are not cut. LDMError for models without a text encoder or
        tokenizer."""
        text = _prompt(prompt, "prompt")
        with self._running() as ctx:
            count = ctypes.c_int32()
            _check(self._lib.ldm_tokenize(ctx, text, None, 0, ctypes.byref(count)))
            n = count.value
            if n == 0:
                return []
            ids = (ctypes.c_int32 * n)()
            _check(self._lib.ldm_tokenize(ctx, text, ids, n, ctypes.byref(count)))
            if count.value != n:
                raise RuntimeError(f"ldm: the prompt gave {n} token ids, then {count.value}")
            return list(ids)

    def encode_prompt(self, prompt):
        """The context the text encoder makes of `prompt`: float32 [77 * windows, dim], what
        sample(prompt=...) conditions on; mix or weight these and pass them as `cond`."""
        text = _prompt(prompt, "prompt")
        with self._running() as ctx:
            out = ctypes.POINTER(_capi.ldm_tensor_t)()
            try:
                _check(self._lib.ldm_encode_text(ctx, text, ctypes.byref(out)))
                return _tensor_to_numpy(out)
            finally:
                self._lib.ldm_tensor_free(out)

    def sample(self, cond=None, uncond=None, class_label=None, steps=50, sampler="ddim", guidance=1.0, eta=0.0,
               seed=0, width=None, height=None, latent_shape=None, progress=None, init_latent=None, strength=0.8,
               concat=None, uncond_concat=None, vector=None, uncond_class_label=None, prompt=None,
               negative_prompt=None, init_image=None):
        """Runs the UNet's denoising loop -> scaled latent, float32 [C, h, w].

        The conditioned side: prompt (str, encoded by the model's tokenizer and text encoder, in
        windows of 75 tokens: long prompts are not cut) or cond (a raw cross-attention context,
        float [n_tokens, dim]), for models that take one; class_label (int), concat (extra input
        channels, float [C, h, w]) and vector (float [dim]) complete it where the model needs them.
        The unconditional side of classifier-free guidance, used when guidance != 1:
        negative_prompt (str) or uncond (float [n_tokens, dim]), with uncond_class_label and
        uncond_concat. Giving any of them makes that side; it takes `concat` when uncond_concat
        is None, and always the same `vector`. When none is given and guidance != 1, the model's
        own unconditional side is used (the empty prompt for text models, the "no class" class
        for class-embedding models; with `concat` and `vector` added), except after a raw
        `cond`, whose unconditional counterpart must be given as raw `uncond`.
        sampler: one of ldm.SAMPLERS; steps, eta (DDIM/DDPM noise) and seed (the noise equals
        torch.randn after manual_seed(seed)) as in diffusers.
        Size: width and height in pixels (models with an autoencoder), or latent_shape (C, h, w),
        or neither for the model's native size (or init_image's size).
        init_latent (float [C, h, w]) or init_image (RGB uint8 [H, W, 3], sides multiples of the
        autoencoder's factor, encoded as diffusers' img2img pipeline does: posterior sample and
        noise from the seed's one stream), and strength in (0, 1]: start from that latent noised
        to that fraction of the schedule (img2img) instead of pure noise.
        progress: fn(step, n_steps) called after every step; returning False cancels (LDMError
        with status LDM_ERR_CANCELLED), an exception it raises cancels and is re-raised here."""
        if not isinstance(sampler, str) or sampler not in _SAMPLER_IDS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be a callable or None, got {type(progress).__name__}")
        if prompt is not None and cond is not None:
            raise ValueError("give prompt or cond, not both")
        if negative_prompt is not None and uncond is not None:
            raise ValueError("give negative_prompt or uncond, not both")
        if init_image is not None and init_latent is not None:
            raise ValueError("give init_image or init_latent, not both")
        params = _capi.ldm_sample_params_t()
        self._lib.ldm_sample_params_init(ctypes.byref(params), ctypes.sizeof(params))
        params.sampler = _SAMPLER_IDS[sampler]
        params.steps = _int(steps, "steps", 1, _INT32_MAX)
        params.guidance = _real(guidance, "guidance")
        params.eta = _real(eta, "eta")
        params.seed = _int(seed, "seed", 0, 2**64 - 1)
        params.strength = _real(strength, "strength")
        if not 0 < params.strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength!r}")
        self._set_size(params, width, height, latent_shape)
        start = _optional(_latent, init_latent, "init_latent")
        start_pixels = _optional(_pixels, init_image, (3,), "init_image")
        shared_concat = _optional(_latent, concat, "concat")
        shared_vector = _optional(_floats, vector, "vector", ("dim",))
        positive = _Side(_optional(_floats, cond, "cond", ("n_tokens", "dim")),
                         _optional(_int, class_label, "class_label", 0, _INT32_MAX), shared_concat, shared_vector,
                         prompt=_optional(_prompt, prompt, "prompt"))
        negative_text = _optional(_prompt, negative_prompt, "negative_prompt")
        negative_context = _optional(_floats, uncond, "uncond", ("n_tokens", "dim"))
        negative_label = _optional(_int, uncond_class_label, "uncond_class_label", 0, _INT32_MAX)
        negative_concat = _optional(_latent, uncond_concat, "uncond_concat")
        guided = params.guidance != 1
        if not guided:
            negative_text = None  # guidance 1 has no unconditional side: not encoded (as in diffusers)
        # Without its context or class given, the unconditional side starts from the model's own
        # (ldm_cond_uncond), unless the conditioned side is a raw context: then it must be raw too.
        model_uncond = guided and negative_context is None and negative_text is None and negative_label is None \
            and positive.context is None
        negative = None
        if model_uncond or negative_context is not None or negative_text is not None or negative_label is not None \
                or negative_concat is not None:
            negative = _Side(negative_context, negative_label,
                             shared_concat if negative_concat is None else negative_concat, shared_vector,
                             prompt=negative_text, model_uncond=model_uncond)
        failure = []  # what the progress callback raised, re-raised once ldm_sample returns
        callback = None  # the ctypes function: referenced here until ldm_sample has returned
        if progress is not None:
            callback = _progress_callback(progress, failure)
            params.progress = callback
        with self._running() as ctx:
            owned = []  # (free function, object), freed in reverse order
            latent_c = ctypes.POINTER(_capi.ldm_tensor_t)()
            try:
                if start is not None:
                    init_c = _new_tensor(start)
                    owned.append((self._lib.ldm_tensor_free, init_c))
                    params.init_latent = init_c  # not copied by the library: freed after the call
                if start_pixels is not None:
                    image_c = _new_image(start_pixels)
                    owned.append((self._lib.ldm_image_free, image_c))
                    params.init_image = image_c  # not copied either
                cond_c = _new_cond(ctx, positive, owned)
                uncond_c = None if negative is None else _new_cond(ctx, negative, owned)
                status = self._lib.ldm_sample(ctx, ctypes.byref(params), cond_c, uncond_c, ctypes.byref(latent_c))
                if failure:
                    raise failure[0]
                _check(status)
                return _tensor_to_numpy(latent_c)
            finally:
                self._lib.ldm_tensor_free(latent_c)
                for free, obj in reversed(owned):
                    free(obj)

    def _set_size(self, params, width, height, latent_shape):
        """Fills params' pixel or latent size from sample()'s arguments (zeros: native size)."""
        if latent_shape is not None:
            if width is not None or height is not None:
                raise ValueError("give width and height or latent_shape, not both")
            if not isinstance(latent_shape, (tuple, list)) or len(latent_shape) != 3:
                raise ValueError(f"latent_shape must be (C, h, w), got {latent_shape!r}")
            c, h, w = (_int(n, "latent_shape", 1, _INT32_MAX) for n in latent_shape)
            if "unet" in self.info.components and c != self.info.unet_out_channels:
                raise ValueError(f"latent_shape has {c} channels, the UNet outputs {self.info.unet_out_channels}")
            params.latent_height, params.latent_width = h, w
        elif width is not None or height is not None:
            if width is None or height is None:
                raise ValueError("give both width and height, or neither")
            params.width = _int(width, "width", 1, _INT32_MAX)
            params.height = _int(height, "height", 1, _INT32_MAX)

    def generate(self, *args, **kwargs):
        """sample() with the same arguments (prompt, negative_prompt and init_image included),
        decoded -> RGB uint8 [H, W, 3]. Needs a model with an autoencoder (checked first, so that
        no sampling time is wasted)."""
        if "autoencoder" not in self.info.components:
            raise ValueError("this model has no autoencoder to decode with: use sample()")
        return self.decode(self.sample(*args, **kwargs))

    def txt2img(self, prompt, negative_prompt="", steps=50, sampler="ddim", guidance=7.5, seed=0, width=None,
                height=None, eta=0.0, progress=None):
        """A text-to-image model's picture of `prompt` -> RGB uint8 [H, W, 3], as diffusers'
        StableDiffusionPipeline (or LDMTextToImagePipeline) makes it with the same arguments and
        torch.Generator().manual_seed(seed). negative_prompt: the unconditional side when
        guidance != 1 ("" and None both mean the empty prompt); guidance 1 has none.
        width, height: pixels, by default the model's native size."""
        _prompt(prompt, "prompt")  # a prompt is required here: None is refused, not unconditional
        return self.generate(prompt=prompt, negative_prompt=negative_prompt, steps=steps, sampler=sampler,
                             guidance=guidance, seed=seed, width=width, height=height, eta=eta, progress=progress)

    def img2img(self, image, prompt, negative_prompt="", strength=0.8, steps=50, sampler="ddim", guidance=7.5, seed=0,
                eta=0.0, progress=None):
        """`image` (RGB uint8 [H, W, 3], sides multiples of info.downsample_factor) redrawn after
        `prompt` -> RGB uint8 of the same size, as diffusers' StableDiffusionImg2ImgPipeline does
        with the same arguments: the image is encoded, noised to `strength` (0, 1] of the
        schedule, and the last int(steps * strength) steps are run."""
        _prompt(prompt, "prompt")
        if image is None:
            raise ValueError("image is None")
        return self.generate(prompt=prompt, negative_prompt=negative_prompt, init_image=image, strength=strength,
                             steps=steps, sampler=sampler, guidance=guidance, seed=seed, eta=eta, progress=progress)

    def cancel(self):
        """Asks a running encode, decode or sample (on another thread) to stop; it raises
        LDMError with status LDM_ERR_CANCELLED soon after. Does nothing once closed, nor before
        a call starts (the library clears the request when a call begins). Takes no run lock,
        so it never waits for the call it cancels."""
        with self._handle_lock:
            if self._ctx is not None:
                self._lib.ldm_ctx_cancel(self._ctx)

    def close(self):
        """Frees the context and the model; waits for a running call. Safe to call again."""
        with self._run_lock, self._handle_lock:
            ctx, model = self._ctx, self._model
            self._ctx = self._model = None
        self._lib.ldm_ctx_free(ctx)
        self._lib.ldm_model_free(model)

    @property
    def closed(self):
        """True once close() has run."""
        return self._ctx is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_lib", None) is not None:
            self.close()


# ---- module functions -------------------------------------------------------------------------

def read_png(path):
    """Any PNG as RGB uint8 [H, W, 3]."""
    image = ctypes.POINTER(_capi.ldm_image_t)()
    try:
        _check(_capi.lib().ldm_image_read_png(_path(path), ctypes.byref(image)))
        return _image_to_numpy(image)
    finally:
        _capi.lib().ldm_image_free(image)


def write_png(path, image):
    """Writes uint8 [H, W] or [H, W, 1] (grey), [H, W, 3] (RGB) or [H, W, 4] (RGBA) as PNG."""
    pixels = _pixels(image, (1, 3, 4))
    image_c = None
    try:
        image_c = _new_image(pixels)
        _check(_capi.lib().ldm_image_write_png(image_c, _path(path)))
    finally:
        _capi.lib().ldm_image_free(image_c)


def version():
    """The version of the library actually loaded, "MAJOR.MINOR.PATCH"."""
    return _capi.lib().ldm_version_string().decode()


_log_callback = None  # the installed ctypes callback: the library holds only its address


def set_log(fn):
    """Sends the library's log messages to fn(level: int, message: str) (LDM_LOG_DEBUG ...
    LDM_LOG_ERROR); None silences them. fn may be called from any thread running a call."""
    global _log_callback
    if fn is None:
        _capi.lib().ldm_log_set(_capi.ldm_log_fn(), None)  # a NULL function pointer
        _log_callback = None
        return
    if not callable(fn):
        raise TypeError(f"set_log expects a callable or None, got {type(fn).__name__}")

    def forward(level, message, _user):
        fn(int(level), message.decode("utf-8", "replace") if message else "")

    callback = _capi.ldm_log_fn(forward)
    _capi.lib().ldm_log_set(callback, None)
    _log_callback = callback
