/* test_afile.c — atomic writes (src/util/file.c, sk_afile).
 *
 * A write lands whole or not at all, and the hidden temporary it writes
 * through carries the writer's pid.  A writer killed with SIGKILL leaves its
 * temporary behind: the next write to the same destination must remove it
 * when that pid is dead, and must leave alone the temporaries of live
 * writers, of other destinations, and files that only look similar.  A real
 * dead writer is made here by forking a child that opens an sk_afile and
 * kills itself with SIGKILL before committing.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util/util.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static char tmpdir[64];

static char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void touch(const char *name)
{
    FILE *f = fopen(tpath(name), "wb");
    if (!f) { perror(name); exit(2); }
    fputs("partial", f);
    fclose(f);
}

/* Names in tmpdir that start with prefix, into out (one per line). */
static int list(const char *prefix, char *out, size_t cap)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    out[0] = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
        n++;
        size_t k = strlen(out);
        snprintf(out + k, cap - k, "  %s\n", e->d_name);
    }
    if (d) closedir(d);
    return n;
}

/* A child that opens an atomic write of dest, writes a little and is killed
 * with SIGKILL before it commits: its temporary stays.  Returns its pid (dead
 * and reaped, so kill(pid, 0) is ESRCH until the pid is reused). */
static pid_t killed_writer(const char *dest)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        sk_afile af;
        if (sk_afile_open(&af, dest, true)) _exit(1);
        sk_afile_write(&af, "partial", 7);
        fflush(af.f);
        raise(SIGKILL);
        _exit(1);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    return pid;
}

static void test_commit_and_abort(void)
{
    sk_afile af;
    CHECK(sk_afile_open(&af, tpath("a.bin"), false) == SK_OK);
    char want[64];
    snprintf(want, sizeof want, ".a.bin.tmp%ld.", (long)getpid());
    CHECK(strstr(af.tmp, want) != NULL);
    printf("temporary of a live write: %s\n", strrchr(af.tmp, '/') + 1);
    CHECK(sk_afile_write(&af, "hello", 5) == SK_OK);
    CHECK(sk_afile_commit(&af) == SK_OK);
    char *d;
    size_t n;
    CHECK(sk_read_file(tpath("a.bin"), &d, &n) == SK_OK && n == 5 && !memcmp(d, "hello", 5));
    sk_free(d);
    CHECK(sk_afile_open(&af, tpath("a.bin"), false) != SK_OK);   /* exists, no force */
    printf("existing dest without force -> %s\n", sk_errmsg());
    CHECK(sk_afile_open(&af, tpath("a.bin"), true) == SK_OK);
    sk_afile_abort(&af);
    char names[2048];
    CHECK(list(".a.bin", names, sizeof names) == 0);
    CHECK(sk_read_file(tpath("a.bin"), &d, &n) == SK_OK && n == 5);   /* abort kept the old file */
    sk_free(d);
}

static void test_stale(void)
{
    const char *out = "out.skm";
    char names[2048], dead[64];
    pid_t dead1 = killed_writer(tpath(out));
    snprintf(dead, sizeof dead, ".out.skm.tmp%ld.", (long)dead1);
    CHECK(list(".out.skm.tmp", names, sizeof names) == 1 && strstr(names, dead));
    pid_t dead2 = killed_writer(tpath(out));   /* its open removed dead1's temporary */
    int left = list(".out.skm.tmp", names, sizeof names);
    printf("after two SIGKILLed writers of out.skm (pids %ld, %ld): %d temporary left\n%s", (long)dead1, (long)dead2, left, names);
    CHECK(left == 1 && !strstr(names, dead));
    snprintf(dead, sizeof dead, ".out.skm.tmp%ld.", (long)dead2);
    CHECK(strstr(names, dead) != NULL);
    pid_t other = killed_writer(tpath("other.skm"));
    /* look-alikes that must stay: a live writer's (our parent's pid), not a pid, a different suffix length,
     * an old-style name without a pid, a prefix of the name */
    char live[64];
    snprintf(live, sizeof live, ".out.skm.tmp%ld.abcdef", (long)getppid());
    touch(live);
    touch(".out.skm.tmpxyz.abcdef");
    touch(".out.skm.tmp1.abc");
    touch(".out.skm.tmpABCDEF");
    touch(".out.skm.tmp.abcdef");
    touch(".out.sk.tmp999999999.abcdef");
    int before = list(".out.sk", names, sizeof names);

    sk_afile af;   /* the next write of out.skm */
    CHECK(sk_afile_open(&af, tpath(out), false) == SK_OK);
    CHECK(sk_afile_write(&af, "ok", 2) == SK_OK);
    CHECK(sk_afile_commit(&af) == SK_OK);
    int after = list(".out.sk", names, sizeof names);
    printf("the next write of out.skm: %d hidden files before, %d after:\n%s", before, after, names);
    CHECK(after == before - 1);
    CHECK(strstr(names, dead) == NULL);
    CHECK(strstr(names, live) != NULL);
    CHECK(strstr(names, ".out.skm.tmpxyz.abcdef") && strstr(names, ".out.skm.tmp1.abc\n") && strstr(names, ".out.skm.tmpABCDEF") &&
          strstr(names, ".out.skm.tmp.abcdef") && strstr(names, ".out.sk.tmp999999999.abcdef"));
    CHECK(list(".other.skm.tmp", names, sizeof names) == 1);   /* another destination's: untouched */
    CHECK(sk_afile_clean_stale(tpath("other.skm")) == 1);
    CHECK(list(".other.skm.tmp", names, sizeof names) == 0);
    printf("sk_afile_clean_stale(other.skm) removed dead pid %ld's temporary\n", (long)other);
    CHECK(sk_afile_clean_stale(tpath(out)) == 0);   /* nothing dead left */
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sk-afile-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    test_commit_and_abort();
    test_stale();
    DIR *d = opendir(tmpdir);   /* clean up */
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(tpath(e->d_name));
    if (d) closedir(d);
    rmdir(tmpdir);
    printf("%d checks, %d failures\n", checks, fails);
    return fails != 0;
}
