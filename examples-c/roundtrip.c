/* roundtrip: encode a PNG to a latent with a model's autoencoder, decode it back, save it.
 *
 *   roundtrip MODEL IN.png OUT.png [--sample SEED]
 */
#include <ldm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 4 && !(argc == 6 && strcmp(argv[4], "--sample") == 0)) {
        fprintf(stderr, "usage: %s MODEL IN.png OUT.png [--sample SEED]\n", argv[0]);
        return 2;
    }
    ldm_model_t *model = NULL;
    ldm_ctx_t *ctx = NULL;
    ldm_image_t *in = NULL, *out = NULL;
    ldm_tensor_t *latent = NULL;
    ldm_encode_params_t params;
    ldm_encode_params_init(&params, sizeof params);
    if (argc == 6) {
        params.sample = true;
        params.seed = strtoull(argv[5], NULL, 10);
    }

    ldm_status_t s;
    if ((s = ldm_model_load(argv[1], &model)) == LDM_OK && (s = ldm_ctx_new(model, NULL, &ctx)) == LDM_OK &&
        (s = ldm_image_read_png(argv[2], &in)) == LDM_OK && (s = ldm_encode(ctx, in, &params, &latent)) == LDM_OK &&
        (s = ldm_decode(ctx, latent, &out)) == LDM_OK && (s = ldm_image_write_png(out, argv[3])) == LDM_OK) {
        printf("%s: %dx%d -> latent %lldx%lldx%lld -> %s\n", argv[2], ldm_image_width(in), ldm_image_height(in),
               (long long)ldm_tensor_dim(latent, 0), (long long)ldm_tensor_dim(latent, 1),
               (long long)ldm_tensor_dim(latent, 2), argv[3]);
    } else {
        fprintf(stderr, "roundtrip: %s: %s\n", ldm_status_str(s), ldm_last_error());
    }
    ldm_image_free(out);
    ldm_tensor_free(latent);
    ldm_image_free(in);
    ldm_ctx_free(ctx);
    ldm_model_free(model);
    return s == LDM_OK ? 0 : 1;
}
