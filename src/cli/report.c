/* report.c — `shrink report RUNS... [--format md|csv|json]`: one trade-off
 * table from the reports of compress runs (src/pipeline/report.c).
 *
 * A RUN is a .report.json file or a folder whose *.report.json files are
 * read in name order.  The table goes to stdout; nothing is written.
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
            "usage: shrink report RUNS... [--format md|csv|json]\n"
            "\n"
            "Print one table of compress runs: a row per configuration (each baseline once, each\n"
            "compressed model) with method, bits, sparsity, params, bytes, ratio, metric, delta vs\n"
            "baseline, latency p50 and speedup; rows on the Pareto front of size vs metric and of\n"
            "latency vs metric are marked.  RUNS are OUT.report.json files written by 'shrink compress'\n"
            "or folders holding them.\n"
            "\n"
            "  --format F   md (default), csv or json\n"
            "\n"
            "example: shrink report runs/ --format csv > tradeoffs.csv\n");
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

int cmd_report(int argc, char **argv)
{
    sk_report_fmt fmt = SK_REPORT_MD;
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
            else rc = cli_usage("report", "--format takes md, csv or json, not '%s'", f);
        } else if (a[0] == '-') rc = cli_usage("report", "unknown option or missing value '%s'", a);
        else st = expand(&runs, a);
    }
    if (rc < 0 && !st && !runs.n) rc = cli_usage("report", "no RUNS given");
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
    if (rc < 0 && !st) st = sk_report_table(reps, runs.n, fmt, stdout);
    for (int i = 0; reps && i < runs.n; i++) cJSON_Delete(reps[i]);
    sk_free(reps);
    for (int i = 0; i < runs.n; i++) sk_free(runs.p[i]);
    sk_free(runs.p);
    if (rc >= 0) return rc;
    return st ? cli_fail(st) : 0;
}
