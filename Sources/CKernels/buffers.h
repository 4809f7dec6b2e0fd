/* Scratch buffers kept for reuse between products (private to CKernels; see buffers.c). */
#ifndef CK_BUFFERS_H
#define CK_BUFFERS_H

#include <stddef.h>

/* Floats in every buffer. */
#define CK_BUFFER_FLOATS ((size_t)5 << 18) /* 5 MB */

/* An idle buffer, or a new one (NULL when out of memory); ck_buffer_give hands it back. */
float *ck_buffer_take(void);
void ck_buffer_give(float *buffer);

#endif
