/* Worker threads for parallel regions. A UNet call opens about a thousand regions of a few
 * milliseconds each; libdispatch wakes a sleeping thread for each, and where the caller
 * finishes its own part first it runs the other one too (one region in thirteen ran on one
 * thread). These workers spin for about a millisecond after each region, so the next one
 * mostly finds them awake, then sleep until woken; part p always runs on worker p (the caller
 * is worker 0). Measured alternately in one process, 2 threads: UNet call 4.5% faster at 256
 * and 512 px, text encoder and VAE decode 6%; outputs bitwise the same. The threads live as
 * long as the process, as libdispatch's do. A region of more parts than the process has CPUs
 * is left to libdispatch: a spinning worker would take a CPU from a working one. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "ckernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

enum {
    MAX_PARTS = 64,
    PARTS_BITS = 7,  /* the region word: its number above, its part count below */
    SPIN = 1 << 14   /* pauses before a worker sleeps (or the caller yields) */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int sleepers;          /* under lock */
    atomic_int busy;       /* a caller holds the workers */
    atomic_ulong region;   /* number << PARTS_BITS | parts */
    atomic_size_t pending; /* workers still running their part */
    size_t workers;        /* started, besides the caller */
    ck_part_fn fn;         /* written before the region word, read by its workers only */
    void *ctx;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

typedef struct {
    size_t me;
    unsigned long seen;
} start;

static start starts[MAX_PARTS];

static void *worker(void *arg) {
    size_t me = ((start *)arg)->me;
    unsigned long seen = ((start *)arg)->seen;
    for (;;) {
        unsigned long r;
        for (int spins = 0; (r = atomic_load_explicit(&pool.region, memory_order_acquire)) == seen;) {
            if (++spins < SPIN) {
                relax();
                continue;
            }
            pthread_mutex_lock(&pool.lock);
            pool.sleepers++;
            while (atomic_load_explicit(&pool.region, memory_order_acquire) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
            pthread_mutex_unlock(&pool.lock);
        }
        seen = r;
        /* A worker outside this region reads nothing more: by the time it looks, the next
         * region may be being written. One inside it is waited for before the next. */
        if (me < (r & ((1u << PARTS_BITS) - 1))) {
            pool.fn(pool.ctx, me);
            atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
        }
    }
    return NULL;
}

/* A forked child has the parent's memory but only the forking thread. */
static void forget_workers(void) {
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pool.sleepers = 0;
    pool.workers = 0;
    atomic_store(&pool.busy, 0);
}

static size_t cpus = 1; /* the process may run on */

static void set_up(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = (size_t)CPU_COUNT(&set);
    pthread_atfork(NULL, NULL, forget_workers);
}

static int start_workers(size_t parts) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr)) return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int ok = 1;
    while (ok && pool.workers + 1 < parts) {
        start *s = &starts[pool.workers + 1];
        *s = (start){pool.workers + 1, atomic_load(&pool.region)};
        pthread_t t;
        ok = pthread_create(&t, &attr, worker, s) == 0;
        pool.workers += ok;
    }
    pthread_attr_destroy(&attr);
    return ok ? 0 : -1;
}

int ck_parallel(size_t parts, ck_part_fn fn, void *ctx) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, set_up);
    int idle = 0;
    if (parts < 2 || parts > MAX_PARTS || parts > cpus || !atomic_compare_exchange_strong(&pool.busy, &idle, 1)) return -1;
    if (start_workers(parts)) {
        atomic_store(&pool.busy, 0);
        return -1;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store_explicit(&pool.pending, parts - 1, memory_order_relaxed);
    unsigned long next = ((atomic_load(&pool.region) >> PARTS_BITS) + 1) << PARTS_BITS | parts;
    pthread_mutex_lock(&pool.lock); /* a worker about to sleep checks the region under it */
    atomic_store_explicit(&pool.region, next, memory_order_release);
    if (pool.sleepers) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    fn(ctx, 0);
    for (int spins = 0; atomic_load_explicit(&pool.pending, memory_order_acquire);) {
        if (spins < SPIN) spins++, relax();
        else sched_yield();
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return 0;
}

/* Uneven ranges. A cloud host's two vCPUs are seldom equally fast for long: the same in-cache
 * product ran at 134 and then 102 GFLOP/s on one of them, minutes apart, while the other held
 * 133-138 (another tenant's work shares its core), and with even ranges the faster part then
 * waits for the slower. So each region is cut by the speeds its parts showed before: items per
 * second of each worker against the caller's, a moving average over the regions. Every kernel
 * computes an element the same way wherever its range is cut, so outputs stay bitwise the
 * same. Against even ranges, alternately in one process (2 threads): UNet call 0.93 / 0.93
 * (256 px, 14 and 10 pairs) and 0.90 (512 px, 5 pairs) of the time, Q8_0 0.94, text encoder
 * 0.94, VAE decode 1.00. */
enum {
    MIN_LEARN_NS = 100000 /* parts shorter than this (start-up, a cold cache) teach nothing */
};
static _Atomic double pace[MAX_PARTS]; /* worker p's speed over the caller's; 0: not yet seen */

static double pace_of(size_t p) {
    double v = p ? atomic_load_explicit(&pace[p], memory_order_relaxed) : 1;
    return v > 0 ? v : 1;
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

typedef struct {
    ck_range_fn fn;
    void *ctx;
    size_t cut[MAX_PARTS + 1];
    long long took[MAX_PARTS];
} ranges;

static void run_range(void *ctx, size_t p) {
    ranges *r = ctx;
    long long t = now_ns();
    if (r->cut[p] < r->cut[p + 1]) r->fn(r->ctx, p, r->cut[p], r->cut[p + 1]);
    r->took[p] = now_ns() - t;
}

void ck_parallel_cuts(size_t n, size_t parts, size_t *cut) {
    double total = 0, sum = 0;
    for (size_t p = 0; p < parts; p++) total += pace_of(p);
    cut[0] = 0;
    for (size_t p = 1; p < parts; p++) {
        sum += pace_of(p - 1);
        size_t c = (size_t)((double)n * sum / total); /* n * p / parts while the speeds are equal */
        cut[p] = c < cut[p - 1] ? cut[p - 1] : c > n ? n : c;
    }
    cut[parts] = n;
}

int ck_parallel_ranges(size_t n, size_t parts, ck_range_fn fn, void *ctx) {
    if (parts < 2 || parts > MAX_PARTS) return -1;
    ranges r = {fn, ctx, {0}, {0}};
    ck_parallel_cuts(n, parts, r.cut);
    if (ck_parallel(parts, run_range, &r)) return -1;
    double own = r.cut[1] - r.cut[0], own_ns = (double)r.took[0];
    if (own == 0 || own_ns < MIN_LEARN_NS) return 0;
    for (size_t p = 1; p < parts; p++) {
        double items = (double)(r.cut[p + 1] - r.cut[p]), ns = (double)r.took[p];
        if (items == 0 || ns < MIN_LEARN_NS) continue;
        double v = 0.9 * pace_of(p) + 0.1 * (items / ns) / (own / own_ns);
        atomic_store_explicit(&pace[p], v < 0.25 ? 0.25 : v > 4 ? 4 : v, memory_order_relaxed);
    }
    return 0;
}
