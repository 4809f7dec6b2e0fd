/* ldm: the command-line front end of libldm, written on its C API alone.
 *
 *   ldm txt2img -m MODEL [-p PROMPT] [-n NEGATIVE] [--class N] [options] -o OUT.png
 *   ldm img2img -m MODEL -i IN.png [-p PROMPT] [-n NEGATIVE] [--strength S] [options] -o OUT.png
 *   ldm encode  -m MODEL -i IN.png [--sample] [--seed S] -o LATENT.npy
 *   ldm decode  -m MODEL -i LATENT.npy -o OUT.png
 *   ldm info    MODEL
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <ldm.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *usage =
    "usage: ldm COMMAND [options]\n"
    "  txt2img  -m MODEL [-p PROMPT] [-n NEGATIVE] [--class N] -o OUT.png\n"
    "  img2img  -m MODEL -i IN.png [-p PROMPT] [-n NEGATIVE] [--strength S] -o OUT.png\n"
    "  encode   -m MODEL -i IN.png [--sample] [--seed S] -o LATENT.npy\n"
    "  decode   -m MODEL -i LATENT.npy -o OUT.png\n"
    "  info     MODEL\n"
    "sampling options: --steps N (20)  --sampler NAME (ddim)  --cfg SCALE (7.5; 1 for models\n"
    "  without conditioning)  --eta E (0)  --seed S (0)  -W WIDTH  -H HEIGHT (the model's size)\n"
    "  --threads N (all CPUs)  --low-memory (drop weight pages after each call)  -q (no progress bar)\n"
    "samplers: ddim plms ddpm euler euler_a heun dpmpp_2m dpmpp_2m_karras\n"
    "PROMPT is encoded in windows of 75 tokens: long prompts are not cut.\n";

static const char *samplers[] = {"ddim", "plms", "ddpm", "euler", "euler_a", "heun", "dpmpp_2m", "dpmpp_2m_karras"};

struct options {
    const char *model, *prompt, *negative, *input, *output;
    int steps, width, height, threads, class_label, sample, quiet, low_memory;
    ldm_sampler_t sampler;
    float cfg, eta, strength;
    int cfg_given;
    unsigned long long seed;
};

/* `doing` says what failed ("loading the model"); the library's message names the file. */
static int fail(const char *doing, ldm_status_t s) {
    fprintf(stderr, "ldm: %s failed: %s (%s)\n", doing, ldm_last_error(), ldm_status_str(s));
    return 1;
}

static int bad_args(const char *msg, const char *arg) {
    fprintf(stderr, "ldm: %s%s%s\n\n%s", msg, arg ? ": " : "", arg ? arg : "", usage);
    return 2;
}

/* A decimal integer in [lo, hi] that is all of `s` (no sign, fraction, exponent or hex). */
static int integer(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out) {
    if (*s < '0' || *s > '9') return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

/* A decimal number in [lo, hi] that is all of `s`. */
static int real(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return 0;
    *out = v;
    return 1;
}

static int parse(int argc, char **argv, struct options *o) {
    memset(o, 0, sizeof *o);
    o->steps = 20;
    o->sampler = LDM_SAMPLER_DDIM;
    o->cfg = 7.5f;
    o->strength = 0.8f;
    o->class_label = -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long n;
        double x;
        if (!strcmp(a, "--sample")) { o->sample = 1; continue; }
        if (!strcmp(a, "-q")) { o->quiet = 1; continue; }
        if (!strcmp(a, "--low-memory")) { o->low_memory = 1; continue; }
        if (!v) return bad_args("missing value after", a);
        i++;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "-n")) o->negative = v;
        else if (!strcmp(a, "-i")) o->input = v;
        else if (!strcmp(a, "-o")) o->output = v;
        else if (!strcmp(a, "--steps") && integer(v, 1, 10000, &n)) o->steps = (int)n;
        else if (!strcmp(a, "--cfg") && real(v, 0, 1000, &x)) { o->cfg = (float)x; o->cfg_given = 1; }
        else if (!strcmp(a, "--eta") && real(v, 0, 1, &x)) o->eta = (float)x;
        else if (!strcmp(a, "--strength") && real(v, 1e-6, 1, &x)) o->strength = (float)x;
        else if (!strcmp(a, "--seed") && integer(v, 0, ~0ULL, &n)) o->seed = n;
        else if (!strcmp(a, "-W") && integer(v, 1, 16384, &n)) o->width = (int)n;
        else if (!strcmp(a, "-H") && integer(v, 1, 16384, &n)) o->height = (int)n;
        else if (!strcmp(a, "--threads") && integer(v, 1, 1024, &n)) o->threads = (int)n;
        else if (!strcmp(a, "--class") && integer(v, 0, 1000000000, &n)) o->class_label = (int)n;
        else if (!strcmp(a, "--sampler")) {
            size_t k, n = sizeof samplers / sizeof *samplers;
            for (k = 0; k < n && strcmp(v, samplers[k]); k++) {}
            if (k == n) return bad_args("unknown sampler", v);
            o->sampler = (ldm_sampler_t)k;
        } else return bad_args("bad option or value", a);
    }
    return 0;
}

/* ---- progress bar ---------------------------------------------------------------------- */

struct progress {
    struct timespec start;
    int quiet;
};

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static bool on_step(int32_t step, int32_t n, void *user) {
    struct progress *p = user;
    if (p->quiet) return true;
    int width = 30, filled = (int)((long)step * width / (n > 0 ? n : 1));
    char bar[31];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    double t = seconds_since(&p->start);
    fprintf(stderr, "\r  [%s] %d/%d  %.2f s/step  %.1f s", bar, step, n, t / step, t);
    if (step == n) fputc('\n', stderr);
    return true;
}

/* ---- .npy latents ---------------------------------------------------------------------- */

static int write_npy(const char *path, ldm_tensor_t *t) {
    FILE *f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "ldm: cannot write %s: %s\n", path, strerror(errno)); return 1; }
    char shape[96] = "", dict[160];
    for (int i = 0; i < ldm_tensor_ndim(t); i++) {
        size_t len = strlen(shape);
        snprintf(shape + len, sizeof shape - len, "%lld, ", (long long)ldm_tensor_dim(t, i));
    }
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
    int pad = 64 - (10 + n + 1) % 64;
    unsigned short header = (unsigned short)(n + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(header & 0xFF, f);
    fputc(header >> 8, f);
    fprintf(f, "%s%*s\n", dict, pad, "");
    size_t count = (size_t)ldm_tensor_count(t);
    int ok = fwrite(ldm_tensor_data(t), sizeof(float), count, f) == count;
    return fclose(f) != 0 || !ok ? (fprintf(stderr, "ldm: cannot write %s\n", path), 1) : 0;
}

static int read_npy(const char *path, ldm_tensor_t **out) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "ldm: cannot read %s: %s\n", path, strerror(errno)); return 1; }
    unsigned char head[10];
    char dict[1024];
    int64_t shape[4];
    int ndim = 0, rc = 1;
    if (fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY", 6) || head[6] != 1) goto bad;
    size_t len = (size_t)head[8] | (size_t)head[9] << 8;
    if (len >= sizeof dict || fread(dict, 1, len, f) != len) goto bad;
    dict[len] = 0;
    if (!strstr(dict, "'<f4'") || !strstr(dict, "'fortran_order': False")) goto bad;
    const char *s = strstr(dict, "'shape': (");
    if (!s) goto bad;
    for (s += 10; *s && *s != ')' && ndim < 4; ) {
        char *end;
        long long d = strtoll(s, &end, 10);
        if (end == s || d <= 0) goto bad;
        shape[ndim++] = d;
        s = end;
        while (*s == ',' || *s == ' ') s++;
    }
    if (*s != ')' || ndim == 0) goto bad;
    ldm_status_t st = ldm_tensor_new(ndim, shape, NULL, out);
    if (st != LDM_OK) { fclose(f); return fail("latent", st); }
    size_t count = (size_t)ldm_tensor_count(*out);
    if (fread(ldm_tensor_data(*out), sizeof(float), count, f) == count) rc = 0;
    else { ldm_tensor_free(*out); *out = NULL; }
bad:
    if (rc) fprintf(stderr, "ldm: %s is not a float32 C-order .npy array\n", path);
    fclose(f);
    return rc;
}

/* ---- commands -------------------------------------------------------------------------- */

static int info(const char *path) {
    ldm_model_t *m = NULL;
    ldm_status_t s = ldm_model_load(path, &m);
    if (s != LDM_OK) return fail("loading the model", s);
    ldm_model_info_t i;
    i.struct_size = sizeof i;
    ldm_model_info(m, &i);
    static const char *types[] = {"F32", "F16", "BF16", "Q8_0"}, *ae[] = {"none", "KL", "VQ"};
    static const char *pred[] = {"epsilon", "sample (x0)", "v"};
    printf("%s\n  parameters      %.1f M, mostly %s\n", path, (double)i.n_params / 1e6, types[i.weight_type]);
    printf("  autoencoder     %s", ae[i.autoencoder]);
    if (i.autoencoder) printf(", f%d, %d latent channels, scale %g", i.downsample_factor, i.latent_channels, i.scale_factor);
    printf("\n  unet            %s", i.components & LDM_COMPONENT_UNET ? "yes" : "no");
    if (i.components & LDM_COMPONENT_UNET) {
        printf(", %d -> %d channels, predicts %s", i.unet_in_channels, i.unet_out_channels, pred[i.prediction]);
        if (i.sample_size) printf(", native latent %dx%d", i.sample_size, i.sample_size);
    }
    printf("\n  conditioning    ");
    if (i.components & LDM_COMPONENT_TEXT_ENCODER)
        printf("text (context %d, %d tokens a window%s)", i.context_dim, i.text_max_length,
               i.components & LDM_COMPONENT_TOKENIZER ? "" : ", no tokenizer found");
    else if (i.components & LDM_COMPONENT_CLASS_EMBEDDER) printf("class labels (as a context of width %d)", i.context_dim);
    else if (i.n_classes) printf("%d class labels%s", i.n_classes, i.context_dim ? " and a context" : "");
    else if (i.context_dim) printf("a context of width %d", i.context_dim);
    else printf("none");
    if (i.unet_in_channels > i.unet_out_channels && i.components & LDM_COMPONENT_UNET)
        printf(" + %d concat channels", i.unet_in_channels - i.unet_out_channels);
    printf("\n");
    ldm_model_free(m);
    return 0;
}

/* Builds the conditioning of txt2img/img2img: a prompt, a class or nothing; with guidance,
 * the negative prompt or the model's own unconditional side. */
static ldm_status_t conditioning(ldm_ctx_t *ctx, const struct options *o, int text, int guided, ldm_cond_t **cond,
                                 ldm_cond_t **uncond) {
    ldm_status_t s;
    if (o->prompt || (text && o->class_label < 0)) s = ldm_cond_text(ctx, o->prompt ? o->prompt : "", cond);
    else if ((s = ldm_cond_new(cond)) == LDM_OK && o->class_label >= 0) s = ldm_cond_set_class(*cond, o->class_label);
    if (s != LDM_OK || !guided) return s;
    return o->negative ? ldm_cond_text(ctx, o->negative, uncond) : ldm_cond_uncond(ctx, uncond);
}

static int generate(const struct options *o, int img2img) {
    if (!o->model || !o->output || (img2img && !o->input)) return bad_args("missing -m, -i or -o", NULL);
    ldm_model_t *m = NULL;
    ldm_ctx_t *ctx = NULL;
    ldm_cond_t *cond = NULL, *uncond = NULL;
    ldm_image_t *init = NULL, *out = NULL;
    ldm_tensor_t *latent = NULL;
    ldm_ctx_params_t cp;
    ldm_ctx_params_init(&cp, sizeof cp);
    cp.n_threads = o->threads;
    cp.low_memory = o->low_memory;
    ldm_model_info_t info;
    info.struct_size = sizeof info;
    ldm_status_t s = ldm_model_load(o->model, &m);
    const char *stage = "loading the model";
    if (s == LDM_OK) s = ldm_ctx_new(m, &cp, &ctx);
    if (s == LDM_OK) s = ldm_model_info(m, &info);
    /* Guidance needs something to guide by: off for unconditional models unless asked. */
    int conditional = o->prompt || o->class_label >= 0;
    float cfg = o->cfg_given || conditional ? o->cfg : 1.0f;
    if (s == LDM_OK && img2img) { stage = "reading the image"; s = ldm_image_read_png(o->input, &init); }
    if (s == LDM_OK) {
        stage = "encoding the prompt";
        s = conditioning(ctx, o, (info.components & LDM_COMPONENT_TEXT_ENCODER) != 0, cfg != 1.0f, &cond, &uncond);
    }
    if (s == LDM_OK) {
        struct progress p = {{0, 0}, o->quiet};
        clock_gettime(CLOCK_MONOTONIC, &p.start);
        ldm_sample_params_t sp;
        ldm_sample_params_init(&sp, sizeof sp);
        sp.sampler = o->sampler;
        sp.steps = o->steps;
        sp.guidance = cfg;
        sp.eta = o->eta;
        sp.seed = o->seed;
        sp.width = o->width;
        sp.height = o->height;
        sp.init_image = init;
        sp.strength = o->strength;
        sp.progress = on_step;
        sp.progress_user = &p;
        stage = "sampling";
        s = ldm_sample(ctx, &sp, cond, uncond, &latent);
    }
    if (s == LDM_OK) { stage = "decoding"; s = ldm_decode(ctx, latent, &out); }
    if (s == LDM_OK) { stage = "writing the image"; s = ldm_image_write_png(out, o->output); }
    int rc = s == LDM_OK ? 0 : fail(stage, s);
    if (!rc && !o->quiet) fprintf(stderr, "wrote %s (%dx%d)\n", o->output, ldm_image_width(out), ldm_image_height(out));
    ldm_image_free(out);
    ldm_image_free(init);
    ldm_tensor_free(latent);
    ldm_cond_free(cond);
    ldm_cond_free(uncond);
    ldm_ctx_free(ctx);
    ldm_model_free(m);
    return rc;
}

static int encode_or_decode(const struct options *o, int encode) {
    if (!o->model || !o->input || !o->output) return bad_args("missing -m, -i or -o", NULL);
    ldm_model_t *m = NULL;
    ldm_ctx_t *ctx = NULL;
    ldm_image_t *img = NULL;
    ldm_tensor_t *latent = NULL;
    ldm_ctx_params_t cp;
    ldm_ctx_params_init(&cp, sizeof cp);
    cp.n_threads = o->threads;
    cp.low_memory = o->low_memory;
    const char *stage = "loading the model";
    ldm_status_t s = ldm_model_load(o->model, &m);
    if (s == LDM_OK) s = ldm_ctx_new(m, &cp, &ctx);
    int rc = 0;
    if (s == LDM_OK && encode) {
        ldm_encode_params_t ep;
        ldm_encode_params_init(&ep, sizeof ep);
        ep.sample = o->sample != 0;
        ep.seed = o->seed;
        stage = "reading the image";
        if ((s = ldm_image_read_png(o->input, &img)) == LDM_OK && (stage = "encoding", s = ldm_encode(ctx, img, &ep, &latent)) == LDM_OK)
            rc = write_npy(o->output, latent);
    } else if (s == LDM_OK) {
        if (read_npy(o->input, &latent)) rc = 1;
        else if ((stage = "decoding", s = ldm_decode(ctx, latent, &img)) == LDM_OK) {
            stage = "writing the image";
            s = ldm_image_write_png(img, o->output);
        }
    }
    if (s != LDM_OK) rc = fail(stage, s);
    ldm_image_free(img);
    ldm_tensor_free(latent);
    ldm_ctx_free(ctx);
    ldm_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "info")) return argc == 3 ? info(argv[2]) : bad_args("info takes one MODEL", NULL);
    struct options o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    if (!strcmp(argv[1], "txt2img")) return generate(&o, 0);
    if (!strcmp(argv[1], "img2img")) return generate(&o, 1);
    if (!strcmp(argv[1], "encode")) return encode_or_decode(&o, 1);
    if (!strcmp(argv[1], "decode")) return encode_or_decode(&o, 0);
    return bad_args("unknown command", argv[1]);
}
