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

/* ---- thread pool: parts claimed from one atomic word ----
 * A run is a few microseconds to a few milliseconds of work, and an
 * inference is hundreds of runs: waking a sleeping thread through the
 * kernel costs as much as a small run (perf: 2 threads were slower than 1
 * on a 3 ms model).  So both sides spin for a while first: a worker on the
 * run word, the caller on the count of finished parts; only past SPIN polls
 * do they sleep on the condition variables, under the mutex, which a run is
 * also published under (no lost wake-up).
 *
 * The run word holds (run number, parts, next part to claim).  The caller
 * runs part 0, then claims whatever parts no worker has claimed yet and runs
 * them too: when other processes hold the cores, a worker the system has
 * not scheduled does not hold the run back (it finds nothing left to claim
 * when it wakes).  A worker claims by compare-and-swap on the whole word,
 * so a claim always names the current run; fn and ctx stay valid until the
 * claimed part is done, as the caller waits for every part. */
#define SPIN 2000

struct sk_pool {
    int n;
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done_cv;
    _Atomic uint64_t word;      /* run number << 32 | parts << 16 | next part */
    _Atomic int done;           /* parts of the current run finished */
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

static inline uint32_t run_of(uint64_t w) { return (uint32_t)(w >> 32); }

/* Claim the next part of run `run` if one is left: its index, or -1. */
static int claim(sk_pool *p, uint32_t run)
{
    uint64_t w = atomic_load_explicit(&p->word, memory_order_acquire);
    for (;;) {
        int parts = (int)(w >> 16 & 0xffff), next = (int)(w & 0xffff);
        if (run_of(w) != run || next >= parts) return -1;
        if (atomic_compare_exchange_weak_explicit(&p->word, &w, w + 1, memory_order_acq_rel, memory_order_acquire))
            return next;
    }
}

/* Run part i of the current run and count it; the last part wakes a sleeping caller. */
static void run_part(sk_pool *p, int i, int n)
{
    p->fn(p->ctx, i, n);
    if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == n) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *worker(void *arg)
{
    sk_pool *p = arg;
    uint32_t seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN && run_of(atomic_load_explicit(&p->word, memory_order_acquire)) == seen &&
                        !atomic_load_explicit(&p->quit, memory_order_relaxed); i++)
            cpu_relax();
        if (run_of(atomic_load(&p->word)) == seen) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (run_of(atomic_load(&p->word)) == seen && !atomic_load(&p->quit)) pthread_cond_wait(&p->go, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) return NULL;
        uint64_t w = atomic_load_explicit(&p->word, memory_order_acquire);
        seen = run_of(w);
        for (int i; (i = claim(p, seen)) >= 0;) run_part(p, i, (int)(w >> 16 & 0xffff));
    }
}

sk_pool *sk_pool_new(int nthreads)
{
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 0xffff) nthreads = 0xffff;
    sk_pool *p = sk_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = nthreads;
    atomic_init(&p->word, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->quit, false);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->th = sk_calloc((size_t)nthreads, sizeof *p->th);
    if (!p->th) { sk_free(p); return NULL; }
    for (int i = 1; i < nthreads; i++)
        if (pthread_create(&p->th[i], NULL, worker, p) != 0) { p->n = i; break; }
    return p;
}

int sk_pool_size(const sk_pool *p) { return p ? p->n : 1; }

void sk_pool_run(sk_pool *p, void (*fn)(void *ctx, int i, int n), void *ctx)
{
    if (!p || p->n == 1) { fn(ctx, 0, 1); return; }
    const int n = p->n;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    uint32_t run = run_of(atomic_load_explicit(&p->word, memory_order_relaxed)) + 1;
    /* part 0 is the caller's: workers claim from 1 on; publishes fn, ctx */
    atomic_store_explicit(&p->word, (uint64_t)run << 32 | (uint64_t)n << 16 | 1, memory_order_release);
    if (p->sleepers) pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_part(p, 0, n);
    for (int i; (i = claim(p, run)) >= 0;) run_part(p, i, n);
    for (int i = 0; i < SPIN && atomic_load_explicit(&p->done, memory_order_acquire) < n; i++) cpu_relax();
    if (atomic_load_explicit(&p->done, memory_order_acquire) < n) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->done) < n) pthread_cond_wait(&p->done_cv, &p->mu);
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
    pthread_cond_destroy(&p->done_cv);
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
    if (!sk_verbose) {
        const char *e = getenv("SHRINK_VERBOSE");   /* set by a caller, or from the environment */
        if (!e || !*e || !strcmp(e, "0")) return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
