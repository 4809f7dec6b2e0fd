"""The C API of include/ldm.h, mapped 1:1 onto ctypes.

The library is loaded on the first call to lib(), not at import, so that the parts of the
package that do not need it (the converter) work where it is not installed.
"""
import ctypes
import functools
from ctypes import POINTER, Structure, c_bool, c_char_p, c_float, c_int, c_int32, c_int64, c_size_t, c_uint8, \
    c_uint32, c_uint64, c_void_p

from . import _lib

# ldm_status_t
LDM_OK = 0
LDM_ERR_INVALID_ARGUMENT = -1
LDM_ERR_NOT_FOUND = -2
LDM_ERR_IO = -3
LDM_ERR_BAD_MAGIC = -4
LDM_ERR_CORRUPT = -5
LDM_ERR_UNSUPPORTED = -6
LDM_ERR_MODEL = -7
LDM_ERR_SHAPE = -8
LDM_ERR_OUT_OF_MEMORY = -9
LDM_ERR_CANCELLED = -10

# ldm_log_level_t
LDM_LOG_DEBUG = 0
LDM_LOG_INFO = 1
LDM_LOG_WARN = 2
LDM_LOG_ERROR = 3

# ldm_type_t
LDM_TYPE_F32 = 0
LDM_TYPE_F16 = 1
LDM_TYPE_BF16 = 2
LDM_TYPE_Q8_0 = 3

# ldm_autoencoder_kind_t
LDM_AUTOENCODER_NONE = 0
LDM_AUTOENCODER_KL = 1
LDM_AUTOENCODER_VQ = 2

# ldm_prediction_t
LDM_PREDICTION_EPSILON = 0
LDM_PREDICTION_SAMPLE = 1
LDM_PREDICTION_V = 2

# Bits of ldm_model_info_t.components
LDM_COMPONENT_AUTOENCODER = 1
LDM_COMPONENT_UNET = 2
LDM_COMPONENT_TEXT_ENCODER = 4  # CLIP, OpenCLIP or LDM-BERT
LDM_COMPONENT_TOKENIZER = 8  # its vocabulary, from the model file or beside it
LDM_COMPONENT_CLASS_EMBEDDER = 16  # class labels as a cross-attention context

# ldm_sampler_t
LDM_SAMPLER_DDIM = 0
LDM_SAMPLER_PLMS = 1
LDM_SAMPLER_DDPM = 2
LDM_SAMPLER_EULER = 3
LDM_SAMPLER_EULER_A = 4
LDM_SAMPLER_HEUN = 5
LDM_SAMPLER_DPMPP_2M = 6
LDM_SAMPLER_DPMPP_2M_KARRAS = 7

# C enums are passed as int.
ldm_status_t = c_int
ldm_log_level_t = c_int
ldm_type_t = c_int
ldm_autoencoder_kind_t = c_int
ldm_prediction_t = c_int
ldm_sampler_t = c_int


# Opaque handles: only ever used through pointers.
class ldm_tensor_t(Structure):
    pass


class ldm_image_t(Structure):
    pass


class ldm_model_t(Structure):
    pass


class ldm_ctx_t(Structure):
    pass


class ldm_cond_t(Structure):
    pass


class ldm_model_info_t(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("autoencoder", ldm_autoencoder_kind_t),
        ("latent_channels", c_int32),
        ("downsample_factor", c_int32),
        ("scale_factor", c_float),
        ("weight_type", ldm_type_t),
        ("n_params", c_uint64),
        ("components", c_uint32),
        ("unet_in_channels", c_int32),
        ("unet_out_channels", c_int32),
        ("context_dim", c_int32),
        ("n_classes", c_int32),
        ("sample_size", c_int32),
        ("prediction", ldm_prediction_t),
        ("text_max_length", c_int32),
    ]


class ldm_ctx_params_t(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("n_threads", c_int32),
        ("low_memory", c_int32),
    ]


class ldm_encode_params_t(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("sample", c_bool),
        ("seed", c_uint64),
    ]


# typedef void (*ldm_log_fn)(ldm_log_level_t level, const char *message, void *user);
ldm_log_fn = ctypes.CFUNCTYPE(None, ldm_log_level_t, c_char_p, c_void_p)

# typedef bool (*ldm_progress_fn)(int32_t step, int32_t n_steps, void *user);
ldm_progress_fn = ctypes.CFUNCTYPE(c_bool, c_int32, c_int32, c_void_p)


class ldm_sample_params_t(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("sampler", ldm_sampler_t),
        ("steps", c_int32),
        ("guidance", c_float),
        ("eta", c_float),
        ("seed", c_uint64),
        ("width", c_int32),
        ("height", c_int32),
        ("latent_width", c_int32),
        ("latent_height", c_int32),
        ("init_latent", POINTER(ldm_tensor_t)),
        ("strength", c_float),
        ("progress", ldm_progress_fn),
        ("progress_user", c_void_p),
        ("init_image", POINTER(ldm_image_t)),
    ]


_tensor_p = POINTER(ldm_tensor_t)
_image_p = POINTER(ldm_image_t)
_model_p = POINTER(ldm_model_t)
_ctx_p = POINTER(ldm_ctx_t)
_cond_p = POINTER(ldm_cond_t)

# (name, restype, argtypes)
_PROTOTYPES = [
    # const char *ldm_status_str(ldm_status_t status);
    ("ldm_status_str", c_char_p, [ldm_status_t]),
    # const char *ldm_last_error(void);
    ("ldm_last_error", c_char_p, []),
    # void ldm_log_set(ldm_log_fn fn, void *user);
    ("ldm_log_set", None, [ldm_log_fn, c_void_p]),
    # const char *ldm_version_string(void);
    ("ldm_version_string", c_char_p, []),

    # ldm_status_t ldm_tensor_new(int32_t ndim, const int64_t *shape, const float *data, ldm_tensor_t **out);
    ("ldm_tensor_new", ldm_status_t, [c_int32, POINTER(c_int64), POINTER(c_float), POINTER(_tensor_p)]),
    # int32_t ldm_tensor_ndim(const ldm_tensor_t *tensor);
    ("ldm_tensor_ndim", c_int32, [_tensor_p]),
    # int64_t ldm_tensor_dim(const ldm_tensor_t *tensor, int32_t axis);
    ("ldm_tensor_dim", c_int64, [_tensor_p, c_int32]),
    # int64_t ldm_tensor_count(const ldm_tensor_t *tensor);
    ("ldm_tensor_count", c_int64, [_tensor_p]),
    # float *ldm_tensor_data(ldm_tensor_t *tensor);
    ("ldm_tensor_data", POINTER(c_float), [_tensor_p]),
    # void ldm_tensor_free(ldm_tensor_t *tensor);
    ("ldm_tensor_free", None, [_tensor_p]),

    # ldm_status_t ldm_image_new(int32_t width, int32_t height, int32_t channels, const uint8_t *pixels,
    #                            ldm_image_t **out);
    ("ldm_image_new", ldm_status_t, [c_int32, c_int32, c_int32, POINTER(c_uint8), POINTER(_image_p)]),
    # int32_t ldm_image_width(const ldm_image_t *image);
    ("ldm_image_width", c_int32, [_image_p]),
    # int32_t ldm_image_height(const ldm_image_t *image);
    ("ldm_image_height", c_int32, [_image_p]),
    # int32_t ldm_image_channels(const ldm_image_t *image);
    ("ldm_image_channels", c_int32, [_image_p]),
    # uint8_t *ldm_image_data(ldm_image_t *image);
    ("ldm_image_data", POINTER(c_uint8), [_image_p]),
    # void ldm_image_free(ldm_image_t *image);
    ("ldm_image_free", None, [_image_p]),
    # ldm_status_t ldm_image_read_png(const char *path, ldm_image_t **out);
    ("ldm_image_read_png", ldm_status_t, [c_char_p, POINTER(_image_p)]),
    # ldm_status_t ldm_image_write_png(const ldm_image_t *image, const char *path);
    ("ldm_image_write_png", ldm_status_t, [_image_p, c_char_p]),

    # ldm_status_t ldm_model_load(const char *path, ldm_model_t **out);
    ("ldm_model_load", ldm_status_t, [c_char_p, POINTER(_model_p)]),
    # void ldm_model_free(ldm_model_t *model);
    ("ldm_model_free", None, [_model_p]),
    # ldm_status_t ldm_model_info(const ldm_model_t *model, ldm_model_info_t *info);
    ("ldm_model_info", ldm_status_t, [_model_p, POINTER(ldm_model_info_t)]),

    # void ldm_ctx_params_init(ldm_ctx_params_t *params, size_t struct_size);
    ("ldm_ctx_params_init", None, [POINTER(ldm_ctx_params_t), c_size_t]),
    # ldm_status_t ldm_ctx_new(ldm_model_t *model, const ldm_ctx_params_t *params, ldm_ctx_t **out);
    ("ldm_ctx_new", ldm_status_t, [_model_p, POINTER(ldm_ctx_params_t), POINTER(_ctx_p)]),
    # void ldm_ctx_free(ldm_ctx_t *ctx);
    ("ldm_ctx_free", None, [_ctx_p]),
    # void ldm_ctx_cancel(ldm_ctx_t *ctx);
    ("ldm_ctx_cancel", None, [_ctx_p]),

    # ldm_status_t ldm_cond_new(ldm_cond_t **out);
    ("ldm_cond_new", ldm_status_t, [POINTER(_cond_p)]),
    # ldm_status_t ldm_cond_set_context(ldm_cond_t *cond, const ldm_tensor_t *context);
    ("ldm_cond_set_context", ldm_status_t, [_cond_p, _tensor_p]),
    # ldm_status_t ldm_cond_set_class(ldm_cond_t *cond, int32_t label);
    ("ldm_cond_set_class", ldm_status_t, [_cond_p, c_int32]),
    # ldm_status_t ldm_cond_set_concat(ldm_cond_t *cond, const ldm_tensor_t *channels);
    ("ldm_cond_set_concat", ldm_status_t, [_cond_p, _tensor_p]),
    # ldm_status_t ldm_cond_set_vector(ldm_cond_t *cond, const ldm_tensor_t *vector);
    ("ldm_cond_set_vector", ldm_status_t, [_cond_p, _tensor_p]),
    # void ldm_cond_free(ldm_cond_t *cond);
    ("ldm_cond_free", None, [_cond_p]),
    # ldm_status_t ldm_cond_text(ldm_ctx_t *ctx, const char *prompt, ldm_cond_t **out);
    ("ldm_cond_text", ldm_status_t, [_ctx_p, c_char_p, POINTER(_cond_p)]),
    # ldm_status_t ldm_encode_text(ldm_ctx_t *ctx, const char *prompt, ldm_tensor_t **context);
    ("ldm_encode_text", ldm_status_t, [_ctx_p, c_char_p, POINTER(_tensor_p)]),
    # ldm_status_t ldm_cond_uncond(ldm_ctx_t *ctx, ldm_cond_t **out);
    ("ldm_cond_uncond", ldm_status_t, [_ctx_p, POINTER(_cond_p)]),
    # ldm_status_t ldm_tokenize(ldm_ctx_t *ctx, const char *prompt, int32_t *ids, int32_t capacity, int32_t *n_ids);
    ("ldm_tokenize", ldm_status_t, [_ctx_p, c_char_p, POINTER(c_int32), c_int32, POINTER(c_int32)]),

    # void ldm_encode_params_init(ldm_encode_params_t *params, size_t struct_size);
    ("ldm_encode_params_init", None, [POINTER(ldm_encode_params_t), c_size_t]),
    # ldm_status_t ldm_encode(ldm_ctx_t *ctx, const ldm_image_t *image, const ldm_encode_params_t *params,
    #                         ldm_tensor_t **latent);
    ("ldm_encode", ldm_status_t, [_ctx_p, _image_p, POINTER(ldm_encode_params_t), POINTER(_tensor_p)]),
    # ldm_status_t ldm_decode(ldm_ctx_t *ctx, const ldm_tensor_t *latent, ldm_image_t **image);
    ("ldm_decode", ldm_status_t, [_ctx_p, _tensor_p, POINTER(_image_p)]),
    # ldm_status_t ldm_decode_float(ldm_ctx_t *ctx, const ldm_tensor_t *latent, ldm_tensor_t **image);
    ("ldm_decode_float", ldm_status_t, [_ctx_p, _tensor_p, POINTER(_tensor_p)]),

    # void ldm_sample_params_init(ldm_sample_params_t *params, size_t struct_size);
    ("ldm_sample_params_init", None, [POINTER(ldm_sample_params_t), c_size_t]),
    # ldm_status_t ldm_sample(ldm_ctx_t *ctx, const ldm_sample_params_t *params, const ldm_cond_t *cond,
    #                         const ldm_cond_t *uncond, ldm_tensor_t **latent);
    ("ldm_sample", ldm_status_t, [_ctx_p, POINTER(ldm_sample_params_t), _cond_p, _cond_p, POINTER(_tensor_p)]),
]


@functools.cache
def lib():
    """The library with every prototype of ldm.h declared (loaded once, on first use)."""
    handle = _lib.load()
    for name, restype, argtypes in _PROTOTYPES:
        try:
            fn = getattr(handle, name)
        except AttributeError:
            raise ImportError(f"ldm: {handle._name} has no {name}: it is older than this binding") from None
        fn.restype = restype
        fn.argtypes = argtypes
    return handle
