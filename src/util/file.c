/* file.c — reading, mapping and atomically writing files.
 *
 * Outputs are never half-written: sk_afile writes to a temporary file in the
 * destination's folder, fsyncs it and renames it into place.  The temporary
 * is named ".DEST.tmp<pid>.XXXXXX" after the writing process, so that a later
 * write to DEST can tell a dead writer's leftover (SIGKILL, power loss) from
 * a live one's and remove it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

/* The pid in a temporary's name ".BASE.tmp<pid>.XXXXXX" of dest's base name,
 * or 0 when name is not one. */
static long tmp_pid(const char *name, const char *base)
{
    size_t nb = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, nb) || strncmp(name + 1 + nb, ".tmp", 4)) return 0;
    const char *p = name + 1 + nb + 4, *q = p;
    long pid = 0;
    for (; *q >= '0' && *q <= '9' && q - p < 10; q++) pid = pid * 10 + (*q - '0');
    if (q == p || *q != '.' || strlen(q + 1) != 6) return 0;
    return pid;
}

int sk_afile_clean_stale(const char *dest)
{
    /* best effort and no sk_malloc (an injected allocation failure must fail the write, not vanish here) */
    char dir[4096];
    const char *slash = strrchr(dest, '/'), *base = slash ? slash + 1 : dest;
    size_t nd = slash ? (size_t)(slash - dest) : 1;
    if (nd >= sizeof dir) return 0;
    if (slash) memcpy(dir, slash == dest ? "/" : dest, slash == dest ? 1 : nd);
    else dir[0] = '.';
    dir[slash == dest ? 1 : nd] = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        long pid = tmp_pid(e->d_name, base);
        /* ESRCH: no such process in this pid namespace; EPERM means alive (another user's) */
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
            removed++;
            sk_log("%s/%s: removed the temporary of dead writer %ld", dir, e->d_name, pid);
        }
    }
    closedir(d);
    return removed;
}

sk_status sk_afile_open(sk_afile *af, const char *dest, bool force)
{
    memset(af, 0, sizeof *af);
    if (!force && sk_file_exists(dest))
        return sk_err(SK_ERR_IO, "%s: already exists (use --force to overwrite)", dest);
    sk_afile_clean_stale(dest);
    af->dest = sk_strdup(dest);
    char *dir = sk_path_dir(dest);
    if (!af->dest || !dir) { sk_free(dir); sk_free(af->dest); return SK_ERR_NOMEM; }
    const char *base = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;
    size_t n = strlen(dir) + strlen(base) + 48;
    af->tmp = sk_malloc(n);
    if (!af->tmp) { sk_free(dir); sk_free(af->dest); return SK_ERR_NOMEM; }
    snprintf(af->tmp, n, "%s/.%s.tmp%ld.XXXXXX", dir, base, (long)getpid());
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

sk_status sk_afile_write_file(const char *dest, const void *p, size_t n, bool force)
{
    sk_afile af;
    sk_status st = sk_afile_open(&af, dest, force);
    if (st) return st;
    if ((st = sk_afile_write(&af, p, n))) { sk_afile_abort(&af); return st; }
    return sk_afile_commit(&af);
}

void sk_afile_abort(sk_afile *af)
{
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    afile_release(af);
}
