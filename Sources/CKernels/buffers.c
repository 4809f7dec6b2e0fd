/* The buffers ck_sgemm packs its operands into, kept for the next product rather than
 * allocated and freed by each: a 512 px UNet call runs some 16,000 products, and glibc, its
 * mmap threshold raised by the first frees, served them from heaps whose freed pages stayed
 * resident, so the call's peak anonymous memory moved with how the heaps fragmented (366 to
 * 411 MB from run to run with Q8_0 weights). Buffers are mapped, so only pages in use become
 * resident, and ck_release_buffers() unmaps the idle ones at the end of each top-level call. */
#include "buffers.h"
#include "ckernels.h"

#include <pthread.h>
#include <sys/mman.h>

/* Idle buffers kept, at most: one for each product that ran at once, which one parallel region
 * of up to 64 parts (ck_parallel's limit) does not exceed; more are unmapped when given back. */
enum { KEPT = 64 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static float *idle[KEPT];
static size_t idle_count;

static size_t buffer_bytes(void) { return CK_BUFFER_FLOATS * sizeof(float); }

float *ck_buffer_take(void) {
    float *b = NULL;
    pthread_mutex_lock(&lock);
    if (idle_count) b = idle[--idle_count];
    pthread_mutex_unlock(&lock);
    if (b) return b;
    void *p = mmap(NULL, buffer_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void ck_buffer_give(float *buffer) {
    pthread_mutex_lock(&lock);
    int kept = idle_count < KEPT;
    if (kept) idle[idle_count++] = buffer;
    pthread_mutex_unlock(&lock);
    if (!kept) munmap(buffer, buffer_bytes());
}

void ck_release_buffers(void) {
    pthread_mutex_lock(&lock);
    size_t n = idle_count;
    float *gone[KEPT];
    for (size_t i = 0; i < n; i++) gone[i] = idle[i];
    idle_count = 0;
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++) munmap(gone[i], buffer_bytes());
}
