/* test_fuse.c — the fold and fuse passes (passes/fold.c, passes/fuse.c) on
 * the text-IR cases in tests/ir/fuse (one .skir file a case).  Runs from the repo root.
 *
 * A case is a .skir model whose leading comments say what must happen:
 *   # passes: fuse                      the pipeline (NAME or NAME=JSON, comma separated; default fuse)
 *   # dims: batch=2 sequence=5          sizes of named dynamic dims for the numeric check
 *   # expect-ops: Attention=1 Linear=4  the op histogram after the passes, exactly
 *   # expect-note: attention: 1 fused   a note of the passes contains this (repeatable)
 *   # expect:                           then "#| <line>" lines: the node lines of the
 *   #| %y: f32[...] = LayerNormalization(...)    printed IR after the passes, in order
 * Positive cases show the pattern firing; negative ones (a near miss) expect
 * the ops unchanged.  Every case is also run, before and after the passes,
 * on the same random inputs, and the outputs must agree to 1e-5 (relative to
 * max(1, |ref|)): a fusion must not change what the graph computes.
 *
 *   test_fuse                 every case
 *   test_fuse FILE...         these cases
 *   test_fuse --show MODEL [PASSES]   print the notes and the IR after PASSES (any model kind)
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats.h"
#include "pipeline/pipeline.h"
#include "runtime/runtime.h"

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

#define MAX_STEPS 8
#define MAX_LINES 256

typedef struct tcase {
    char *text;
    char *steps_buf;
    sk_pipe_step steps[MAX_STEPS];
    int n_steps;
    char *dims;                   /* "batch=2 sequence=5" */
    char *ops;                    /* expected histogram, or NULL */
    char *notes[16]; int n_notes;
    char *expect[MAX_LINES]; int n_expect;
    bool has_expect;
} tcase;

static char *dup_trim(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) { s++; n--; }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    char *r = malloc(n + 1);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

/* Split "a, b=JSON, c" at top-level commas (JSON may hold commas). */
static void parse_steps(tcase *t, const char *s)
{
    t->steps_buf = strdup(s);
    char *p = t->steps_buf;
    while (*p && t->n_steps < MAX_STEPS) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *name = p, *json = NULL;
        int depth = 0;
        for (; *p && (depth || *p != ','); p++) {
            if (*p == '=' && !json && !depth) { *p = 0; json = p + 1; }
            else if (*p == '{' || *p == '[') depth++;
            else if (*p == '}' || *p == ']') depth--;
        }
        if (*p) *p++ = 0;
        t->steps[t->n_steps++] = (sk_pipe_step){name, json};
    }
}

static void parse_header(tcase *t)
{
    bool in_expect = false;
    for (const char *l = t->text; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n >= 2 && l[0] == '#' && l[1] == '|' && in_expect && t->n_expect < MAX_LINES) {
            t->expect[t->n_expect++] = dup_trim(l + 2, n - 2);
        } else if (n && l[0] == '#') {
            char *c = dup_trim(l + 1, n - 1);
            if (!strncmp(c, "passes:", 7)) parse_steps(t, c + 7);
            else if (!strncmp(c, "dims:", 5)) t->dims = dup_trim(c + 5, strlen(c + 5));
            else if (!strncmp(c, "expect-ops:", 11)) t->ops = dup_trim(c + 11, strlen(c + 11));
            else if (!strncmp(c, "expect-note:", 12) && t->n_notes < 16) t->notes[t->n_notes++] = dup_trim(c + 12, strlen(c + 12));
            else if (!strncmp(c, "expect:", 7)) { in_expect = true; t->has_expect = true; }
            free(c);
        }
        l += n + (e != NULL);
    }
    if (!t->n_steps) parse_steps(t, "fuse");
}

static void tcase_free(tcase *t)
{
    free(t->text);
    free(t->steps_buf);
    free(t->dims);
    free(t->ops);
    for (int i = 0; i < t->n_notes; i++) free(t->notes[i]);
    for (int i = 0; i < t->n_expect; i++) free(t->expect[i]);
}

static char *print_str(const sk_model *m)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f) return NULL;
    sk_status st = sk_ir_print(m, f, false);
    fclose(f);
    if (st) { free(s); return NULL; }
    return s;
}

/* Lines of the printed IR that are nodes (they have an op call "Name(") and are
 * not declarations. */
static int node_lines(char *text, char **out, int max)
{
    int n = 0;
    for (char *l = strtok(text, "\n"); l && n < max; l = strtok(NULL, "\n")) {
        if (l[0] == '#' || !strncmp(l, "model", 5) || !strncmp(l, "input", 5) || !strncmp(l, "output", 6) ||
            !strncmp(l, "const", 5) || !strncmp(l, "weight", 6) || !strncmp(l, "tensor", 6) || !strncmp(l, "prov", 4))
            continue;
        out[n++] = l;
    }
    return n;
}

/* "Name=count Name=count" of the op histogram. */
static void histogram(const sk_graph *g, char *buf, size_t cap)
{
    int counts[SK_OP_COUNT] = {0};
    for (int i = 0; i < g->n_nodes; i++) counts[g->nodes[i].op]++;
    size_t k = 0;
    buf[0] = 0;
    for (int op = 0; op < SK_OP_COUNT && k < cap; op++)
        if (counts[op]) k += (size_t)snprintf(buf + k, cap - k, "%s%s=%d", k ? " " : "", sk_op_get((sk_op)op)->name, counts[op]);
}

static bool same_histogram(const sk_graph *g, const char *want)
{
    int counts[SK_OP_COUNT] = {0}, want_c[SK_OP_COUNT] = {0};
    for (int i = 0; i < g->n_nodes; i++) counts[g->nodes[i].op]++;
    char *w = strdup(want), *save = NULL;
    bool ok = true;
    for (char *tok = strtok_r(w, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) { ok = false; break; }
        *eq = 0;
        int op = sk_op_from_name(tok);
        if (op < 0) { ok = false; break; }
        want_c[op] = atoi(eq + 1);
    }
    free(w);
    for (int op = 0; ok && op < SK_OP_COUNT; op++) ok = counts[op] == want_c[op];
    return ok;
}

/* ---- the numeric check ---- */
static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static int64_t dim_value(const char *dims, const char *name, int pos)
{
    if (dims && name) {
        const char *p = dims;
        size_t n = strlen(name);
        while ((p = strstr(p, name))) {
            if ((p == dims || p[-1] == ' ') && p[n] == '=') return atoll(p + n + 1);
            p += n;
        }
    }
    return pos == 0 ? 2 : 5;
}

typedef struct feeds { int n; char *name[16]; sk_dtype dt[16]; int rank[16]; int64_t dims[16][SK_MAX_RANK]; void *data[16]; } feeds;

static void make_feeds(const sk_model *m, const char *dims, feeds *f)
{
    memset(f, 0, sizeof *f);
    const sk_graph *g = &m->g;
    for (int i = 0; i < g->n_inputs && f->n < 16; i++) {
        const sk_tensor *t = &g->tensors[g->inputs[i]];
        if (t->flags & SK_TF_CONST) continue;
        int k = f->n++;
        f->name[k] = t->name;
        f->dt[k] = t->dtype;
        f->rank[k] = t->rank;
        int64_t n = 1;
        for (int d = 0; d < t->rank; d++) {
            f->dims[k][d] = t->dims[d] >= 0 ? t->dims[d] : dim_value(dims, t->dim_names[d], d);
            n *= f->dims[k][d];
        }
        if (t->dtype == SK_DT_F32) {
            float *p = malloc((size_t)n * sizeof *p);
            for (int64_t j = 0; j < n; j++) p[j] = (float)(2 * urand() - 1) * 2.0f;
            f->data[k] = p;
        } else {
            int64_t *p = malloc((size_t)n * sizeof *p);
            bool mask = strstr(t->name, "mask") != NULL;
            int64_t last = t->rank ? f->dims[k][t->rank - 1] : 1;
            for (int64_t j = 0; j < n; j++)   /* a mask: ones, the second row padded at its end */
                p[j] = mask ? !(j / last == 1 && j % last >= last - last / 3) : (int64_t)(urand() * 5);
            f->data[k] = p;
            f->dt[k] = SK_DT_I64;
        }
    }
}

static void feeds_free(feeds *f)
{
    for (int i = 0; i < f->n; i++) free(f->data[i]);
}

/* Run m on f; *outs gets a copy of each output as floats (free each), NULL on failure. */
static int run_model(const sk_model *m, const feeds *f, float **outs, int64_t *counts, char names[][64])
{
    sk_session *s = NULL;
    sk_session_opts o = {.threads = 1};
    if (sk_session_new(m, &o, &s)) return -1;
    for (int i = 0; i < f->n; i++)
        if (sk_graph_find_tensor(&m->g, f->name[i]) >= 0 &&
            sk_session_set_input(s, f->name[i], f->dt[i], f->rank[i], f->dims[i], f->data[i])) {
            printf("    set_input %s: %s\n", f->name[i], sk_errmsg());
            sk_session_free(s);
            return -1;
        }
    if (sk_session_run(s)) { printf("    run: %s\n", sk_errmsg()); sk_session_free(s); return -1; }
    int n = sk_session_n_outputs(s);
    for (int i = 0; i < n && i < 8; i++) {
        const sk_rtensor *t = sk_session_output(s, i);
        int64_t k = sk_rt_numel(t);
        counts[i] = k;
        snprintf(names[i], 64, "%s", sk_session_output_name(s, i));
        outs[i] = malloc((size_t)(k ? k : 1) * sizeof(float));
        if (t->dtype == SK_DT_F32) memcpy(outs[i], t->data, (size_t)k * sizeof(float));
        else for (int64_t j = 0; j < k; j++) outs[i][j] = (float)sk_rt_get_i(t, j);
    }
    sk_session_free(s);
    return n < 8 ? n : 8;
}

/* Worst |after − before| / max(1, |before|) over every output; -1 when a run failed. */
static double compare(const sk_model *before, const sk_model *after, const char *dims)
{
    feeds f;
    make_feeds(before, dims, &f);
    float *a[8] = {0}, *b[8] = {0};
    int64_t ca[8], cb[8];
    char na[8][64], nb[8][64];
    int n1 = run_model(before, &f, a, ca, na), n2 = run_model(after, &f, b, cb, nb);
    double worst = n1 < 0 || n2 < 0 || n1 != n2 ? -1 : 0;
    for (int i = 0; worst >= 0 && i < n1; i++) {
        if (ca[i] != cb[i] || strcmp(na[i], nb[i])) { worst = -1; break; }
        for (int64_t j = 0; j < ca[i]; j++) {
            double d = fabs((double)a[i][j] - b[i][j]) / fmax(1.0, fabs((double)a[i][j]));
            if (!(d <= worst)) worst = d;   /* NaN counts as worst */
        }
    }
    for (int i = 0; i < 8; i++) { free(a[i]); free(b[i]); }
    feeds_free(&f);
    return worst;
}

static sk_status run_passes(sk_model *m, const tcase *t, sk_passmgr_result *r)
{
    sk_passmgr_opts o = {.quiet = true, .threads = 1};
    return sk_passmgr_run(m, t->steps, t->n_steps, &o, r);
}

static void run_case(const char *path)
{
    tcase t;
    memset(&t, 0, sizeof t);
    size_t len;
    if (sk_read_file(path, &t.text, &len)) { printf("FAIL %s: %s\n", path, sk_errmsg()); fails++; return; }
    char *tx = malloc(len + 1);
    memcpy(tx, t.text, len + 1);
    sk_free(t.text);
    t.text = tx;
    parse_header(&t);
    sk_model *before = NULL, *after = NULL;
    int bad = 0;
    if (sk_ir_parse(t.text, path, &before) || sk_ir_parse(t.text, path, &after)) {
        printf("FAIL %s: %s\n", path, sk_errmsg());
        fails++;
        sk_model_free(before);
        tcase_free(&t);
        return;
    }
    sk_passmgr_result r;
    sk_status st = run_passes(after, &t, &r);
    if (st) { printf("FAIL %s: the passes failed: %s\n", path, sk_errmsg()); bad++; }
    char hist[1024];
    histogram(&after->g, hist, sizeof hist);
    if (!st && t.ops && !same_histogram(&after->g, t.ops)) {
        printf("FAIL %s: ops after the passes: %s\n     expected: %s\n", path, hist, t.ops);
        bad++;
    }
    for (int i = 0; !st && i < t.n_notes; i++) {
        bool found = false;
        for (int k = 0; k < r.n_notes && !found; k++) found = strstr(r.notes[k], t.notes[i]) != NULL;
        if (!found) {
            printf("FAIL %s: no note contains '%s'; the notes:\n", path, t.notes[i]);
            for (int k = 0; k < r.n_notes; k++) printf("     %s\n", r.notes[k]);
            bad++;
        }
    }
    char *printed = st ? NULL : print_str(after);
    if (printed && t.has_expect) {
        char *lines[MAX_LINES];
        int n = node_lines(printed, lines, MAX_LINES);
        bool same = n == t.n_expect;
        for (int i = 0; same && i < n; i++) same = !strcmp(lines[i], t.expect[i]);
        if (!same) {
            printf("FAIL %s: the graph after the passes differs from '# expect:'; got:\n", path);
            for (int i = 0; i < n; i++) printf("#| %s\n", lines[i]);
            bad++;
        }
    }
    free(printed);
    double worst = st ? -1 : compare(before, after, t.dims);
    if (worst < 0 || worst > 1e-5) {
        printf("FAIL %s: outputs before and after the passes differ (worst relative %g; -1 = a run failed)\n", path, worst);
        bad++;
    }
    printf("%s %s: ops %s; worst output difference %.2g\n", bad ? "FAIL" : "ok  ", path, hist, worst);
    fails += bad;
    sk_passmgr_result_free(&r);
    sk_model_free(before);
    sk_model_free(after);
    tcase_free(&t);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int show(const char *path, const char *passes)
{
    tcase t;
    memset(&t, 0, sizeof t);
    parse_steps(&t, passes ? passes : "fuse");
    sk_model *m = NULL;
    if (sk_model_load(path, &m)) { printf("%s\n", sk_errmsg()); return 1; }
    sk_passmgr_result r;
    sk_status st = run_passes(m, &t, &r);
    for (int k = 0; k < r.n_notes; k++) printf("# note: %s\n", r.notes[k]);
    if (st) printf("# error: %s\n", sk_errmsg());
    else sk_ir_print(m, stdout, false);
    sk_passmgr_result_free(&r);
    sk_model_free(m);
    free(t.steps_buf);
    return st != SK_OK;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--show")) return show(argv[2], argc > 3 ? argv[3] : NULL);
    char *files[256];
    int n = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && n < 256; i++) files[n++] = sk_strdup(argv[i]);
    } else {
        DIR *d = opendir("tests/ir/fuse");
        for (struct dirent *e; d && (e = readdir(d)) && n < 256;) {
            size_t l = strlen(e->d_name);
            if (l > 5 && !strcmp(e->d_name + l - 5, ".skir")) files[n++] = sk_path_join("tests/ir/fuse", e->d_name);
        }
        if (d) closedir(d);
        qsort(files, (size_t)n, sizeof *files, cmp_str);
        CHECK(n >= 10);
    }
    for (int i = 0; i < n; i++) {
        run_case(files[i]);
        sk_free(files[i]);
    }
    printf("%d cases, %d failures\n", n, fails);
    return fails ? 1 : 0;
}
