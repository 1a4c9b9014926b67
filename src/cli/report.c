/* report.c — `shrink report RUNS... [--format md|csv|json|html] [--plot
 * OUT.svg]`: one trade-off table from the reports of compress runs
 * (src/pipeline/report.c), and its plots (src/pipeline/plot.c).
 *
 * A RUN is a .report.json file or a folder whose *.report.json files are
 * read in name order.  The table goes to stdout, or with -o to a file; the
 * files written (-o, --plot) are written atomically and replaced only with
 * --force.
 */
#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "pipeline/pipeline.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink report RUNS... [--format md|csv|json|html] [-o FILE] [--plot OUT.svg] [--force]\n"
            "\n"
            "Print one table of compress runs: a row per configuration (each baseline once, each\n"
            "compressed model) with method, bits, sparsity, params, bytes, ratio, metric, delta vs\n"
            "baseline, latency p50 and speedup; rows on the Pareto front of size vs metric and of\n"
            "latency vs metric are marked.  RUNS are OUT.report.json files written by 'shrink compress'\n"
            "or folders holding them.\n"
            "\n"
            "  --format F     md (default), csv, json, or html (one self-contained page: the table and\n"
            "                 the plots)\n"
            "  -o FILE        write the table to FILE (atomically) instead of stdout\n"
            "  --plot OUT.svg also draw the metric against size and against latency, a point per row,\n"
            "                 the Pareto front as a step line\n"
            "  --force        replace FILE / OUT.svg if they exist\n"
            "\n"
            "examples: shrink report runs/ --format csv > tradeoffs.csv\n"
            "          shrink report runs/ --format html -o report.html --plot report.svg\n");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct list { char **p; int n, cap; } list;

static sk_status add(list *l, const char *path)
{
    if (sk_grow((void **)&l->p, &l->cap, l->n + 1, sizeof *l->p)) return SK_ERR_NOMEM;
    if (!(l->p[l->n] = sk_strdup(path))) return SK_ERR_NOMEM;
    l->n++;
    return SK_OK;
}

static sk_status expand(list *l, const char *run)
{
    if (!sk_is_dir(run)) return add(l, run);
    DIR *d = opendir(run);
    if (!d) return sk_err(SK_ERR_IO, "%s: cannot read the folder", run);
    list found = {0};
    sk_status st = SK_OK;
    for (struct dirent *e; !st && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] != '.' && n > 12 && !strcmp(e->d_name + n - 12, ".report.json")) {
            char *p = sk_path_join(run, e->d_name);
            st = p ? add(&found, p) : SK_ERR_NOMEM;
            sk_free(p);
        }
    }
    closedir(d);
    if (!st && !found.n) st = sk_err(SK_ERR_INVALID, "%s: no *.report.json files in this folder", run);
    if (!st) qsort(found.p, (size_t)found.n, sizeof *found.p, cmp_str);
    for (int i = 0; i < found.n; i++) {
        if (!st) st = add(l, found.p[i]);
        sk_free(found.p[i]);
    }
    sk_free(found.p);
    return st;
}

/* What fn writes to f, into path atomically. */
static sk_status write_to(const char *path, bool force, sk_status (*fn)(struct cJSON *const *, int, sk_report_fmt, FILE *),
                          cJSON *const *reps, int n, sk_report_fmt fmt)
{
    sk_afile af;
    sk_status st = sk_afile_open(&af, path, force);
    if (st) return st;
    if ((st = fn(reps, n, fmt, af.f))) { sk_afile_abort(&af); return sk_err_prefix(st, "%s", path); }
    return sk_afile_commit(&af);
}

static sk_status svg(struct cJSON *const *reps, int n, sk_report_fmt fmt, FILE *f)
{
    (void)fmt;
    return sk_report_svg(reps, n, f);
}

int cmd_report(int argc, char **argv)
{
    sk_report_fmt fmt = SK_REPORT_MD;
    const char *out = NULL, *plot = NULL;
    bool force = false;
    list runs = {0};
    sk_status st = SK_OK;
    int rc = -1;
    for (int i = 1; i < argc && rc < 0 && !st; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(stdout); rc = 0; }
        else if (!strcmp(a, "--format") && i + 1 < argc) {
            const char *f = argv[++i];
            if (!strcmp(f, "md")) fmt = SK_REPORT_MD;
            else if (!strcmp(f, "csv")) fmt = SK_REPORT_CSV;
            else if (!strcmp(f, "json")) fmt = SK_REPORT_JSON;
            else if (!strcmp(f, "html")) fmt = SK_REPORT_HTML;
            else rc = cli_usage("report", "--format takes md, csv, json or html, not '%s'", f);
        } else if (!strcmp(a, "-o") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "--plot") && i + 1 < argc) plot = argv[++i];
        else if (!strcmp(a, "--force")) force = true;
        else if (a[0] == '-') rc = cli_usage("report", "unknown option or missing value '%s'", a);
        else st = expand(&runs, a);
    }
    if (rc < 0 && !st && !runs.n) rc = cli_usage("report", "no RUNS given");
    if (rc < 0 && !st && plot && strcmp(sk_path_ext(plot), ".svg")) rc = cli_usage("report", "--plot wants a .svg file, not '%s'", plot);
    for (int i = 0; rc < 0 && !st && i < 2; i++) {   /* refuse before reading anything */
        const char *p = i ? plot : out;
        if (p && !force && sk_file_exists(p)) st = sk_err(SK_ERR_IO, "%s exists (use --force to replace it)", p);
    }
    cJSON **reps = rc < 0 && !st ? sk_calloc((size_t)runs.n, sizeof *reps) : NULL;
    if (rc < 0 && !st && !reps) st = SK_ERR_NOMEM;
    for (int i = 0; rc < 0 && !st && i < runs.n; i++) {
        char *text;
        size_t len;
        if ((st = sk_read_file(runs.p[i], &text, &len))) break;
        reps[i] = cJSON_Parse(text);
        sk_free(text);
        if (!cJSON_IsObject(reps[i])) st = sk_err(SK_ERR_FORMAT, "%s: not a JSON object", runs.p[i]);
    }
    if (rc < 0 && !st && plot) st = write_to(plot, force, svg, reps, runs.n, fmt);
    if (rc < 0 && !st) st = out ? write_to(out, force, sk_report_table, reps, runs.n, fmt) : sk_report_table(reps, runs.n, fmt, stdout);
    for (int i = 0; reps && i < runs.n; i++) cJSON_Delete(reps[i]);
    sk_free(reps);
    for (int i = 0; i < runs.n; i++) sk_free(runs.p[i]);
    sk_free(runs.p);
    if (rc >= 0) return rc;
    return st ? cli_fail(st) : 0;
}
