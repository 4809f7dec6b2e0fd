/*
 * ldm.h: the C API of libldm, a Latent Diffusion Model inference engine.
 *
 * Load a model file (GGUF, a safetensors checkpoint, or a diffusers folder), make a context,
 * and run the three operations every LDM task is built from:
 *   encode  RGB image      -> latent  (the autoencoder's encoder; scaled latent)
 *   sample  conditioning   -> latent  (the UNet denoiser driven by a sampler, with guidance)
 *   decode  latent         -> image   (the autoencoder's decoder)
 *
 * Example: round-trip a PNG through the autoencoder.
 *
 *     ldm_model_t *model = NULL;
 *     ldm_ctx_t *ctx = NULL;
 *     ldm_image_t *in = NULL, *out = NULL;
 *     ldm_tensor_t *latent = NULL;
 *     if (ldm_model_load("vae.safetensors", &model) != LDM_OK ||
 *         ldm_ctx_new(model, NULL, &ctx) != LDM_OK ||
 *         ldm_image_read_png("in.png", &in) != LDM_OK ||
 *         ldm_encode(ctx, in, NULL, &latent) != LDM_OK ||
 *         ldm_decode(ctx, latent, &out) != LDM_OK ||
 *         ldm_image_write_png(out, "out.png") != LDM_OK)
 *         fprintf(stderr, "ldm: %s\n", ldm_last_error());
 *     ldm_image_free(out); ldm_tensor_free(latent); ldm_image_free(in);
 *     ldm_ctx_free(ctx); ldm_model_free(model);
 *
 * Conventions
 *   - Every fallible call returns an ldm_status_t (LDM_OK = 0, errors negative; the values
 *     are part of the ABI and never change). ldm_last_error() gives the message.
 *   - Results come through out-pointers, set only on success (NULL otherwise).
 *   - Everything the library allocates is released by the matching ldm_*_free(), which
 *     accepts NULL. Objects hold what they need: a context keeps its model alive, so the two
 *     may be freed in either order.
 *   - Params structs start with struct_size. Fill one with its init function, passing the size
 *     your program was compiled with: ldm_sample_params_init(&p, sizeof p). The library fills
 *     and later reads only that many bytes, so programs built against an older header keep
 *     working. A NULL params pointer means the defaults. New fields are only added at the end.
 *   - Images are 8-bit, interleaved (HWC), RGB unless stated. Latents and other float data
 *     are ldm_tensor_t: fp32, row-major, a latent is [C, h, w].
 *   - The library never prints, aborts or exits; it reports through status codes and, if one
 *     is installed, the log callback.
 *
 * Thread safety
 *   - A model is immutable after loading: any number of threads and contexts may share it.
 *   - A context is used by one thread at a time. ldm_ctx_cancel() is the exception: it may be
 *     called from any thread while another runs the context.
 *   - Tensors and images are plain data: share them read-only, or synchronise.
 *   - Where libldm multiplies matrices with OpenBLAS (CPUs without AVX-512), it sets OpenBLAS's
 *     process-wide thread count to 1 on first use and spreads the work over its own threads.
 */
#ifndef LDM_H
#define LDM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LDM_VERSION_MAJOR 0
#define LDM_VERSION_MINOR 1
#define LDM_VERSION_PATCH 0

/* ---- status, errors, logging ------------------------------------------------------------ */

typedef enum ldm_status {
    LDM_OK = 0,
    LDM_ERR_INVALID_ARGUMENT = -1, /* a NULL pointer, a bad value or params struct */
    LDM_ERR_NOT_FOUND = -2,        /* the file or folder does not exist */
    LDM_ERR_IO = -3,               /* it exists but cannot be opened, mapped or written */
    LDM_ERR_BAD_MAGIC = -4,        /* not a GGUF, safetensors or PNG file at all */
    LDM_ERR_CORRUPT = -5,          /* malformed: truncated, inconsistent or hostile header */
    LDM_ERR_UNSUPPORTED = -6,      /* well-formed, but a version, type or block not supported */
    LDM_ERR_MODEL = -7,            /* tensors missing or of the wrong shape for the model */
    LDM_ERR_SHAPE = -8,            /* an input of the wrong size or shape */
    LDM_ERR_OUT_OF_MEMORY = -9,
    LDM_ERR_CANCELLED = -10        /* stopped by ldm_ctx_cancel() or a progress callback */
} ldm_status_t;

/* A short constant description of a status ("ok", "file not found", ...). */
const char *ldm_status_str(ldm_status_t status);

/* The message of the last call that failed on this thread ("" if none). It stays valid until
 * the next failing call on the same thread. */
const char *ldm_last_error(void);

typedef enum ldm_log_level {
    LDM_LOG_DEBUG = 0,
    LDM_LOG_INFO = 1,
    LDM_LOG_WARN = 2,
    LDM_LOG_ERROR = 3
} ldm_log_level_t;

typedef void (*ldm_log_fn)(ldm_log_level_t level, const char *message, void *user);

/* Installs a log callback for the whole process (NULL: silence, the default). The callback may
 * be called from any thread that runs a library call. */
void ldm_log_set(ldm_log_fn fn, void *user);

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
const char *ldm_version_string(void);

/* ---- tensors: fp32, row-major ------------------------------------------------------------ */

typedef struct ldm_tensor ldm_tensor_t;

/* A new tensor of ndim (1..4) dimensions, copying `data` if not NULL, zeros otherwise. */
ldm_status_t ldm_tensor_new(int32_t ndim, const int64_t *shape, const float *data, ldm_tensor_t **out);
int32_t ldm_tensor_ndim(const ldm_tensor_t *tensor);
/* The size of dimension `axis`, or 0 when axis is out of range. */
int64_t ldm_tensor_dim(const ldm_tensor_t *tensor, int32_t axis);
int64_t ldm_tensor_count(const ldm_tensor_t *tensor);
float *ldm_tensor_data(ldm_tensor_t *tensor);
void ldm_tensor_free(ldm_tensor_t *tensor);

/* ---- images: 8-bit, interleaved ---------------------------------------------------------- */

typedef struct ldm_image ldm_image_t;

/* A new image of 1 (grey), 3 (RGB) or 4 (RGBA) channels, copying width*height*channels bytes
 * from `pixels` if not NULL, black otherwise. Sides are limited to 16384. */
ldm_status_t ldm_image_new(int32_t width, int32_t height, int32_t channels, const uint8_t *pixels,
                           ldm_image_t **out);
int32_t ldm_image_width(const ldm_image_t *image);
int32_t ldm_image_height(const ldm_image_t *image);
int32_t ldm_image_channels(const ldm_image_t *image);
uint8_t *ldm_image_data(ldm_image_t *image);
void ldm_image_free(ldm_image_t *image);

/* Reads any PNG as 8-bit RGB. */
ldm_status_t ldm_image_read_png(const char *path, ldm_image_t **out);
ldm_status_t ldm_image_write_png(const ldm_image_t *image, const char *path);

/* ---- models ------------------------------------------------------------------------------ */

typedef struct ldm_model ldm_model_t;

typedef enum ldm_type {
    LDM_TYPE_F32 = 0,
    LDM_TYPE_F16 = 1,
    LDM_TYPE_BF16 = 2,
    LDM_TYPE_Q8_0 = 3
} ldm_type_t;

typedef enum ldm_autoencoder_kind {
    LDM_AUTOENCODER_NONE = 0,
    LDM_AUTOENCODER_KL = 1, /* diagonal Gaussian posterior (SD's VAE, kl-f4 ... kl-f32) */
    LDM_AUTOENCODER_VQ = 2  /* vector-quantised (vq-f4 ... vq-f16) */
} ldm_autoencoder_kind_t;

typedef enum ldm_prediction {
    LDM_PREDICTION_EPSILON = 0, /* the UNet predicts the noise */
    LDM_PREDICTION_SAMPLE = 1,  /* ... the clean latent (x0) */
    LDM_PREDICTION_V = 2        /* ... v = sqrt(a) eps - sqrt(1 - a) x0 */
} ldm_prediction_t;

/* Bits of ldm_model_info_t.components. */
#define LDM_COMPONENT_AUTOENCODER 1u
#define LDM_COMPONENT_UNET 2u
#define LDM_COMPONENT_TEXT_ENCODER 4u    /* CLIP, OpenCLIP or LDM-BERT */
#define LDM_COMPONENT_TOKENIZER 8u       /* its vocabulary, from the model file or beside it */
#define LDM_COMPONENT_CLASS_EMBEDDER 16u /* class labels as a cross-attention context */

typedef struct ldm_model_info {
    size_t struct_size;                 /* set by the caller: sizeof(ldm_model_info_t) */
    ldm_autoencoder_kind_t autoencoder;
    int32_t latent_channels;
    int32_t downsample_factor;          /* image side / latent side */
    float scale_factor;                 /* latent = scale_factor * z */
    ldm_type_t weight_type;             /* the type most weights are stored in */
    uint64_t n_params;
    uint32_t components;                /* LDM_COMPONENT_* bits */
    int32_t unet_in_channels;           /* latent channels + concat conditioning channels */
    int32_t unet_out_channels;
    int32_t context_dim;                /* cross-attention width; 0: no cross-attention */
    int32_t n_classes;                  /* class labels the UNet takes; 0: none */
    int32_t sample_size;                /* the native latent side; 0: not known */
    ldm_prediction_t prediction;
    int32_t text_max_length;            /* tokens per text window (77); 0: no text encoder */
} ldm_model_info_t;

/* Maps a model: a .gguf file, a .safetensors checkpoint (CompVis/SD key names, or a bare or
 * diffusers-named autoencoder), or a diffusers folder (a component with config.json, or a
 * pipeline with model_index.json). Weights stay in the file's types, used in place. */
ldm_status_t ldm_model_load(const char *path, ldm_model_t **out);
void ldm_model_free(ldm_model_t *model);
ldm_status_t ldm_model_info(const ldm_model_t *model, ldm_model_info_t *info);

/* ---- contexts ---------------------------------------------------------------------------- */

typedef struct ldm_ctx ldm_ctx_t;

typedef struct ldm_ctx_params {
    size_t struct_size;
    int32_t n_threads;  /* 0: one per online CPU */
    int32_t low_memory; /* 1: drop the model's mapped weight pages after every call, so resident
                         * memory holds only what one call uses (they are read again, from the
                         * page cache or the file, when next needed) */
} ldm_ctx_params_t;

void ldm_ctx_params_init(ldm_ctx_params_t *params, size_t struct_size);
ldm_status_t ldm_ctx_new(ldm_model_t *model, const ldm_ctx_params_t *params, ldm_ctx_t **out);
void ldm_ctx_free(ldm_ctx_t *ctx);

/* Asks a running call on `ctx` to stop; it returns LDM_ERR_CANCELLED within one UNet call (or
 * autoencoder block). Safe from any thread. The flag is cleared when the next call starts. */
void ldm_ctx_cancel(ldm_ctx_t *ctx);

/* ---- conditioning ------------------------------------------------------------------------ */

/* What a sample is conditioned on. Parts a model does not use are an error, parts it needs
 * and misses too; an empty conditioning suits unconditional models. */
typedef struct ldm_cond ldm_cond_t;

ldm_status_t ldm_cond_new(ldm_cond_t **out);
/* The cross-attention context, [n_tokens, dim] (copied). */
ldm_status_t ldm_cond_set_context(ldm_cond_t *cond, const ldm_tensor_t *context);
/* A class label, for UNets with a class embedding. */
ldm_status_t ldm_cond_set_class(ldm_cond_t *cond, int32_t label);
/* Channels appended to the latent at every UNet call, [C, h, w] (copied): a low-resolution
 * image, a mask and masked-image latent, a semantic map. */
ldm_status_t ldm_cond_set_concat(ldm_cond_t *cond, const ldm_tensor_t *channels);
/* A conditioning vector [dim] added to the time embedding (label_emb Linear layers). */
ldm_status_t ldm_cond_set_vector(ldm_cond_t *cond, const ldm_tensor_t *vector);
void ldm_cond_free(ldm_cond_t *cond);

/* A prompt encoded by the model's tokenizer and text encoder into a conditioning. Prompts longer
 * than one window (77 tokens with the start and end tokens) are not cut: they are encoded in
 * windows of 75 tokens whose contexts are concatenated, as popular UIs do. */
ldm_status_t ldm_cond_text(ldm_ctx_t *ctx, const char *prompt, ldm_cond_t **out);

/* The context ldm_cond_text would hold: [77 * windows, dim], for callers that mix or weight
 * prompts themselves (then ldm_cond_set_context). */
ldm_status_t ldm_encode_text(ldm_ctx_t *ctx, const char *prompt, ldm_tensor_t **context);

/* The model's own unconditional conditioning, for guidance: the empty prompt for text models,
 * the "no class" label for class-embedding models, an empty conditioning for unconditional ones. */
ldm_status_t ldm_cond_uncond(ldm_ctx_t *ctx, ldm_cond_t **out);

/* The token ids the text encoder sees for `prompt`: one window of text_max_length ids per 75
 * tokens (start, tokens, end, padding). Writes up to `capacity` ids and sets *n_ids to the full
 * count (call with capacity 0 to ask). */
ldm_status_t ldm_tokenize(ldm_ctx_t *ctx, const char *prompt, int32_t *ids, int32_t capacity, int32_t *n_ids);

/* ---- operations -------------------------------------------------------------------------- */

typedef struct ldm_encode_params {
    size_t struct_size;
    bool sample;   /* KL: draw from the posterior instead of taking its mean */
    uint64_t seed; /* for sample: the noise equals torch.randn with manual_seed(seed) */
} ldm_encode_params_t;

void ldm_encode_params_init(ldm_encode_params_t *params, size_t struct_size);

/* RGB image (sides multiples of the downsampling factor) -> scaled latent [C, h, w]. */
ldm_status_t ldm_encode(ldm_ctx_t *ctx, const ldm_image_t *image, const ldm_encode_params_t *params,
                        ldm_tensor_t **latent);

/* Scaled latent [C, h, w] -> RGB image. VQ models quantise the latent first. */
ldm_status_t ldm_decode(ldm_ctx_t *ctx, const ldm_tensor_t *latent, ldm_image_t **image);

/* As ldm_decode, but returns the decoder's raw output [3, H, W], nominally in [-1, 1] (not
 * clamped). */
ldm_status_t ldm_decode_float(ldm_ctx_t *ctx, const ldm_tensor_t *latent, ldm_tensor_t **image);

/* Samplers, each equal to the diffusers scheduler named, with Stable Diffusion's timestep
 * convention (timestep_spacing "leading", steps_offset 1, set_alpha_to_one false). */
typedef enum ldm_sampler {
    LDM_SAMPLER_DDIM = 0,           /* DDIMScheduler (eta) */
    LDM_SAMPLER_PLMS = 1,           /* PNDMScheduler, skip_prk_steps: the paper's PLMS */
    LDM_SAMPLER_DDPM = 2,           /* DDPMScheduler, ancestral */
    LDM_SAMPLER_EULER = 3,          /* EulerDiscreteScheduler */
    LDM_SAMPLER_EULER_A = 4,        /* EulerAncestralDiscreteScheduler */
    LDM_SAMPLER_HEUN = 5,           /* HeunDiscreteScheduler */
    LDM_SAMPLER_DPMPP_2M = 6,       /* DPMSolverMultistepScheduler, dpmsolver++, order 2 */
    LDM_SAMPLER_DPMPP_2M_KARRAS = 7 /* ... with Karras sigmas */
} ldm_sampler_t;

/* Called after every sampler step; return false to cancel (the call then returns
 * LDM_ERR_CANCELLED). */
typedef bool (*ldm_progress_fn)(int32_t step, int32_t n_steps, void *user);

typedef struct ldm_sample_params {
    size_t struct_size;
    ldm_sampler_t sampler;           /* LDM_SAMPLER_DDIM */
    int32_t steps;                   /* 50 */
    float guidance;                  /* classifier-free guidance scale; 1 (the default) turns it off */
    float eta;                       /* DDIM's eta: 0 */
    uint64_t seed;                   /* noise equals torch.randn after torch.manual_seed(seed) */
    int32_t width, height;           /* image size in pixels; 0: the model's native size */
    int32_t latent_width, latent_height; /* or the latent size, for models without an autoencoder */
    const ldm_tensor_t *init_latent; /* img2img: start from this latent [C, h, w] (not copied) ... */
    float strength;                  /* ... noised to this fraction of the schedule, (0, 1]: 0.8 */
    ldm_progress_fn progress;        /* NULL: none */
    void *progress_user;
    const ldm_image_t *init_image;   /* img2img from an image (sides multiples of the factor; not copied):
                                        encoded as diffusers' img2img pipeline does, drawing the
                                        posterior sample and the noise from one seeded stream. Its
                                        size sets the latent size; strength applies. */
} ldm_sample_params_t;

void ldm_sample_params_init(ldm_sample_params_t *params, size_t struct_size);

/* Runs the denoising loop and returns the scaled latent [C, h, w]. `uncond` (may be NULL)
 * is the unconditional side of classifier-free guidance, required when guidance != 1. */
ldm_status_t ldm_sample(ldm_ctx_t *ctx, const ldm_sample_params_t *params, const ldm_cond_t *cond,
                        const ldm_cond_t *uncond, ldm_tensor_t **latent);

#ifdef __cplusplus
}
#endif

#endif /* LDM_H */
