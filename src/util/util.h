/* util.h — errors, allocation, files, threads, CPU features.
 *
 * Small services every layer uses.  Nothing here knows about models.
 */
#ifndef SK_UTIL_H
#define SK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "shrink.h"

#if defined(__GNUC__)
#define SK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SK_PRINTF(a, b)
#endif

/* ---- errors ---- */
/* Record a message for sk_errmsg() and return st, so callers write
 *   return sk_err(SK_ERR_FORMAT, "%s: tensor '%s': offset %zu past end", path, name, off); */
sk_status sk_err(sk_status st, const char *fmt, ...) SK_PRINTF(2, 3);
/* Prefix the current message: "ctx: <old message>". Returns st. */
sk_status sk_err_prefix(sk_status st, const char *fmt, ...) SK_PRINTF(2, 3);
void sk_err_clear(void);

/* Internal bugs, never user input: abort with file:line. */
#define SK_ASSERT(c) do { if (!(c)) sk_assert_fail(#c, __FILE__, __LINE__); } while (0)
_Noreturn void sk_assert_fail(const char *expr, const char *file, int line);

/* ---- allocation (one hook, so tests can inject failures) ---- */
/* On failure these set the error (SK_ERR_NOMEM) and return NULL. */
void *sk_malloc(size_t n);
void *sk_calloc(size_t n, size_t size);
void *sk_realloc(void *p, size_t n);
void *sk_aligned_alloc(size_t align, size_t n);   /* free with sk_free */
char *sk_strdup(const char *s);
void sk_free(void *p);
/* Tests: make the Nth allocation from now fail (0 = never). */
void sk_alloc_fail_after(long n);
/* Checked size arithmetic: false on overflow. */
bool sk_mul_size(size_t a, size_t b, size_t *out);
bool sk_add_size(size_t a, size_t b, size_t *out);
/* Grow *arr (element size esz) so it holds at least need elements. */
sk_status sk_grow(void **arr, int *cap, int need, size_t esz);

/* ---- files ---- */
/* Read a whole file; *data is NUL-terminated (not counted in *len); free with sk_free. */
sk_status sk_read_file(const char *path, char **data, size_t *len);
/* Map a file read-only. *addr is NULL for an empty file. */
sk_status sk_mmap_file(const char *path, void **addr, size_t *len);
void sk_munmap(void *addr, size_t len);
bool sk_file_exists(const char *path);
bool sk_is_dir(const char *path);
/* Join a directory and a file name into a new string (sk_free it). */
char *sk_path_join(const char *dir, const char *name);
/* Directory part of path (new string, "." if none). */
char *sk_path_dir(const char *path);
const char *sk_path_ext(const char *path);        /* ".onnx" or "" */

/* Atomic write: open a temp file in the destination's folder, write, fsync,
 * rename over dest.  If dest exists and !force, fail before writing.  The
 * temporary is ".DEST.tmp<pid>.XXXXXX"; opening first removes the temporaries
 * of dest left by dead processes (sk_afile_clean_stale). */
typedef struct sk_afile {
    FILE *f;
    char *tmp, *dest;
    bool failed;
} sk_afile;
sk_status sk_afile_open(sk_afile *af, const char *dest, bool force);
sk_status sk_afile_write(sk_afile *af, const void *p, size_t n);
sk_status sk_afile_commit(sk_afile *af);   /* fsync + rename; closes */
void sk_afile_abort(sk_afile *af);         /* removes the temp file; closes */
/* The whole of p[0..n) into dest, atomically (open, write, commit). */
sk_status sk_afile_write_file(const char *dest, const void *p, size_t n, bool force);
/* Remove dest's temporaries whose writer is dead (kill(pid, 0) fails with
 * ESRCH; pids are those of this machine's pid namespace).  Returns how many. */
int sk_afile_clean_stale(const char *dest);

/* ---- NumPy .npy (v1/v2/v3, little-endian, C order) ---- */
typedef struct sk_npy {
    int dtype;              /* sk_dtype */
    int rank;
    int64_t dims[8];
    void *data;             /* sk_free it */
    size_t nbytes;
} sk_npy;
sk_status sk_npy_read(const char *path, sk_npy *out);
sk_status sk_npy_write(const char *path, int dtype, int rank, const int64_t *dims, const void *data, bool force);

/* ---- time, CPU, threads ---- */
double sk_now(void);                       /* monotonic seconds */
typedef struct sk_cpu { bool avx2, fma, avx512f, avx512bw, avx512vl, avx512vnni, avxvnni; char brand[64]; } sk_cpu;
const sk_cpu *sk_cpu_get(void);
int sk_default_threads(void);              /* SHRINK_THREADS or the number of cores */
long sk_peak_rss_kb(void);

/* A fork-join pool: sk_pool_run calls fn(ctx, i, n) once for each i in
 * [0, n), n = sk_pool_size, in parallel on up to n threads, and returns when
 * all are done.  The caller runs part 0 and then any part no worker has
 * started, so i names a share of the work, not a thread, and parts must not
 * wait for each other. */
typedef struct sk_pool sk_pool;
sk_pool *sk_pool_new(int nthreads);
void sk_pool_free(sk_pool *p);
int sk_pool_size(const sk_pool *p);
void sk_pool_run(sk_pool *p, void (*fn)(void *ctx, int i, int n), void *ctx);

/* ---- progress on stderr (only when stderr is a terminal, unless forced) ---- */
typedef struct sk_progress { const char *label; long total; double t0, last; bool on; } sk_progress;
void sk_progress_start(sk_progress *p, const char *label, long total);
void sk_progress_update(sk_progress *p, long done, const char *extra);
void sk_progress_end(sk_progress *p);

/* ---- logging ---- */
extern int sk_verbose;
void sk_log(const char *fmt, ...) SK_PRINTF(1, 2);   /* to stderr when sk_verbose or SHRINK_VERBOSE=1 */

#endif
