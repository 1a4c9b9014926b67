/* report.c — trade-off tables from compress reports.
 *
 * `shrink compress` writes OUT.report.json (every measured figure) and
 * OUT.report.md; `shrink report` reads any number of the JSON files back.
 * Both print their table with sk_report_table, so the table in a .report.md
 * is exactly what `shrink report X.report.json --format md` prints.  This
 * file reads and formats reports; it measures nothing.  The rows are shared
 * (report.h) with plot.c, which draws them and writes the HTML page.
 *
 * A row is a configuration: each baseline once (per model, data and metric)
 * and each compressed model.  Pareto marks are computed within a group of
 * rows measured the same way (metric and data): a row is on the size front
 * when no other row is at most as large and at least as good, one of them
 * strictly; likewise for latency.
 */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline/pipeline.h"
#include "pipeline/report.h"
#include "util/util.h"

typedef sk_report_row row;
#define N_COLS SK_REPORT_COLS

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void append(char *buf, size_t cap, const char *s)
{
    size_t k = strlen(buf);
    if (k < cap) snprintf(buf + k, cap - k, "%s%s", k ? "+" : "", s);
}

/* Mixed precision in a quantize step's parameters, after its base bits:
 * " +3 int8 +2 g32 +1 fp32": layers overridden or excluded (kept fp32). */
static void mixed(const cJSON *p, char *b, size_t cap)
{
    int n8 = 0, n4 = 0;
    double g4 = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "layers")) {
        if (num(e, "bits") == 8) n8++;
        else if (!isnan(num(e, "group"))) { n4++; g4 = num(e, "group"); }
    }
    int nx = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "exclude"));
    size_t k = strlen(b);
    if (n8 && k < cap) k += (size_t)snprintf(b + k, cap - k, " +%d int8", n8);
    if (n4 && k < cap) k += (size_t)snprintf(b + k, cap - k, " +%d g%g", n4, g4);
    if (nx && k < cap) snprintf(b + k, cap - k, " +%d fp32", nx);
}

/* method, bits and sparsity from the provenance of this run */
static void describe(const cJSON *prov, row *r)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, prov) {
        const char *pass = str(e, "pass");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "params");
        if (!pass || strchr(pass, '.')) continue;   /* "pass.detail": a record a pass adds beside its own entry */
        char b[64];
        if (!strcmp(pass, "quantize")) {
            const char *m = str(p, "method");
            if (num(p, "smoothquant") > 0) append(r->method, sizeof r->method, "smoothquant");
            append(r->method, sizeof r->method, m ? m : "rtn");
            double bits = num(p, "bits");
            if (bits == 4) snprintf(b, sizeof b, "w4a%g g%g", num(p, "act_bits") == 8 ? 8.0 : 32.0, num(p, "group"));
            else snprintf(b, sizeof b, "w%ga%g", bits, num(p, "act_bits") == 8 ? 8.0 : 32.0);
            mixed(p, b, sizeof b);
            append(r->bits, sizeof r->bits, b);
        } else if (!strcmp(pass, "prune")) {
            const char *m = str(p, "method"), *nm = str(p, "nm");
            append(r->method, sizeof r->method, m ? m : "magnitude");
            if (nm && nm[0]) snprintf(b, sizeof b, "%s", nm);
            else snprintf(b, sizeof b, "%g%%", num(p, "sparsity") * 100);
            append(r->sparsity, sizeof r->sparsity, b);
        } else if (!strcmp(pass, "prune_structured")) {
            append(r->method, sizeof r->method, "structured");
            snprintf(b, sizeof b, "heads %g ffn %g", num(p, "heads"), num(p, "ffn"));
            append(r->sparsity, sizeof r->sparsity, b);
        } else if (strcmp(pass, "fold") && strcmp(pass, "fuse")) {
            append(r->method, sizeof r->method, pass);
        }
    }
}

static sk_status side(const cJSON *rep, const char *which, int idx, row *r)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(rep, which);
    r->params = num(s, "params");
    r->bytes = num(s, "const_bytes");
    r->value = num(s, "value");
    r->p50 = num(s, "p50_ms");
    if (!cJSON_IsObject(s) || isnan(r->params) || isnan(r->bytes) || isnan(r->value) || isnan(r->p50)) {
        const char *o = str(rep, "output");
        return sk_err(SK_ERR_FORMAT, "report %d (%s): '%s' must be an object with params, const_bytes, value and p50_ms", idx + 1,
                      o ? o : "no output", which);
    }
    return SK_OK;
}

static bool better(const row *a, const row *b)   /* a's metric strictly better than b's */
{
    return a->lower_better ? a->value < b->value : a->value > b->value;
}

static void pareto(row *rows, int n)
{
    for (int i = 0; i < n; i++) {
        bool dom_s = false, dom_l = false;
        for (int j = 0; j < n; j++) {
            if (j == i || strcmp(rows[i].group, rows[j].group)) continue;
            bool geq = !better(&rows[i], &rows[j]);   /* j at least as good */
            bool gt = better(&rows[j], &rows[i]);
            if (geq && rows[j].bytes <= rows[i].bytes && (gt || rows[j].bytes < rows[i].bytes)) dom_s = true;
            if (geq && rows[j].p50 <= rows[i].p50 && (gt || rows[j].p50 < rows[i].p50)) dom_l = true;
        }
        rows[i].par_size = !dom_s;
        rows[i].par_lat = !dom_l;
    }
}

sk_status sk_report_rows(struct cJSON *const *reps, int n, row **out, int *n_out)
{
    row *rows = sk_calloc((size_t)n * 2 + 1, sizeof *rows);
    if (!rows) return SK_ERR_NOMEM;
    int k = 0;
    sk_status st = SK_OK;
    for (int i = 0; i < n && !st; i++) {
        const cJSON *rep = reps[i], *ev = cJSON_GetObjectItemCaseSensitive(rep, "eval");
        const char *metric = str(ev, "metric"), *data = str(ev, "data"), *model = str(rep, "model");
        const char *name = str(rep, "name"), *gate = NULL;
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(rep, "gate");
        if (cJSON_IsObject(g)) gate = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "passed")) ? "pass" : "FAIL";
        if (!metric || !data || !model || !name || !gate) {
            st = sk_err(SK_ERR_FORMAT, "report %d: not a shrink compress report (needs name, model, eval.metric, eval.data, gate)", i + 1);
            break;
        }
        row b = {0}, c = {0};
        bool lower = !strcmp(metric, "perplexity");
        snprintf(b.group, sizeof b.group, "%s\n%s", metric, data);
        snprintf(c.group, sizeof c.group, "%s\n%s", metric, data);
        if ((st = side(rep, "baseline", i, &b)) || (st = side(rep, "compressed", i, &c))) break;
        snprintf(b.name, sizeof b.name, "baseline %s", model);
        snprintf(c.name, sizeof c.name, "%s", name);
        for (row *r = &b; r; r = r == &b ? &c : NULL) {
            snprintf(r->metric, sizeof r->metric, "%s", metric);
            snprintf(r->unit, sizeof r->unit, "%s", lower ? "%" : "pt");
            r->lower_better = lower;
            r->ratio = r->bytes > 0 ? b.bytes / r->bytes : 0;
            r->speedup = r->p50 > 0 ? b.p50 / r->p50 : 0;
            r->delta = lower ? (r->value / b.value - 1) * 100 : (r->value - b.value) * 100;
        }
        b.base = true;
        snprintf(b.gate, sizeof b.gate, "-");
        snprintf(c.gate, sizeof c.gate, "%s", gate);
        describe(cJSON_GetObjectItemCaseSensitive(rep, "provenance"), &c);
        int seen = -1;   /* one baseline row per model, data and metric; the first run's figures */
        for (int j = 0; j < k && seen < 0; j++)
            if (rows[j].base && !strcmp(rows[j].name, b.name) && !strcmp(rows[j].group, b.group)) seen = j;
        if (seen < 0) {
            b.p50_lo = b.p50_hi = b.p50;
            b.runs = 1;
            rows[k++] = b;
        } else {
            row *r = &rows[seen];
            r->p50_lo = fmin(r->p50_lo, b.p50);
            r->p50_hi = fmax(r->p50_hi, b.p50);
            r->runs++;
        }
        rows[k++] = c;
    }
    if (st) { sk_free(rows); return st; }
    pareto(rows, k);
    *out = rows;
    *n_out = k;
    return SK_OK;
}

static const char *dash(const char *s) { return s[0] ? s : "-"; }

static void pareto_text(const row *r, char *b, size_t cap)
{
    snprintf(b, cap, "%s%s%s", r->par_size ? "size" : "", r->par_size && r->par_lat ? ", " : "", r->par_lat ? "latency" : "");
}

const char *const sk_report_headers[N_COLS] = {"name", "method", "bits", "sparsity", "params", "bytes", "ratio",
                                             "metric", "delta", "p50 ms", "speedup", "gate", "pareto"};

void sk_report_cells(const row *r, char c[N_COLS][192])
{
    snprintf(c[0], 192, "%s", r->name);
    snprintf(c[1], 192, "%s", r->base ? "-" : dash(r->method));
    snprintf(c[2], 192, "%s", dash(r->bits));
    snprintf(c[3], 192, "%s", dash(r->sparsity));
    snprintf(c[4], 192, "%.0f", r->params);
    snprintf(c[5], 192, "%.0f", r->bytes);
    snprintf(c[6], 192, "%.2fx", r->ratio);
    if (r->lower_better) snprintf(c[7], 192, "ppl %.3f", r->value);
    else snprintf(c[7], 192, "acc %.2f%%", r->value * 100);
    if (r->base) snprintf(c[8], 192, "-");
    else snprintf(c[8], 192, "%+.2f%s", r->delta, r->unit);
    snprintf(c[9], 192, "%.4g", r->p50);
    snprintf(c[10], 192, "%.2fx", r->speedup);
    snprintf(c[11], 192, "%s", r->gate);
    pareto_text(r, c[12], 192);
    if (!c[12][0]) snprintf(c[12], 192, "-");
}

static void csv_field(FILE *f, const char *s, bool last)
{
    bool q = strpbrk(s, ",\"\n") != NULL;
    if (q) {
        fputc('"', f);
        for (; *s; s++) { if (*s == '"') fputc('"', f); fputc(*s, f); }
        fputc('"', f);
    } else fputs(s, f);
    fputc(last ? '\n' : ',', f);
}

static cJSON *rows_json(const row *rows, int k)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < k; i++) {
        const row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", r->name);
        cJSON_AddBoolToObject(o, "baseline", r->base);
        cJSON_AddStringToObject(o, "method", r->base ? "" : r->method);
        cJSON_AddStringToObject(o, "bits", r->bits);
        cJSON_AddStringToObject(o, "sparsity", r->sparsity);
        cJSON_AddNumberToObject(o, "params", r->params);
        cJSON_AddNumberToObject(o, "bytes", r->bytes);
        cJSON_AddNumberToObject(o, "ratio", r->ratio);
        cJSON_AddStringToObject(o, "metric", r->metric);
        cJSON_AddNumberToObject(o, "value", r->value);
        if (!r->base) { cJSON_AddNumberToObject(o, "delta", r->delta); cJSON_AddStringToObject(o, "delta_unit", r->unit); }
        cJSON_AddNumberToObject(o, "p50_ms", r->p50);
        if (r->base) {
            cJSON_AddNumberToObject(o, "runs", r->runs);
            cJSON_AddNumberToObject(o, "p50_ms_min", r->p50_lo);
            cJSON_AddNumberToObject(o, "p50_ms_max", r->p50_hi);
        }
        cJSON_AddNumberToObject(o, "speedup", r->speedup);
        cJSON_AddStringToObject(o, "gate", r->gate);
        cJSON_AddBoolToObject(o, "pareto_size", r->par_size);
        cJSON_AddBoolToObject(o, "pareto_latency", r->par_lat);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

sk_status sk_report_json(struct cJSON *const *reports, int n, struct cJSON **out)
{
    row *rows;
    int k;
    *out = NULL;
    sk_status st = sk_report_rows(reports, n, &rows, &k);
    if (st) return st;
    *out = rows_json(rows, k);
    sk_free(rows);
    return *out ? SK_OK : SK_ERR_NOMEM;
}

sk_status sk_report_table(struct cJSON *const *reports, int n, sk_report_fmt fmt, FILE *f)
{
    row *rows;
    int k;
    sk_status st = sk_report_rows(reports, n, &rows, &k);
    if (st) return st;
    if (fmt == SK_REPORT_MD) {
        fputc('|', f);
        for (int c = 0; c < N_COLS; c++) fprintf(f, " %s |", sk_report_headers[c]);
        fputs("\n|", f);
        for (int c = 0; c < N_COLS; c++) fputs(c == 0 || (c >= 1 && c <= 3) || c >= 11 ? " --- |" : " ---: |", f);
        fputc('\n', f);
        for (int i = 0; i < k; i++) {
            char c[N_COLS][192];
            sk_report_cells(&rows[i], c);
            fputc('|', f);
            for (int j = 0; j < N_COLS; j++) fprintf(f, " %s |", c[j]);
            fputc('\n', f);
        }
        for (int i = 0; i < k; i++)   /* a baseline whose latency moved between runs: say so under the table */
            if (rows[i].base && rows[i].runs > 1 && rows[i].p50_hi > 1.1 * rows[i].p50_lo)
                fprintf(f, "\nThe p50 of %s was %.4g to %.4g ms over the %d runs that measured it (the machine's load "
                        "changed); the table shows the first, and each speedup is against the baseline measured in "
                        "its own run.\n", rows[i].name, rows[i].p50_lo, rows[i].p50_hi, rows[i].runs);
    } else if (fmt == SK_REPORT_CSV) {
        fputs("name,baseline,method,bits,sparsity,params,bytes,ratio,metric,value,delta,delta_unit,p50_ms,speedup,gate,"
              "pareto_size,pareto_latency\n", f);
        for (int i = 0; i < k; i++) {
            const row *r = &rows[i];
            char b[128];
            csv_field(f, r->name, false);
            csv_field(f, r->base ? "true" : "false", false);
            csv_field(f, r->base ? "" : r->method, false);
            csv_field(f, r->bits, false);
            csv_field(f, r->sparsity, false);
            fprintf(f, "%.0f,%.0f,%.17g,%s,%.17g,", r->params, r->bytes, r->ratio, r->metric, r->value);
            if (r->base) fputs(",,", f);
            else fprintf(f, "%.17g,%s,", r->delta, r->unit);
            snprintf(b, sizeof b, "%.17g,%.17g,%s,%s,%s\n", r->p50, r->speedup, r->gate, r->par_size ? "true" : "false",
                     r->par_lat ? "true" : "false");
            fputs(b, f);
        }
    } else if (fmt == SK_REPORT_HTML) {
        st = sk_report_html_page(rows, k, f);
    } else {
        cJSON *a = rows_json(rows, k);
        char *s = a ? cJSON_Print(a) : NULL;
        if (s) fprintf(f, "%s\n", s);
        else st = SK_ERR_NOMEM;
        free(s);
        cJSON_Delete(a);
    }
    sk_free(rows);
    if (!st && ferror(f)) st = sk_err(SK_ERR_IO, "report: write failed");
    return st;
}

/* The log of `compress --auto` (its "search" object), when there is one. */
static void search_markdown(const cJSON *se, FILE *f)
{
    if (!cJSON_IsObject(se)) return;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(se, "goal"), *e;
    const char *u = str(g, "unit") ? str(g, "unit") : "";
    fprintf(f, "\n## Search (--auto)\n\n- goal: loss at most %g%s, objective %s, int4 method %s\n", num(g, "max_drop"), u,
            str(se, "objective") ? str(se, "objective") : "?", str(se, "method") ? str(se, "method") : "?");
    fprintf(f, "- %.1f s of a %.0f s budget; stopped: %s\n- sensitivity data: `%s`\n- **%s**\n", num(se, "seconds"),
            num(se, "budget_seconds"), str(se, "stopped") ? str(se, "stopped") : "?",
            str(se, "sensitivity_data") ? str(se, "sensitivity_data") : "?", str(se, "conclusion") ? str(se, "conclusion") : "?");
    fputs("\n| # | phase | configuration | MB | KL | metric | loss | result |\n| ---: | --- | --- | ---: | ---: | ---: | ---: | --- |\n", f);
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(se, "trials")) {
        fprintf(f, "| %.0f | %s | %s | %.3f | ", num(e, "id"), str(e, "phase") ? str(e, "phase") : "?", str(e, "what") ? str(e, "what") : "?",
                num(e, "bytes") / 1e6);
        if (isnan(num(e, "kl"))) fputs("- | ", f); else fprintf(f, "%.3g | ", num(e, "kl"));
        if (isnan(num(e, "value"))) fputs("- | - | ", f); else fprintf(f, "%.6g | %.3g%s | ", num(e, "value"), num(e, "loss"), u);
        const char *note = str(e, "note");
        bool ev = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "evaluated"));
        fprintf(f, "%s%s%s |\n", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "met")) ? "**meets**" : ev ? "misses" : "",
                note && ev ? "; " : "", note ? note : "");
    }
    fputs("\n| unit (most sensitive first) | kind | lowest | KL | bytes saved |\n| --- | --- | --- | ---: | ---: |\n", f);
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(se, "units")) {
        fprintf(f, "| %s | %s | %s%s | ", str(e, "name") ? str(e, "name") : "?", str(e, "kind") ? str(e, "kind") : "?",
                str(e, "lowest") ? str(e, "lowest") : "?", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "fixed_fp32")) ? " (kept)" : "");
        if (isnan(num(e, "kl"))) fputs("- | ", f); else fprintf(f, "%.3g | ", num(e, "kl"));
        fprintf(f, "%.0f |\n", num(e, "saved_bytes"));
    }
}

sk_status sk_report_markdown(const cJSON *rep, FILE *f)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(rep, "gate"), *m = cJSON_GetObjectItemCaseSensitive(rep, "machine");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(rep, "eval");
    const char *out = str(rep, "output");
    bool passed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "passed"));
    fprintf(f, "# shrink compress: %s\n\n", str(rep, "name") ? str(rep, "name") : "?");
    fprintf(f, "- model: `%s`\n- output: `%s` (%s)\n", str(rep, "model") ? str(rep, "model") : "?", out ? out : "?",
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "written")) ? "written" : "not written");
    fprintf(f, "- eval: %s on `%s`\n", str(ev, "metric") ? str(ev, "metric") : "?", str(ev, "data") ? str(ev, "data") : "?");
    fprintf(f, "- gate: **%s**\n\n## Trade-offs\n\n", passed ? "passed" : "FAILED");
    struct cJSON *one = (struct cJSON *)rep;
    sk_status st = sk_report_table(&one, 1, SK_REPORT_MD, f);
    if (st) return st;
    fputs("\n## Budgets\n\n| budget | limit | measured | ok | margin |\n| --- | ---: | ---: | --- | ---: |\n", f);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(g, "checks"))
        fprintf(f, "| %s | %s | %s | %s | %s |\n", str(c, "budget") ? str(c, "budget") : "?", str(c, "limit") ? str(c, "limit") : "?",
                str(c, "measured") ? str(c, "measured") : "?", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "ok")) ? "yes" : "**no**",
                str(c, "margin") ? str(c, "margin") : "?");
    if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "checks"))) fputs("| (none) | | | | |\n", f);
    fputs("\n## Provenance\n\n", f);
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(rep, "provenance")) {
        char *p = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "params"));
        fprintf(f, "1. `%s` `%s`\n", str(c, "pass") ? str(c, "pass") : "?", p ? p : "{}");
        free(p);
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(rep, "baseline"), *k = cJSON_GetObjectItemCaseSensitive(rep, "compressed");
    fputs("\n## Measurements\n\n| | baseline | compressed |\n| --- | ---: | ---: |\n", f);
    static const char *const keys[] = {"value", "params", "const_bytes", "file_bytes", "p50_ms", "p90_ms", "mean_ms", "eval_seconds"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        double x = num(b, keys[i]), y = num(k, keys[i]);
        fprintf(f, "| %s | ", keys[i]);
        if (isnan(x)) fputs("-", f); else fprintf(f, "%.6g", x);
        fputs(" | ", f);
        if (isnan(y)) fputs("-", f); else fprintf(f, "%.6g", y);
        fputs(" |\n", f);
    }
    search_markdown(cJSON_GetObjectItemCaseSensitive(rep, "search"), f);
    fprintf(f, "\n## Machine\n\n- cpu: %s\n- isa: %s\n- threads: %.0f\n- shrink %s\n- started %s, finished %s\n",
            str(m, "cpu") ? str(m, "cpu") : "?", str(m, "isa") ? str(m, "isa") : "?", num(m, "threads"),
            str(rep, "shrink_version") ? str(rep, "shrink_version") : "?", str(rep, "started") ? str(rep, "started") : "?",
            str(rep, "finished") ? str(rep, "finished") : "?");
    if (ferror(f)) return sk_err(SK_ERR_IO, "report: write failed");
    return SK_OK;
}
