/* error.c — per-thread error messages, the allocation hook, checked sizes.
 *
 * Every failing call leaves one line in a thread-local buffer; the CLI prints
 * it.  All allocations go through sk_malloc so tests can make one fail.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "util/util.h"

static _Thread_local char errbuf[1024];

const char *sk_errmsg(void) { return errbuf; }
void sk_err_clear(void) { errbuf[0] = 0; }

const char *sk_status_name(sk_status st)
{
    switch (st) {
    case SK_OK: return "ok";
    case SK_ERR_IO: return "i/o error";
    case SK_ERR_FORMAT: return "format error";
    case SK_ERR_UNSUPPORTED: return "unsupported";
    case SK_ERR_INVALID: return "invalid";
    case SK_ERR_NOMEM: return "out of memory";
    case SK_ERR_USAGE: return "usage";
    case SK_ERR_GATE: return "gate failed";
    }
    return "?";
}

sk_status sk_err(sk_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return st;
}

sk_status sk_err_prefix(sk_status st, const char *fmt, ...)
{
    char pre[512], old[sizeof errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    size_t n = strlen(pre);
    if (n > sizeof errbuf - 3) n = sizeof errbuf - 3;
    memcpy(errbuf, pre, n);
    memcpy(errbuf + n, ": ", 2);
    size_t m = strlen(old);
    if (m > sizeof errbuf - n - 3) m = sizeof errbuf - n - 3;
    memcpy(errbuf + n + 2, old, m);
    errbuf[n + 2 + m] = 0;
    return st;
}

_Noreturn void sk_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "shrink: internal error: %s:%d: assertion '%s' failed\n", file, line, expr);
    abort();
}

/* ---- allocation ---- */
static long fail_countdown;   /* 0 = off; else the Nth call fails */

void sk_alloc_fail_after(long n) { fail_countdown = n; }

static bool should_fail(void)
{
    if (fail_countdown > 0 && --fail_countdown == 0)
        return true;
    return false;
}

void *sk_malloc(size_t n)
{
    void *p = should_fail() ? NULL : malloc(n ? n : 1);
    if (!p) sk_err(SK_ERR_NOMEM, "out of memory (%zu bytes)", n);
    return p;
}

void *sk_calloc(size_t n, size_t size)
{
    void *p = should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
    if (!p) sk_err(SK_ERR_NOMEM, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *sk_realloc(void *p, size_t n)
{
    void *q = should_fail() ? NULL : realloc(p, n ? n : 1);
    if (!q) sk_err(SK_ERR_NOMEM, "out of memory (%zu bytes)", n);
    return q;
}

void *sk_aligned_alloc(size_t align, size_t n)
{
    void *p = NULL;
    if (should_fail() || posix_memalign(&p, align, n ? n : 1) != 0) {
        sk_err(SK_ERR_NOMEM, "out of memory (%zu bytes)", n);
        return NULL;
    }
    return p;
}

char *sk_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sk_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void sk_free(void *p) { free(p); }

bool sk_mul_size(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
bool sk_add_size(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

sk_status sk_grow(void **arr, int *cap, int need, size_t esz)
{
    if (need <= *cap) return SK_OK;
    int nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > (1 << 29)) return sk_err(SK_ERR_NOMEM, "array too large (%d elements)", need);
        nc *= 2;
    }
    size_t bytes;
    if (!sk_mul_size((size_t)nc, esz, &bytes)) return sk_err(SK_ERR_NOMEM, "array too large");
    void *p = sk_realloc(*arr, bytes);
    if (!p) return SK_ERR_NOMEM;
    memset((char *)p + (size_t)*cap * esz, 0, (size_t)(nc - *cap) * esz);
    *arr = p;
    *cap = nc;
    return SK_OK;
}
