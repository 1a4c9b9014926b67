/* test_pool.c — the fork-join pool (src/util/sys.c, sk_pool_run).
 *
 * Every run must call fn(ctx, i, n) exactly once for each i in [0, n), with
 * n the pool's size, and return only when all parts are done (their writes
 * visible to the caller).  Parts are claimed: the caller runs part 0, then
 * any part no worker has claimed yet, so which thread runs which part
 * varies; that is counted and printed, not checked.  The runs cover pools
 * of 1 to 4 threads, back-to-back runs (workers spinning), runs after a
 * pause (workers asleep on the condition variable: a run must wake them or
 * go on without them), slow parts on either side, and a pool freed while
 * its workers sleep.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "util/util.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

#define MAXT 4

typedef struct {
    int run;                   /* this run's number, written into out[] by each part */
    int n_expected;
    _Atomic int calls[MAXT];   /* times part i was called in this run */
    int out[MAXT];
    _Atomic int bad_n;         /* parts that saw another n */
    _Atomic int by_caller;     /* parts other than 0 that ran on the calling thread */
    pthread_t caller;
    int slow_part;             /* this part sleeps (-1: none) */
} job;

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

static void part(void *ctx, int i, int n)
{
    job *j = ctx;
    if (n != j->n_expected || i < 0 || i >= MAXT) { atomic_fetch_add(&j->bad_n, 1); return; }
    if (i == j->slow_part) sleep_us(2000);
    atomic_fetch_add(&j->calls[i], 1);
    j->out[i] = j->run;
    if (i && pthread_equal(pthread_self(), j->caller)) atomic_fetch_add(&j->by_caller, 1);
}

static void check_pool(int nthreads)
{
    sk_pool *p = sk_pool_new(nthreads);
    CHECK(p != NULL);
    if (!p) return;
    int n = sk_pool_size(p);
    CHECK(n == nthreads);
    int bad = 0, by_caller = 0;
    for (int r = 0; r < 3000; r++) {
        job j;
        memset(&j, 0, sizeof j);
        j.run = r + 1;
        j.n_expected = n;
        j.caller = pthread_self();
        j.slow_part = r % 100 == 7 ? 0 : r % 100 == 8 ? n - 1 : -1;
        if (r % 500 == 250) sleep_us(20000);   /* workers go to sleep: the next runs wake them */
        sk_pool_run(p, part, &j);
        for (int i = 0; i < n; i++)
            if (atomic_load(&j.calls[i]) != 1 || j.out[i] != j.run) bad++;
        if (atomic_load(&j.bad_n)) bad++;
        by_caller += atomic_load(&j.by_caller);
    }
    CHECK(bad == 0);
    printf("pool of %d: 3000 runs, %d bad; parts past 0 run by the caller: %d (not checked)\n", n, bad, by_caller);
    sleep_us(20000);   /* freed while the workers sleep */
    sk_pool_free(p);
}

/* NULL pool and one thread: the part runs on the caller */
static void check_trivial(void)
{
    job j;
    memset(&j, 0, sizeof j);
    j.run = 1;
    j.n_expected = 1;
    j.caller = pthread_self();
    j.slow_part = -1;
    sk_pool_run(NULL, part, &j);
    CHECK(atomic_load(&j.calls[0]) == 1 && j.out[0] == 1 && !atomic_load(&j.bad_n));
    CHECK(sk_pool_size(NULL) == 1);
}

int main(void)
{
    check_trivial();
    for (int t = 1; t <= MAXT; t++) check_pool(t);
    printf("%d checks, %d failed\n", checks, fails);
    return fails != 0;
}
