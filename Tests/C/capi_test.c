/* Exercises the C API as a host program would: every call, every NULL, the error paths, and
 * that results are reproducible. Run with the fixtures folder as its argument. */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c99 */
#include <ldm.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures = 0;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,      \
                    __LINE__, #cond, ldm_last_error());                                  \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

static char fixtures[4096];

static const char *fixture(const char *name) {
    static char path[8192];
    snprintf(path, sizeof path, "%s/%s", fixtures, name);
    return path;
}

static int logged_info = 0;
static void on_log(ldm_log_level_t level, const char *message, void *user) {
    (void)user;
    if (level == LDM_LOG_INFO && strstr(message, "autoencoder")) logged_info++;
}

static void test_basics(void) {
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", LDM_VERSION_MAJOR, LDM_VERSION_MINOR, LDM_VERSION_PATCH);
    CHECK(strcmp(ldm_version_string(), version) == 0);
    CHECK(strcmp(ldm_status_str(LDM_OK), "ok") == 0);
    for (int s = LDM_ERR_CANCELLED; s <= LDM_OK; s++) CHECK(strlen(ldm_status_str((ldm_status_t)s)) > 0);
    CHECK(strcmp(ldm_status_str((ldm_status_t)-999), "unknown status") == 0);
    /* free functions accept NULL, accessors of NULL return 0 */
    ldm_model_free(NULL);
    ldm_ctx_free(NULL);
    ldm_tensor_free(NULL);
    ldm_image_free(NULL);
    ldm_ctx_cancel(NULL);
    CHECK(ldm_tensor_ndim(NULL) == 0 && ldm_tensor_data(NULL) == NULL && ldm_tensor_count(NULL) == 0);
    CHECK(ldm_image_width(NULL) == 0 && ldm_image_data(NULL) == NULL);
    ldm_ctx_params_init(NULL, 0);
    ldm_encode_params_init(NULL, 0);
}

static void test_objects(void) {
    ldm_tensor_t *t = (ldm_tensor_t *)1;
    int64_t shape[3] = {2, 3, 4};
    CHECK(ldm_tensor_new(0, shape, NULL, &t) == LDM_ERR_INVALID_ARGUMENT && t == NULL);
    CHECK(ldm_tensor_new(5, shape, NULL, &t) == LDM_ERR_INVALID_ARGUMENT);
    CHECK(ldm_tensor_new(3, NULL, NULL, &t) == LDM_ERR_INVALID_ARGUMENT);
    CHECK(ldm_tensor_new(3, shape, NULL, NULL) == LDM_ERR_INVALID_ARGUMENT);
    int64_t bad[2] = {4, 0};
    CHECK(ldm_tensor_new(2, bad, NULL, &t) == LDM_ERR_INVALID_ARGUMENT);
    int64_t huge[4] = {1 << 20, 1 << 20, 1 << 20, 1 << 20};
    CHECK(ldm_tensor_new(4, huge, NULL, &t) != LDM_OK);
    CHECK(ldm_tensor_new(3, shape, NULL, &t) == LDM_OK);
    CHECK(ldm_tensor_ndim(t) == 3 && ldm_tensor_dim(t, 2) == 4 && ldm_tensor_dim(t, 3) == 0 && ldm_tensor_dim(t, -1) == 0);
    CHECK(ldm_tensor_count(t) == 24 && ldm_tensor_data(t)[23] == 0.0f);
    ldm_tensor_free(t);

    ldm_image_t *img = NULL;
    CHECK(ldm_image_new(0, 5, 3, NULL, &img) == LDM_ERR_SHAPE && img == NULL);
    CHECK(ldm_image_new(5, 5, 2, NULL, &img) == LDM_ERR_SHAPE);
    CHECK(ldm_image_new(20000, 5, 3, NULL, &img) == LDM_ERR_SHAPE);
    uint8_t px[2 * 3 * 3];
    for (int i = 0; i < 18; i++) px[i] = (uint8_t)(i * 13);
    CHECK(ldm_image_new(3, 2, 3, px, &img) == LDM_OK);
    CHECK(ldm_image_width(img) == 3 && ldm_image_height(img) == 2 && ldm_image_channels(img) == 3);
    CHECK(memcmp(ldm_image_data(img), px, sizeof px) == 0);
    CHECK(ldm_image_write_png(img, "/nonexistent-dir/x.png") == LDM_ERR_IO);
    CHECK(ldm_image_write_png(NULL, "x.png") == LDM_ERR_INVALID_ARGUMENT);
    CHECK(ldm_image_write_png(img, NULL) == LDM_ERR_INVALID_ARGUMENT);
    ldm_image_free(img);

    ldm_image_t *png = NULL;
    CHECK(ldm_image_read_png(fixture("input32.png"), &png) == LDM_OK);
    CHECK(ldm_image_width(png) == 32 && ldm_image_height(png) == 32 && ldm_image_channels(png) == 3);
    CHECK(ldm_image_read_png(fixture("missing.png"), &img) == LDM_ERR_NOT_FOUND && img == NULL);
    CHECK(ldm_image_read_png(fixture("ae_kl_f8.safetensors"), &img) == LDM_ERR_BAD_MAGIC);
    CHECK(ldm_image_read_png(NULL, &img) == LDM_ERR_INVALID_ARGUMENT);
    ldm_image_free(png);
}

static void test_model_errors(void) {
    ldm_model_t *m = (ldm_model_t *)1;
    CHECK(ldm_model_load(NULL, &m) == LDM_ERR_INVALID_ARGUMENT && m == NULL);
    CHECK(strstr(ldm_last_error(), "path") != NULL);
    CHECK(ldm_model_load(fixture("ae_vq"), NULL) == LDM_ERR_INVALID_ARGUMENT);
    CHECK(ldm_model_load(fixture("no-such-model.gguf"), &m) == LDM_ERR_NOT_FOUND && m == NULL);
    CHECK(strstr(ldm_last_error(), "no-such-model.gguf") != NULL);
    CHECK(ldm_model_load(fixture("input32.png"), &m) == LDM_ERR_BAD_MAGIC);
    CHECK(ldm_model_info(NULL, NULL) == LDM_ERR_INVALID_ARGUMENT);
    ldm_ctx_t *ctx = (ldm_ctx_t *)1;
    CHECK(ldm_ctx_new(NULL, NULL, &ctx) == LDM_ERR_INVALID_ARGUMENT && ctx == NULL);
}

/* The last error is per thread: a failure on another thread does not replace ours. */
static void *fail_elsewhere(void *arg) {
    ldm_model_t *m = NULL;
    (void)arg;
    ldm_model_load("/elsewhere/missing.gguf", &m);
    return NULL;
}

static void test_thread_local_error(void) {
    ldm_model_t *m = NULL;
    ldm_model_load(fixture("mine-missing.gguf"), &m);
    pthread_t t;
    pthread_create(&t, NULL, fail_elsewhere, NULL);
    pthread_join(t, NULL);
    CHECK(strstr(ldm_last_error(), "mine-missing.gguf") != NULL);
}

static void test_round_trip(const char *model_name, int size) {
    ldm_log_set(on_log, NULL);
    ldm_model_t *model = NULL;
    CHECK(ldm_model_load(fixture(model_name), &model) == LDM_OK);
    ldm_log_set(NULL, NULL);
    if (!model) return;

    ldm_model_info_t info;
    memset(&info, 0, sizeof info);
    CHECK(ldm_model_info(model, &info) == LDM_ERR_INVALID_ARGUMENT); /* struct_size not set */
    info.struct_size = sizeof info;
    CHECK(ldm_model_info(model, &info) == LDM_OK);
    CHECK(info.autoencoder != LDM_AUTOENCODER_NONE && info.latent_channels > 0 && info.downsample_factor >= 2);
    CHECK(info.scale_factor > 0 && info.n_params > 1000);
    /* an older caller that only knows the first fields gets just those */
    ldm_model_info_t old;
    memset(&old, 0xAB, sizeof old);
    old.struct_size = offsetof(ldm_model_info_t, downsample_factor);
    CHECK(ldm_model_info(model, &old) == LDM_OK);
    CHECK(old.latent_channels == info.latent_channels);
    CHECK(old.downsample_factor == (int32_t)0xABABABAB);

    ldm_ctx_params_t cp;
    ldm_ctx_params_init(&cp, sizeof cp);
    cp.n_threads = -1;
    ldm_ctx_t *ctx = NULL;
    CHECK(ldm_ctx_new(model, &cp, &ctx) == LDM_ERR_INVALID_ARGUMENT && ctx == NULL);
    cp.struct_size = 0;
    CHECK(ldm_ctx_new(model, &cp, &ctx) == LDM_ERR_INVALID_ARGUMENT);
    ldm_ctx_params_init(&cp, sizeof cp);
    cp.n_threads = 1;
    ldm_ctx_t *one = NULL;
    CHECK(ldm_ctx_new(model, &cp, &one) == LDM_OK);
    CHECK(ldm_ctx_new(model, NULL, &ctx) == LDM_OK);
    /* the contexts keep the model alive */
    ldm_model_free(model);

    ldm_image_t *img = NULL;
    CHECK(ldm_image_read_png(fixture(size == 32 ? "input32.png" : "input64.png"), &img) == LDM_OK);
    ldm_tensor_t *latent = NULL, *latent1 = NULL;
    CHECK(ldm_encode(NULL, img, NULL, &latent) == LDM_ERR_INVALID_ARGUMENT);
    CHECK(ldm_encode(ctx, NULL, NULL, &latent) == LDM_ERR_INVALID_ARGUMENT);
    ldm_encode_params_t ep;
    ldm_encode_params_init(&ep, sizeof ep);
    ep.struct_size = 3;
    CHECK(ldm_encode(ctx, img, &ep, &latent) == LDM_ERR_INVALID_ARGUMENT);
    ldm_encode_params_init(&ep, sizeof ep);
    CHECK(ldm_encode(ctx, img, &ep, &latent) == LDM_OK);
    CHECK(ldm_encode(one, img, NULL, &latent1) == LDM_OK);
    int64_t n = ldm_tensor_count(latent);
    CHECK(ldm_tensor_ndim(latent) == 3 && ldm_tensor_dim(latent, 0) == info.latent_channels);
    CHECK(ldm_tensor_dim(latent, 1) == size / info.downsample_factor);
    CHECK(n == ldm_tensor_count(latent1) && memcmp(ldm_tensor_data(latent), ldm_tensor_data(latent1), (size_t)n * 4) == 0);

    if (info.autoencoder == LDM_AUTOENCODER_KL) {
        ldm_tensor_t *s1 = NULL, *s2 = NULL;
        ep.sample = true;
        ep.seed = 5;
        CHECK(ldm_encode(ctx, img, &ep, &s1) == LDM_OK);
        CHECK(ldm_encode(ctx, img, &ep, &s2) == LDM_OK);
        CHECK(s1 && s2 && memcmp(ldm_tensor_data(s1), ldm_tensor_data(s2), (size_t)n * 4) == 0);
        CHECK(s1 && memcmp(ldm_tensor_data(s1), ldm_tensor_data(latent), (size_t)n * 4) != 0);
        ldm_tensor_free(s1);
        ldm_tensor_free(s2);
    }

    ldm_image_t *wrong = NULL, *out = NULL;
    ldm_tensor_t *none = (ldm_tensor_t *)1;
    CHECK(ldm_image_new(size + 1, size, 3, NULL, &wrong) == LDM_OK);
    CHECK(ldm_encode(ctx, wrong, NULL, &none) == LDM_ERR_SHAPE && none == NULL);
    ldm_image_free(wrong);

    CHECK(ldm_decode(ctx, NULL, &out) == LDM_ERR_INVALID_ARGUMENT);
    CHECK(ldm_decode(ctx, latent, NULL) == LDM_ERR_INVALID_ARGUMENT);
    CHECK(ldm_decode(ctx, latent, &out) == LDM_OK);
    CHECK(ldm_image_width(out) == size && ldm_image_height(out) == size && ldm_image_channels(out) == 3);
    ldm_tensor_t *raw = NULL;
    CHECK(ldm_decode_float(ctx, latent, &raw) == LDM_OK);
    CHECK(ldm_tensor_ndim(raw) == 3 && ldm_tensor_dim(raw, 0) == 3 && ldm_tensor_dim(raw, 2) == size);
    if (raw && out) {
        /* uint8 = round(clamp((x + 1) / 2) * 255), channel planes to interleaved pixels */
        const float *x = ldm_tensor_data(raw);
        const uint8_t *p = ldm_image_data(out);
        int plane = size * size, worst = 0;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++) {
                float v = fminf(fmaxf((x[c * plane + i] + 1) / 2, 0), 1) * 255;
                int d = abs((int)lrintf(v) - p[i * 3 + c]);
                if (d > worst) worst = d;
            }
        CHECK(worst == 0);
    }
    ldm_tensor_free(raw);
    ldm_image_free(out);

    int64_t wrong_shape[3] = {info.latent_channels + 1, 4, 4};
    ldm_tensor_t *bad = NULL;
    CHECK(ldm_tensor_new(3, wrong_shape, NULL, &bad) == LDM_OK);
    CHECK(ldm_decode(ctx, bad, &out) == LDM_ERR_SHAPE && out == NULL);
    CHECK(strlen(ldm_last_error()) > 0);
    ldm_tensor_free(bad);

    ldm_tensor_free(latent);
    ldm_tensor_free(latent1);
    ldm_image_free(img);
    ldm_ctx_free(ctx);
    ldm_ctx_free(one);
}

static int progress_calls = 0;
static bool count_progress(int32_t step, int32_t n_steps, void *user) {
    progress_calls++;
    (void)n_steps;
    return step < *(int *)user; /* cancel once `user` steps are done */
}

struct cancel_job {
    ldm_ctx_t *ctx;
    const ldm_cond_t *cond;
    ldm_status_t status;
    int started; /* set by the first progress call: a cancel before ldm_sample starts would be reset */
};

static bool mark_started(int32_t step, int32_t n_steps, void *user) {
    (void)step;
    (void)n_steps;
    __atomic_store_n(&((struct cancel_job *)user)->started, 1, __ATOMIC_RELEASE);
    return true;
}

static void *long_sample(void *arg) {
    struct cancel_job *job = arg;
    ldm_sample_params_t p;
    ldm_sample_params_init(&p, sizeof p);
    p.steps = 900;
    p.latent_width = p.latent_height = 16;
    p.progress = mark_started;
    p.progress_user = job;
    ldm_tensor_t *out = NULL;
    job->status = ldm_sample(job->ctx, &p, job->cond, NULL, &out);
    ldm_tensor_free(out);
    return NULL;
}

static void test_sample(void) {
    ldm_model_t *model = NULL;
    ldm_ctx_t *ctx = NULL;
    CHECK(ldm_model_load(fixture("ldm_uncond"), &model) == LDM_OK);
    CHECK(ldm_ctx_new(model, NULL, &ctx) == LDM_OK);
    ldm_model_info_t info;
    info.struct_size = sizeof info;
    CHECK(ldm_model_info(model, &info) == LDM_OK);
    CHECK(info.components == (LDM_COMPONENT_AUTOENCODER | LDM_COMPONENT_UNET));
    CHECK(info.unet_in_channels == 3 && info.unet_out_channels == 3 && info.context_dim == 0 && info.n_classes == 0);
    CHECK(info.sample_size == 8 && info.prediction == LDM_PREDICTION_EPSILON);

    ldm_sample_params_t p;
    ldm_sample_params_init(&p, sizeof p);
    CHECK(p.sampler == LDM_SAMPLER_DDIM && p.steps == 50 && p.guidance == 1.0f);
    p.steps = 4;
    ldm_tensor_t *a = NULL, *b = NULL;
    CHECK(ldm_sample(NULL, &p, NULL, NULL, &a) == LDM_ERR_INVALID_ARGUMENT && a == NULL);
    CHECK(ldm_sample(ctx, &p, NULL, NULL, NULL) == LDM_ERR_INVALID_ARGUMENT);
    p.sampler = (ldm_sampler_t)99;
    CHECK(ldm_sample(ctx, &p, NULL, NULL, &a) == LDM_ERR_INVALID_ARGUMENT);
    p.sampler = LDM_SAMPLER_DPMPP_2M_KARRAS;
    p.steps = 0;
    CHECK(ldm_sample(ctx, &p, NULL, NULL, &a) == LDM_ERR_INVALID_ARGUMENT);
    p.steps = 4;
    p.width = 30; /* not a multiple of the factor 4 */
    p.height = 32;
    CHECK(ldm_sample(ctx, &p, NULL, NULL, &a) == LDM_ERR_INVALID_ARGUMENT);
    p.width = 32;
    CHECK(ldm_sample(ctx, &p, NULL, NULL, &a) == LDM_OK);
    CHECK(ldm_sample(ctx, &p, NULL, NULL, &b) == LDM_OK);
    CHECK(a && b && ldm_tensor_dim(a, 0) == 3 && ldm_tensor_dim(a, 1) == 8 && ldm_tensor_dim(a, 2) == 8);
    CHECK(a && b && memcmp(ldm_tensor_data(a), ldm_tensor_data(b), (size_t)ldm_tensor_count(a) * 4) == 0);
    ldm_image_t *img = NULL;
    CHECK(ldm_decode(ctx, a, &img) == LDM_OK && ldm_image_width(img) == 32);
    ldm_image_free(img);

    /* text calls on a model without a text encoder are errors, not crashes */
    ldm_tensor_t *text_ctx = (ldm_tensor_t *)1;
    ldm_cond_t *text_cond = (ldm_cond_t *)1;
    int32_t n_ids = -1;
    CHECK(ldm_encode_text(ctx, "a cat", &text_ctx) == LDM_ERR_MODEL && text_ctx == NULL);
    CHECK(ldm_cond_text(ctx, "a cat", &text_cond) == LDM_ERR_MODEL && text_cond == NULL);
    CHECK(ldm_tokenize(ctx, "a cat", NULL, 0, &n_ids) == LDM_ERR_MODEL);
    CHECK(ldm_encode_text(ctx, NULL, &text_ctx) == LDM_ERR_INVALID_ARGUMENT);

    /* an unconditional model refuses a context, and guidance needs an uncond */
    ldm_cond_t *cond = NULL;
    ldm_tensor_t *ctx_tensor = NULL;
    int64_t shape[2] = {5, 8};
    CHECK(ldm_cond_new(&cond) == LDM_OK && ldm_tensor_new(2, shape, NULL, &ctx_tensor) == LDM_OK);
    CHECK(ldm_cond_set_context(cond, NULL) == LDM_ERR_INVALID_ARGUMENT);
    CHECK(ldm_cond_set_concat(cond, ctx_tensor) == LDM_ERR_SHAPE); /* 2-D is no [C, h, w] */
    CHECK(ldm_cond_set_class(cond, -1) == LDM_ERR_INVALID_ARGUMENT);
    CHECK(ldm_cond_set_context(cond, ctx_tensor) == LDM_OK);
    ldm_tensor_t *none = (ldm_tensor_t *)1;
    CHECK(ldm_sample(ctx, &p, cond, NULL, &none) == LDM_ERR_INVALID_ARGUMENT && none == NULL);
    p.guidance = 3;
    CHECK(ldm_sample(ctx, &p, NULL, NULL, &none) == LDM_ERR_INVALID_ARGUMENT);
    p.guidance = 1;

    /* a caller built against an older header, whose struct ends before init_image: only its
     * bytes are written by init and read by ldm_sample */
    {
        union { ldm_sample_params_t p; unsigned char bytes[sizeof(ldm_sample_params_t) + 16]; } old;
        size_t old_size = offsetof(ldm_sample_params_t, init_image);
        memset(old.bytes, 0xAB, sizeof old.bytes);
        ldm_sample_params_init(&old.p, old_size);
        CHECK(old.p.struct_size == old_size && old.p.steps == 50);
        for (size_t i = old_size; i < sizeof old.bytes; i++) CHECK(old.bytes[i] == 0xAB);
        old.p.steps = 2;
        ldm_tensor_t *o = NULL;
        CHECK(ldm_sample(ctx, &old.p, NULL, NULL, &o) == LDM_OK); /* 0xAB.. past the end is not an image */
        ldm_tensor_free(o);
    }

    /* the progress callback sees every step and can cancel */
    int stop_after = 100;
    p.progress = count_progress;
    p.progress_user = &stop_after;
    progress_calls = 0;
    ldm_tensor_free(b);
    b = NULL;
    CHECK(ldm_sample(ctx, &p, NULL, NULL, &b) == LDM_OK && progress_calls == 4);
    stop_after = 2;
    progress_calls = 0;
    ldm_tensor_free(b);
    b = NULL;
    CHECK(ldm_sample(ctx, &p, NULL, NULL, &b) == LDM_ERR_CANCELLED && b == NULL && progress_calls == 2);

    /* ldm_ctx_cancel from another thread stops a long run */
    ldm_model_t *big = NULL;
    ldm_ctx_t *big_ctx = NULL;
    ldm_cond_t *text = NULL;
    ldm_tensor_t *context = NULL;
    int64_t cshape[2] = {5, 24};
    CHECK(ldm_model_load(fixture("unet_sd1.compvis.safetensors"), &big) == LDM_OK);
    CHECK(ldm_ctx_new(big, NULL, &big_ctx) == LDM_OK);
    CHECK(ldm_cond_new(&text) == LDM_OK && ldm_tensor_new(2, cshape, NULL, &context) == LDM_OK);
    CHECK(ldm_cond_set_context(text, context) == LDM_OK);
    struct cancel_job job = {big_ctx, text, LDM_OK, 0};
    pthread_t t;
    pthread_create(&t, NULL, long_sample, &job);
    struct timespec pause = {0, 10 * 1000 * 1000};
    while (!__atomic_load_n(&job.started, __ATOMIC_ACQUIRE))
        nanosleep(&pause, NULL);
    ldm_ctx_cancel(big_ctx);
    pthread_join(t, NULL);
    CHECK(job.status == LDM_ERR_CANCELLED);

    ldm_tensor_free(context);
    ldm_cond_free(text);
    ldm_ctx_free(big_ctx);
    ldm_model_free(big);
    ldm_tensor_free(ctx_tensor);
    ldm_cond_free(cond);
    ldm_tensor_free(a);
    ldm_tensor_free(b);
    ldm_ctx_free(ctx);
    ldm_model_free(model);
}

/* Prompts through the C API on the tiny Stable Diffusion pipeline. */
static void test_text(void) {
    ldm_model_t *m = NULL;
    ldm_ctx_t *ctx = NULL;
    CHECK(ldm_model_load(fixture("sd_tiny"), &m) == LDM_OK);
    CHECK(ldm_ctx_new(m, NULL, &ctx) == LDM_OK);
    ldm_model_info_t info;
    info.struct_size = sizeof info;
    CHECK(ldm_model_info(m, &info) == LDM_OK);
    CHECK((info.components & (LDM_COMPONENT_TEXT_ENCODER | LDM_COMPONENT_TOKENIZER)) == (LDM_COMPONENT_TEXT_ENCODER | LDM_COMPONENT_TOKENIZER));
    CHECK(info.text_max_length == 77 && info.context_dim == 64);
    int32_t n = 0, ids[200];
    CHECK(ldm_tokenize(ctx, "a red circle", NULL, 0, &n) == LDM_OK && n == 77);
    /* the tiny vocabulary: 512 byte tokens, 2000 merges, then <|startoftext|> = 2512 */
    CHECK(ldm_tokenize(ctx, "a red circle", ids, 200, &n) == LDM_OK && ids[0] == 2512 && ids[76] == 2513);
    CHECK(ldm_tokenize(ctx, "a red circle", NULL, 5, &n) == LDM_ERR_INVALID_ARGUMENT);
    ldm_tensor_t *t = NULL;
    CHECK(ldm_encode_text(ctx, "\xF0\x9F\x90\xB1 \xE7\x8C\xAB a cat", &t) == LDM_OK);
    CHECK(ldm_tensor_ndim(t) == 2 && ldm_tensor_dim(t, 0) == 77 && ldm_tensor_dim(t, 1) == 64);
    ldm_tensor_free(t);
    ldm_cond_t *cond = NULL, *uncond = NULL;
    CHECK(ldm_cond_text(ctx, "a red circle", &cond) == LDM_OK && ldm_cond_uncond(ctx, &uncond) == LDM_OK);
    ldm_sample_params_t p;
    ldm_sample_params_init(&p, sizeof p);
    p.steps = 3;
    p.guidance = 5;
    ldm_tensor_t *latent = NULL;
    CHECK(ldm_sample(ctx, &p, cond, uncond, &latent) == LDM_OK);
    CHECK(ldm_tensor_dim(latent, 1) == 8); /* the native 8x8 latent from the UNet config */
    ldm_tensor_free(latent);
    ldm_cond_free(cond);
    ldm_cond_free(uncond);
    ldm_ctx_free(ctx);
    ldm_model_free(m);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    snprintf(fixtures, sizeof fixtures, "%s", argv[1]);
    test_basics();
    test_objects();
    test_model_errors();
    test_thread_local_error();
    test_round_trip("ae_kl_f8.q8_0.gguf", 64);
    test_round_trip("ae_vq", 32);
    test_round_trip("ae_kl_attn", 32);
    test_sample();
    test_text();
    CHECK(logged_info == 3);
    if (failures) {
        fprintf(stderr, "capi_test: %d failures\n", failures);
        return 1;
    }
    printf("capi_test: all checks passed\n");
    return 0;
}
