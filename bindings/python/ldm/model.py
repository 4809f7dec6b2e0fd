"""What users touch: Model (numpy in, numpy out), LDMError, PNG I/O, version and logging.

Every input is checked here before a pointer reaches the library, every library object made
during a call is freed before the call returns, and results are copied into numpy arrays first.
"""
import ctypes
import dataclasses
import os
import threading
from contextlib import contextmanager

import numpy as np

from . import _capi

_AUTOENCODER_KINDS = {_capi.LDM_AUTOENCODER_NONE: None, _capi.LDM_AUTOENCODER_KL: "kl",
                      _capi.LDM_AUTOENCODER_VQ: "vq"}
_WEIGHT_TYPES = {_capi.LDM_TYPE_F32: "f32", _capi.LDM_TYPE_F16: "f16", _capi.LDM_TYPE_BF16: "bf16",
                 _capi.LDM_TYPE_Q8_0: "q8_0"}
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


def _pixels(image, allowed_channels):
    """`image` as a C-contiguous uint8 [H, W, C] array, C in allowed_channels ([H, W] is C=1)."""
    if image is None:
        raise ValueError("image is None")
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {a.dtype}")
    if a.ndim == 2 and 1 in allowed_channels:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in allowed_channels:
        want = " or ".join(f"HxWx{c}" for c in allowed_channels)
        raise ValueError(f"image must be {want}, got shape {a.shape}")
    return np.ascontiguousarray(a)


def _latent(latent):
    """`latent` as a C-contiguous, finite float32 [C, h, w] array (a non-finite latent can only
    decode to garbage, so it is refused early)."""
    if latent is None:
        raise ValueError("latent is None")
    a = np.asarray(latent)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"latent must be a float array, got {a.dtype}")
    if a.ndim != 3:
        raise ValueError(f"latent must be [C, h, w], got shape {a.shape}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError("latent has NaN or infinite values")
    return a


# ---- the model ------------------------------------------------------------------------------

class Model:
    """A loaded model and one context to run it.

    Use it from one thread at a time (calls on one Model are serialised by a lock); cancel()
    may be called from any thread while another runs encode or decode.
    """

    def __init__(self, path, threads=None):
        """path: a .gguf file, a .safetensors checkpoint or a diffusers folder.
        threads: the number of CPU threads; None (or 0) uses one per online CPU."""
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
            self._lib.ldm_ctx_params_init(ctypes.byref(params))
            params.n_threads = int(threads)
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
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
        params = _capi.ldm_encode_params_t()
        self._lib.ldm_encode_params_init(ctypes.byref(params))
        params.sample = bool(sample)
        params.seed = int(seed)
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

    def cancel(self):
        """Asks a running encode/decode (on another thread) to stop; it raises LDMError with
        status LDM_ERR_CANCELLED soon after. Does nothing once closed."""
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
