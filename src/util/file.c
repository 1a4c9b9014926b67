/* file.c — reading, mapping and atomically writing files.
 *
 * Outputs are never half-written: sk_afile writes to a temporary file in the
 * destination's folder, fsyncs it and renames it into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/util.h"

sk_status sk_read_file(const char *path, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sk_err(SK_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return sk_err(SK_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    char *buf = sk_malloc(n + 1);
    if (!buf) { fclose(f); return sk_err(SK_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n); }
    if (n && fread(buf, 1, n, f) != n) {
        sk_free(buf);
        fclose(f);
        return sk_err(SK_ERR_IO, "%s: short read", path);
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return SK_OK;
}

sk_status sk_mmap_file(const char *path, void **addr, size_t *len)
{
    *addr = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return sk_err(SK_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sk_err(SK_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) { close(fd); return SK_OK; }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return sk_err(SK_ERR_IO, "%s: mmap: %s", path, strerror(errno));
    *addr = p;
    *len = (size_t)st.st_size;
    return SK_OK;
}

void sk_munmap(void *addr, size_t len)
{
    if (addr) munmap(addr, len);
}

bool sk_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool sk_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *sk_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = sk_malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

char *sk_path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return sk_strdup(".");
    if (slash == path) return sk_strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = sk_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

const char *sk_path_ext(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash)) return "";
    return dot;
}

sk_status sk_afile_open(sk_afile *af, const char *dest, bool force)
{
    memset(af, 0, sizeof *af);
    if (!force && sk_file_exists(dest))
        return sk_err(SK_ERR_IO, "%s: already exists (use --force to overwrite)", dest);
    af->dest = sk_strdup(dest);
    char *dir = sk_path_dir(dest);
    if (!af->dest || !dir) { sk_free(dir); sk_free(af->dest); return SK_ERR_NOMEM; }
    const char *base = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;
    size_t n = strlen(dir) + strlen(base) + 32;
    af->tmp = sk_malloc(n);
    if (!af->tmp) { sk_free(dir); sk_free(af->dest); return SK_ERR_NOMEM; }
    snprintf(af->tmp, n, "%s/.%s.tmpXXXXXX", dir, base);
    sk_free(dir);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        sk_status st = sk_err(SK_ERR_IO, "%s: cannot create a temporary file: %s", dest, strerror(errno));
        sk_free(af->tmp); sk_free(af->dest);
        memset(af, 0, sizeof *af);
        return st;
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd); unlink(af->tmp);
        sk_free(af->tmp); sk_free(af->dest);
        memset(af, 0, sizeof *af);
        return sk_err(SK_ERR_IO, "%s: fdopen failed", dest);
    }
    return SK_OK;
}

sk_status sk_afile_write(sk_afile *af, const void *p, size_t n)
{
    if (af->failed) return SK_ERR_IO;
    if (n && fwrite(p, 1, n, af->f) != n) {
        af->failed = true;
        return sk_err(SK_ERR_IO, "%s: write failed: %s", af->dest, strerror(errno));
    }
    return SK_OK;
}

static void afile_release(sk_afile *af)
{
    sk_free(af->tmp);
    sk_free(af->dest);
    memset(af, 0, sizeof *af);
}

sk_status sk_afile_commit(sk_afile *af)
{
    if (af->failed) { sk_afile_abort(af); return SK_ERR_IO; }
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0) {
        sk_status st = sk_err(SK_ERR_IO, "%s: flush failed: %s", af->dest, strerror(errno));
        sk_afile_abort(af);
        return st;
    }
    fchmod(fileno(af->f), 0644);
    fclose(af->f);
    af->f = NULL;
    if (rename(af->tmp, af->dest) != 0) {
        sk_status st = sk_err(SK_ERR_IO, "%s: rename failed: %s", af->dest, strerror(errno));
        unlink(af->tmp);
        afile_release(af);
        return st;
    }
    afile_release(af);
    return SK_OK;
}

void sk_afile_abort(sk_afile *af)
{
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    afile_release(af);
}
