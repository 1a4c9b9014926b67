/* sweep.c — `shrink sweep MODEL --grid GRID.json --eval DATA -o DIR [-j N]`:
 * many recipes over one model, one `shrink compress` child process each, N
 * at a time, and one trade-off table of the results.
 *
 * The grid (docs/cli.md) is a list of recipe files or inline recipes.  Every
 * recipe is checked before anything runs (a typo in the fifth fails in
 * milliseconds), and so are the names (they become file names in DIR) and
 * the outputs already there (replaced only with --force).  Each run is our
 * own binary again (/proc/self/exe, else argv[0]): `shrink compress MODEL
 * --recipe R --eval DATA -o DIR/NAME.skm`, its stdout and stderr in
 * DIR/NAME.log.  A failed gate (exit 3) is a result like a pass; any other
 * exit is an error of that run, reported with the last line of its log,
 * and the sweep goes on with the others (and exits 1 at the end).
 *
 * Signals: SIGINT, SIGTERM and SIGHUP are blocked and waited for together
 * with SIGCHLD (sigtimedwait), so there is no handler and no race with fork.
 * On one, the running children get SIGTERM (SIGKILL after 10 s), are reaped,
 * and the outputs of every run that did not finish — OUT, its reports, the
 * hidden temporaries of their atomic writes — are removed: what stays in DIR
 * is whole runs only.
 */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "pipeline/pipeline.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink sweep MODEL --grid GRID.json --eval DATA -o DIR [--calib DATA] [-j N] [options]\n"
            "\n"
            "Run every recipe of GRID over MODEL, each as 'shrink compress MODEL --recipe R --eval DATA\n"
            "-o DIR/NAME.skm' in its own process, N at a time, then print one trade-off table of the\n"
            "runs (as 'shrink report' prints it).  DIR gets each run's artifact (when its budgets hold),\n"
            "NAME.skm.report.json / .md and NAME.log; inline recipes are saved as NAME.recipe.json.\n"
            "A failed budget is a result, not an error.\n"
            "\n"
            "  --grid GRID.json  {\"recipes\": [\"a.json\", {\"name\": \"b\", \"passes\": [...]}, ...]} or the\n"
            "                    bare list; file names are relative to GRID's folder (docs/cli.md)\n"
            "  --eval DATA       labelled JSONL (accuracy) or raw text (perplexity)\n"
            "  --calib DATA      calibration data for recipes that need it\n"
            "  -j N              runs at a time (default 1)\n"
            "  --threads T       threads per run (default: all cores / N, at least 1)\n"
            "  --plugin LIB.so   pass plugins, given to every run (repeatable)\n"
            "  --force           replace the outputs of an earlier sweep in DIR\n"
            "  --json            print {\"runs\": [...], \"rows\": [...]} instead of the table\n"
            "\n"
            "exit: 0 every run finished (passed or failed its gate), 1 a run failed or the sweep was\n"
            "interrupted (Ctrl-C: the runs are stopped and their partial outputs removed), 2 usage\n"
            "\n"
            "example:\n"
            "  shrink sweep samples/zoo/bert-fortunes --grid samples/recipes/grid-bert.json \\\n"
            "      --eval samples/data/fortunes-test.jsonl --calib samples/data/fortunes-calib.txt -j 2 -o runs/\n");
}

enum { J_WAIT, J_RUN, J_DONE, J_STOPPED };

typedef struct job {
    char *name;              /* the recipe's name: DIR/<name>.skm */
    char *recipe;            /* the path given to the child */
    char *inline_json;       /* an inline recipe's JSON, written to DIR/<name>.recipe.json; else NULL */
    char *out, *log;
    int state, code;         /* code: the exit status, or 128 + signal */
    pid_t pid;
    double t0, seconds;
    cJSON *report;           /* the child's OUT.report.json once done (exit 0 or 3) */
} job;

typedef struct sweep {
    const char *model, *data, *calib, *dir, *grid;
    const char *plugins[16];
    int n_plugins, jobs, threads;
    bool force, json;
    job *j;
    int n;
} sweep;

static void jobs_free(sweep *s)
{
    for (int i = 0; i < s->n; i++) {
        job *j = &s->j[i];
        sk_free(j->name);
        sk_free(j->recipe);
        sk_free(j->inline_json);
        sk_free(j->out);
        sk_free(j->log);
        cJSON_Delete(j->report);
    }
    sk_free(s->j);
}

/* A name that is safe as a file name in DIR. */
static bool name_ok(const char *n)
{
    if (!n[0] || n[0] == '.' || strlen(n) > 100) return false;
    for (const char *p = n; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 32) return false;
    return true;
}

/* One grid entry into job j: a recipe file (relative to the grid's folder) or an inline recipe. */
static sk_status entry(const cJSON *e, int i, const char *grid_dir, const sweep *s, job *j)
{
    char where[600];
    snprintf(where, sizeof where, "%s: recipes[%d]", s->grid, i);
    sk_recipe rc;
    sk_status st;
    if (cJSON_IsString(e)) {
        j->recipe = e->valuestring[0] == '/' ? sk_strdup(e->valuestring) : sk_path_join(grid_dir, e->valuestring);
        if (!j->recipe) return SK_ERR_NOMEM;
        if (!sk_file_exists(j->recipe)) return sk_err(SK_ERR_INVALID, "%s: %s: no such file", where, j->recipe);
        if ((st = sk_recipe_load(j->recipe, &rc))) return sk_err_prefix(st, "%s", where);
    } else if (cJSON_IsObject(e)) {
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "name")))
            return sk_err(SK_ERR_INVALID, "%s: an inline recipe needs a \"name\" (it names the run's files)", where);
        char *js = cJSON_Print(e);
        if (!js) return SK_ERR_NOMEM;
        j->inline_json = sk_strdup(js);
        free(js);
        if (!j->inline_json) return SK_ERR_NOMEM;
        if ((st = sk_recipe_parse(j->inline_json, where, &rc))) return st;
    } else {
        return sk_err(SK_ERR_INVALID, "%s: expected a recipe file name or an inline recipe object", where);
    }
    st = name_ok(rc.name) ? SK_OK
         : sk_err(SK_ERR_INVALID, "%s: name '%s' cannot name files (no '/', no leading '.', at most 100 characters)", where, rc.name);
    if (!st && !(j->name = sk_strdup(rc.name))) st = SK_ERR_NOMEM;
    sk_recipe_free(&rc);
    if (st) return st;
    size_t n = strlen(s->dir) + strlen(j->name) + 32;
    j->out = sk_malloc(n);
    j->log = sk_malloc(n);
    if (!j->out || !j->log) return SK_ERR_NOMEM;
    snprintf(j->out, n, "%s/%s.skm", s->dir, j->name);
    snprintf(j->log, n, "%s/%s.log", s->dir, j->name);
    if (j->inline_json) {
        if (!(j->recipe = sk_malloc(n))) return SK_ERR_NOMEM;
        snprintf(j->recipe, n, "%s/%s.recipe.json", s->dir, j->name);
    }
    return SK_OK;
}

static sk_status grid_load(sweep *s)
{
    char *text;
    size_t len;
    sk_status st = sk_read_file(s->grid, &text, &len);
    if (st) return st;
    cJSON *g = cJSON_Parse(text);
    sk_free(text);
    if (!g) return sk_err(SK_ERR_INVALID, "%s: not valid JSON (near '%.20s')", s->grid, cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
    const cJSON *list = g;
    if (cJSON_IsObject(g)) {
        list = cJSON_GetObjectItemCaseSensitive(g, "recipes");
        for (const cJSON *kv = g->child; kv && !st; kv = kv->next)
            if (strcmp(kv->string, "recipes") && strcmp(kv->string, "name") && strcmp(kv->string, "description"))
                st = sk_err(SK_ERR_INVALID, "%s: unknown key '%s' (a grid has recipes, name, description)", s->grid, kv->string);
    }
    if (!st && (!cJSON_IsArray(list) || !cJSON_GetArraySize(list)))
        st = sk_err(SK_ERR_INVALID, "%s: expected a non-empty list of recipes, or {\"recipes\": [...]}", s->grid);
    char *gdir = st ? NULL : sk_path_dir(s->grid);
    if (!st && !gdir) st = SK_ERR_NOMEM;
    if (!st) {
        s->n = cJSON_GetArraySize(list);
        if (!(s->j = sk_calloc((size_t)s->n, sizeof *s->j))) st = SK_ERR_NOMEM;
    }
    int i = 0;
    for (const cJSON *e = list ? list->child : NULL; !st && e; e = e->next, i++) {
        st = entry(e, i, gdir, s, &s->j[i]);
        for (int k = 0; !st && k < i; k++)
            if (!strcmp(s->j[k].name, s->j[i].name))
                st = sk_err(SK_ERR_INVALID, "%s: recipes[%d] and recipes[%d] are both named '%s' (their outputs would collide)",
                            s->grid, k, i, s->j[i].name);
    }
    sk_free(gdir);
    cJSON_Delete(g);
    return st;
}

/* Report paths of a job. */
static void rpath(const job *j, const char *suffix, char *buf, size_t cap) { snprintf(buf, cap, "%s%s", j->out, suffix); }

/* The outputs of a run that did not finish: removed, with dead writers' temporaries. */
static void remove_partial(const job *j)
{
    static const char *const sfx[] = {"", ".report.json", ".report.md"};
    for (int k = 0; k < 3; k++) {
        char p[1200];
        rpath(j, sfx[k], p, sizeof p);
        unlink(p);
        sk_afile_clean_stale(p);
    }
}

/* fork + exec `shrink compress ...` for j with stdout/stderr in its log; mask: the signal mask to restore in the child. */
static sk_status launch(sweep *s, job *j, const sigset_t *mask)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%d", s->threads);
    const char *argv[48];
    int a = 0;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    bool self = n > 0;
    if (self) exe[n] = 0;
    argv[a++] = self ? exe : cli_argv0;
    argv[a++] = "compress";
    argv[a++] = s->model;
    argv[a++] = "--recipe";
    argv[a++] = j->recipe;
    argv[a++] = "--eval";
    argv[a++] = s->data;
    if (s->calib) { argv[a++] = "--calib"; argv[a++] = s->calib; }
    argv[a++] = "--threads";
    argv[a++] = threads;
    for (int i = 0; i < s->n_plugins; i++) { argv[a++] = "--plugin"; argv[a++] = s->plugins[i]; }
    argv[a++] = "-o";
    argv[a++] = j->out;
    argv[a++] = "--force";   /* the sweep checked its outputs before starting */
    argv[a] = NULL;
    int fd = open(j->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return sk_err(SK_ERR_IO, "%s: %s", j->log, strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return sk_err(SK_ERR_IO, "sweep: fork failed: %s", strerror(errno));
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        sigprocmask(SIG_SETMASK, mask, NULL);
        if (self) execv(argv[0], (char *const *)argv);
        else execvp(argv[0], (char *const *)argv);
        dprintf(2, "shrink sweep: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    j->pid = pid;
    j->state = J_RUN;
    j->t0 = sk_now();
    fprintf(stderr, "sweep: started %s (pid %ld)\n", j->name, (long)pid);
    return SK_OK;
}

/* The last non-empty line of a log, for an error message. */
static void last_line(const char *path, char *buf, size_t cap)
{
    char *t;
    size_t n;
    buf[0] = 0;
    if (sk_read_file(path, &t, &n)) { sk_err_clear(); return; }
    while (n && (t[n - 1] == '\n' || t[n - 1] == '\r')) t[--n] = 0;
    char *l = strrchr(t, '\n');
    snprintf(buf, cap, "%s", l ? l + 1 : t);
    sk_free(t);
}

static const char *sget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

static double nget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A finished child: its report, and the progress line "[k/N] name: result". */
static void finish(sweep *s, job *j, int status, int done)
{
    j->seconds = sk_now() - j->t0;
    j->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    j->state = J_DONE;
    j->pid = 0;
    char p[1200], what[600] = "";
    if (j->code == 0 || j->code == 3) {
        rpath(j, ".report.json", p, sizeof p);
        char *t;
        size_t n;
        if (!sk_read_file(p, &t, &n)) {
            j->report = cJSON_Parse(t);
            sk_free(t);
        }
        sk_err_clear();
    }
    const cJSON *r = j->report;
    if (r) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(r, "baseline"), *c = cJSON_GetObjectItemCaseSensitive(r, "compressed");
        const char *metric = sget(cJSON_GetObjectItemCaseSensitive(r, "eval"), "metric");
        char failed[200] = "";
        const cJSON *ch;
        cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "gate"), "checks")) {
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "ok"))) continue;
            size_t k = strlen(failed);
            snprintf(failed + k, sizeof failed - k, "%s%s", k ? ", " : "", sget(ch, "budget"));
        }
        snprintf(what, sizeof what, "%s%s%s %s %.6g -> %.6g (%+.2f%s), %.2fx smaller, %.2fx faster", j->code == 0 ? "pass" : "gate failed (",
                 failed, j->code == 0 ? ":" : "):", metric, nget(b, "value"), nget(c, "value"), nget(r, "delta"),
                 sget(r, "delta_unit"), nget(r, "ratio"), nget(r, "speedup"));
    } else {
        char l[400];
        last_line(j->log, l, sizeof l);
        snprintf(what, sizeof what, "error (exit %d): %s (log: %s)", j->code, l[0] ? l : "no output", j->log);
        if (j->code == 0 || j->code == 3) j->code = 1;   /* exited as a run that reported, but no report */
        remove_partial(j);   /* killed from outside, say: no half run stays */
    }
    fprintf(stderr, "sweep: [%d/%d] %s: %s (%.1fs)\n", done, s->n, j->name, what, j->seconds);
}

static job *job_of(sweep *s, pid_t pid)
{
    for (int i = 0; i < s->n; i++) if (s->j[i].state == J_RUN && s->j[i].pid == pid) return &s->j[i];
    return NULL;
}

/* Stop the running children: SIGTERM, SIGKILL after 10 s; reap them; remove what they left. */
static int stop_all(sweep *s, int *done)
{
    int stopped = 0;
    for (int i = 0; i < s->n; i++) if (s->j[i].state == J_RUN) kill(s->j[i].pid, SIGTERM);
    double t0 = sk_now();
    bool killed = false;
    for (;;) {
        int running = 0, status;
        for (int i = 0; i < s->n; i++) running += s->j[i].state == J_RUN;
        if (!running) break;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            job *j = job_of(s, pid);
            if (!j) continue;
            if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3)) {
                finish(s, j, status, ++*done);   /* it finished before the signal reached it */
            } else {
                j->state = J_STOPPED;
                j->pid = 0;
                remove_partial(j);
                stopped++;
                fprintf(stderr, "sweep: stopped %s, its partial outputs removed\n", j->name);
            }
            continue;
        }
        if (pid < 0 && errno != EINTR) break;
        if (!killed && sk_now() - t0 > 10) {
            for (int i = 0; i < s->n; i++) if (s->j[i].state == J_RUN) kill(s->j[i].pid, SIGKILL);
            killed = true;
        }
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    return stopped;
}

static sk_status check_outputs(const sweep *s)
{
    for (int i = 0; i < s->n; i++) {
        char p[1200];
        rpath(&s->j[i], ".report.json", p, sizeof p);
        const char *hit = sk_file_exists(s->j[i].out) ? s->j[i].out : sk_file_exists(p) ? p : NULL;
        if (hit) return sk_err(SK_ERR_IO, "%s exists (an earlier sweep's; use --force to replace the outputs)", hit);
    }
    return SK_OK;
}

/* The table (or JSON) of the runs that reported, in grid order. */
static sk_status print_results(const sweep *s)
{
    cJSON **reps = sk_calloc((size_t)s->n + 1, sizeof *reps);
    if (!reps) return SK_ERR_NOMEM;
    int k = 0;
    for (int i = 0; i < s->n; i++) if (s->j[i].report) reps[k++] = s->j[i].report;
    sk_status st = SK_OK;
    if (s->json) {
        cJSON *o = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(o, "runs"), *rows = NULL;
        cJSON_AddStringToObject(o, "dir", s->dir);
        for (int i = 0; i < s->n; i++) {
            const job *j = &s->j[i];
            cJSON *e = cJSON_CreateObject();
            char p[1200];
            cJSON_AddStringToObject(e, "name", j->name);
            cJSON_AddStringToObject(e, "recipe", j->recipe);
            cJSON_AddStringToObject(e, "status", j->state == J_STOPPED ? "stopped" : j->state != J_DONE ? "not run"
                                                 : j->code == 0 ? "pass" : j->code == 3 ? "gate" : "error");
            if (j->state == J_DONE) cJSON_AddNumberToObject(e, "exit", j->code);
            else cJSON_AddNullToObject(e, "exit");
            rpath(j, ".report.json", p, sizeof p);
            if (j->report) cJSON_AddStringToObject(e, "report", p);
            else cJSON_AddNullToObject(e, "report");
            cJSON_AddStringToObject(e, "output", j->out);
            cJSON_AddBoolToObject(e, "written", j->report && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j->report, "written")));
            cJSON_AddStringToObject(e, "log", j->log);
            cJSON_AddNumberToObject(e, "seconds", j->seconds);
            cJSON_AddItemToArray(runs, e);
        }
        if (k && (st = sk_report_json(reps, k, &rows))) rows = NULL;
        cJSON_AddItemToObject(o, "rows", rows ? rows : cJSON_CreateArray());
        char *t = st ? NULL : cJSON_Print(o);
        if (t) puts(t);
        free(t);
        cJSON_Delete(o);
    } else if (k) {
        st = sk_report_table(reps, k, SK_REPORT_MD, stdout);
    }
    sk_free(reps);
    return st;
}

int cmd_sweep(int argc, char **argv)
{
    sweep s = {.jobs = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (cli_is_help(a)) { usage(stdout); return 0; }
        else if (!strcmp(a, "--grid") && has) s.grid = argv[++i];
        else if (!strcmp(a, "--eval") && has) s.data = argv[++i];
        else if (!strcmp(a, "--calib") && has) s.calib = argv[++i];
        else if (!strcmp(a, "-o") && has) s.dir = argv[++i];
        else if ((!strcmp(a, "-j") || !strcmp(a, "--threads")) && has) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || v < 1 || v > 1024) return cli_usage("sweep", "%s wants an integer in [1, 1024], got '%s'", a, argv[i]);
            if (a[1] == 'j') s.jobs = (int)v;
            else s.threads = (int)v;
        } else if (!strncmp(a, "-j", 2) && a[2]) {   /* -j2 */
            char *end;
            long v = strtol(a + 2, &end, 10);
            if (*end || v < 1 || v > 1024) return cli_usage("sweep", "-j wants an integer in [1, 1024], got '%s'", a + 2);
            s.jobs = (int)v;
        } else if (!strcmp(a, "--plugin") && has) {
            if (s.n_plugins == 16) return cli_usage("sweep", "at most 16 --plugin");
            s.plugins[s.n_plugins++] = argv[++i];
        } else if (!strcmp(a, "--force")) s.force = true;
        else if (!strcmp(a, "--json")) s.json = true;
        else if (a[0] == '-') return cli_usage("sweep", "unknown option or missing value '%s'", a);
        else if (!s.model) s.model = a;
        else return cli_usage("sweep", "unexpected argument '%s'", a);
    }
    if (!s.model) return cli_usage("sweep", "missing MODEL");
    if (!s.grid) return cli_usage("sweep", "missing --grid GRID.json");
    if (!s.data) return cli_usage("sweep", "missing --eval DATA");
    if (!s.dir) return cli_usage("sweep", "missing -o DIR");
    if (!s.threads) s.threads = sk_default_threads() / s.jobs > 1 ? sk_default_threads() / s.jobs : 1;

    /* every check before any work */
    sk_status st = SK_OK;
    for (int i = 0; i < s.n_plugins && !st; i++) st = sk_pass_load_plugin(s.plugins[i]);
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", s.dir);
    for (size_t n = strlen(dirbuf); n > 1 && dirbuf[n - 1] == '/'; n--) dirbuf[n - 1] = 0;
    s.dir = dirbuf;
    if (!st) st = grid_load(&s);
    if (!st && !sk_file_exists(s.model)) st = sk_err(SK_ERR_IO, "%s: no such file or folder (MODEL)", s.model);
    if (!st && !sk_file_exists(s.data)) st = sk_err(SK_ERR_IO, "%s: no such file (--eval)", s.data);
    if (!st && s.calib && !sk_file_exists(s.calib)) st = sk_err(SK_ERR_IO, "%s: no such file (--calib)", s.calib);
    if (!st && !sk_is_dir(s.dir) && mkdir(s.dir, 0755) != 0)
        st = sk_err(SK_ERR_IO, "%s: cannot create the folder: %s", s.dir, strerror(errno));
    if (!st && !s.force) st = check_outputs(&s);
    for (int i = 0; i < s.n && !st; i++)
        if (s.j[i].inline_json) st = sk_afile_write_file(s.j[i].recipe, s.j[i].inline_json, strlen(s.j[i].inline_json), true);
    if (st) { jobs_free(&s); return cli_fail(st); }

    fprintf(stderr, "sweep: %d recipe%s over %s, %d at a time, %d thread%s each; outputs in %s/\n", s.n, s.n == 1 ? "" : "s", s.model,
            s.jobs, s.threads, s.threads == 1 ? "" : "s", s.dir);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    int next = 0, running = 0, done = 0, sig = 0, errors = 0;
    while (done < s.n && !sig && !st) {
        while (running < s.jobs && next < s.n && !st) {
            if (!(st = launch(&s, &s.j[next], &old))) running++;
            next++;
        }
        siginfo_t info;
        int got = sigtimedwait(&set, &info, &(struct timespec){1, 0});
        if (got == SIGINT || got == SIGTERM || got == SIGHUP) { sig = got; break; }
        int status;
        for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
            job *j = job_of(&s, pid);
            if (!j) continue;
            running--;
            finish(&s, j, status, ++done);
        }
    }
    int stopped = 0;
    if (sig || st) stopped = stop_all(&s, &done);
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < s.n; i++) errors += s.j[i].state == J_DONE && s.j[i].code != 0 && s.j[i].code != 3;
    sk_status pst = print_results(&s);
    if (!st) st = pst;
    jobs_free(&s);
    if (st) return cli_fail(st);
    if (sig) {
        fprintf(stderr, "shrink: sweep interrupted by %s: %d of %d runs finished, %d stopped (their partial outputs removed)\n",
                sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP", done, s.n, stopped);
        return 1;
    }
    if (errors) {
        fprintf(stderr, "shrink: sweep: %d of %d runs failed with an error (see their logs)\n", errors, s.n);
        return 1;
    }
    return 0;
}
