/* Compiles ldm.h alone under strict C99, clang and C++: every declaration must be valid in all. */
#include "ldm.h"

int main(void) {
    ldm_model_info_t info;
    ldm_ctx_params_t ctx_params;
    ldm_encode_params_t enc_params;
    ldm_status_t status = LDM_OK;
    ldm_log_fn log_fn = 0;
    (void)info;
    (void)ctx_params;
    (void)enc_params;
    (void)log_fn;
    return (int)status + LDM_VERSION_MAJOR * 0;
}
