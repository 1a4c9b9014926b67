/* sys.c — clocks, CPU features, peak memory, the thread pool, progress, logs.
 *
 * CPU features come from cpuid at run time so one binary picks AVX-512/VNNI,
 * AVX2 or scalar kernels on whatever machine it lands on.
 */
#include <cpuid.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "util/util.h"

int sk_verbose;

double sk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

long sk_peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static sk_cpu cpu;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void cpu_detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned maxleaf = a;
    bool osxsave = false, ymm = false, zmm = false;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        osxsave = c & (1u << 27);
        cpu.fma = c & (1u << 12);
    }
    if (osxsave) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        ymm = (lo & 0x6) == 0x6;
        zmm = (lo & 0xe6) == 0xe6;
    }
    if (maxleaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        cpu.avx2 = ymm && (b & (1u << 5));
        cpu.avx512f = zmm && (b & (1u << 16));
        cpu.avx512bw = zmm && (b & (1u << 30));
        cpu.avx512vl = zmm && (b & (1u << 31));
        cpu.avx512vnni = zmm && (c & (1u << 11));
        __cpuid_count(7, 1, a, b, c, d);
        cpu.avxvnni = ymm && (a & (1u << 4));
    }
    cpu.fma = cpu.fma && ymm;
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        unsigned *w = (unsigned *)cpu.brand;
        for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002 + i, &w[4 * i], &w[4 * i + 1], &w[4 * i + 2], &w[4 * i + 3]);
        cpu.brand[48] = 0;
        char *s = cpu.brand;
        while (*s == ' ') s++;
        memmove(cpu.brand, s, strlen(s) + 1);
    }
    /* SHRINK_ISA=scalar|avx2 caps the kernels, to test the slower paths. */
    const char *isa = getenv("SHRINK_ISA");
    if (isa && (!strcmp(isa, "scalar") || !strcmp(isa, "avx2"))) {
        cpu.avx512f = cpu.avx512bw = cpu.avx512vl = cpu.avx512vnni = false;
        if (!strcmp(isa, "scalar")) cpu.avx2 = cpu.fma = cpu.avxvnni = false;
    }
}

const sk_cpu *sk_cpu_get(void)
{
    pthread_once(&cpu_once, cpu_detect);
    return &cpu;
}

int sk_default_threads(void)
{
    const char *e = getenv("SHRINK_THREADS");
    if (e && atoi(e) > 0) return atoi(e);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- thread pool: workers wait on a generation counter ----
 * A run is a few microseconds to a few milliseconds of work, and an
 * inference is hundreds of runs: waking a sleeping thread through the
 * kernel costs as much as a small run (perf: 2 threads were slower than 1
 * on a 3 ms model).  So both sides spin for a while first: a worker on the
 * generation counter, the caller on the pending count; only past SPIN
 * polls do they sleep on the condition variables, under the mutex, which
 * the generation counter is also changed under (no lost wake-up). */
#define SPIN 2000

struct sk_pool {
    int n;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    _Atomic long gen;
    _Atomic int pending;
    _Atomic bool quit;
    int sleepers;               /* workers waiting on go (under mu) */
    void (*fn)(void *, int, int);
    void *ctx;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

typedef struct { sk_pool *p; int i; } worker_arg;

static void *worker(void *arg)
{
    worker_arg wa = *(worker_arg *)arg;
    sk_free(arg);
    sk_pool *p = wa.p;
    long seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN && atomic_load_explicit(&p->gen, memory_order_acquire) == seen &&
                        !atomic_load_explicit(&p->quit, memory_order_relaxed); i++)
            cpu_relax();
        pthread_mutex_lock(&p->mu);
        p->sleepers++;
        while (atomic_load(&p->gen) == seen && !atomic_load(&p->quit)) pthread_cond_wait(&p->go, &p->mu);
        p->sleepers--;
        if (atomic_load(&p->quit)) { pthread_mutex_unlock(&p->mu); return NULL; }
        seen = atomic_load(&p->gen);
        void (*fn)(void *, int, int) = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, wa.i, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

sk_pool *sk_pool_new(int nthreads)
{
    if (nthreads < 1) nthreads = 1;
    sk_pool *p = sk_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = nthreads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, false);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    p->th = sk_calloc((size_t)nthreads, sizeof *p->th);
    if (!p->th) { sk_free(p); return NULL; }
    for (int i = 1; i < nthreads; i++) {
        worker_arg *wa = sk_malloc(sizeof *wa);
        if (!wa) { p->n = i; break; }
        wa->p = p;
        wa->i = i;
        if (pthread_create(&p->th[i], NULL, worker, wa) != 0) { sk_free(wa); p->n = i; break; }
    }
    return p;
}

int sk_pool_size(const sk_pool *p) { return p ? p->n : 1; }

void sk_pool_run(sk_pool *p, void (*fn)(void *ctx, int i, int n), void *ctx)
{
    if (!p || p->n == 1) { fn(ctx, 0, 1); return; }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);   /* publishes fn, ctx */
    if (p->sleepers) pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    for (int i = 0; i < SPIN && atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) cpu_relax();
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void sk_pool_free(sk_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, true);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    sk_free(p->th);
    sk_free(p);
}

/* ---- progress ---- */
void sk_progress_start(sk_progress *p, const char *label, long total)
{
    p->label = label;
    p->total = total;
    p->t0 = p->last = sk_now();
    p->on = isatty(2) || getenv("SHRINK_PROGRESS");
}

void sk_progress_update(sk_progress *p, long done, const char *extra)
{
    if (!p->on) return;
    double t = sk_now();
    if (t - p->last < 0.1 && done < p->total) return;
    p->last = t;
    double el = t - p->t0;
    double eta = done > 0 ? el * (double)(p->total - done) / (double)done : 0;
    fprintf(stderr, "\r%s %ld/%ld  %.1fs elapsed  ETA %.1fs  %s\033[K", p->label, done, p->total, el, eta,
            extra ? extra : "");
    fflush(stderr);
}

void sk_progress_end(sk_progress *p)
{
    if (p->on) fprintf(stderr, "\r\033[K");
}

void sk_log(const char *fmt, ...)
{
    if (!sk_verbose) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
