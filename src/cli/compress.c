/* compress.c — `shrink compress MODEL --recipe R --eval DATA -o OUT`: the main
 * job.  Measure the model, run the recipe's pipeline, measure the result the
 * same way, and write OUT only when every budget holds (the gate).
 *
 * Order: arguments and the recipe are checked whole before the model is
 * loaded (a typo costs milliseconds); then baseline (sk_eval_auto, sk_bench
 * at batch 1, bytes of constants), the pass manager (which verifies the IR
 * between passes), the same measurements of the result, the gate.  OUT is
 * written atomically (sk_afile: a hidden temporary in OUT's folder, renamed
 * into place), so a killed run never leaves a partial OUT.  The report
 * (OUT.report.json, OUT.report.md) is always written once measurements
 * exist, gate or not; a failed gate exits 3 and writes nothing else.
 * The measuring, the gate and the report are shared (compress.h) with
 * `--auto`, the search for a recipe (compress_auto.c).
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"
#include "cli/compress.h"
#include "eval/eval.h"
#include "formats.h"
#include "pipeline/pipeline.h"
#include "text/text.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink compress MODEL --recipe R --eval DATA -o OUT [--calib DATA] [options]\n"
            "       shrink compress MODEL --auto --max-drop X --eval DATA -o OUT [--calib DATA] [--budget 10m]\n"
            "                       [--objective size|latency] [--method rtn|gptq|awq]\n"
            "\n"
            "Run recipe R's passes over MODEL and write OUT (.skm or .onnx) only if the result meets\n"
            "every budget: evaluate and benchmark MODEL, compress, evaluate and benchmark the result\n"
            "the same way, compare.  OUT.report.json and OUT.report.md are always written; a failed\n"
            "budget exits 3 and writes nothing else.\n"
            "\n"
            "--auto searches the precision of each linear layer instead (int4 g128, int4 g32, int8, fp32):\n"
            "the most aggressive configuration first, then per-layer sensitivity (output KL on the\n"
            "calibration data, or on DATA's inputs without --calib), then the most sensitive layers\n"
            "back to higher precision, one at a time and then cumulatively, within the time budget.  It\n"
            "keeps the best configuration meeting every budget by the objective and writes it with the\n"
            "search log in the report (and OUT.recipe.json to rerun it); if none meets them it still\n"
            "writes the best found and exits 3.\n"
            "\n"
            "  --recipe R          recipe JSON (samples/recipes/*.json; docs/cli.md describes the keys)\n"
            "  --eval DATA         labelled JSONL (accuracy) or raw text (perplexity)\n"
            "  --calib DATA        calibration data for passes that need it (gptq, awq, wanda, ...)\n"
            "  --max-drop X        budget override: \"0.5pt\" (points), \"1%%\" (relative), or a number\n"
            "                      (accuracy: points; perplexity: percent increase)\n"
            "  --min-speedup X     budget override: baseline p50 / compressed p50 >= X\n"
            "  --max-size X        budget override: bytes of constants (\"5MB\") or a ratio in (0, 1]\n"
            "  --auto              search a mixed-precision configuration (needs --max-drop)\n"
            "  --budget T          --auto: time for the search (default 10m; 90s, 1h30m, ...)\n"
            "  --objective O       --auto: size (default) or latency, among configurations meeting the goal\n"
            "  --method M          --auto: int4 method, rtn (default), gptq or awq (these need --calib)\n"
            "  --threads N         threads (default: all cores, or SHRINK_THREADS)\n"
            "  --plugin LIB.so     load pass plugins (repeatable)\n"
            "  --json              print the report JSON on stdout\n"
            "  -o OUT              the artifact      --force   replace OUT\n"
            "\n"
            "exit: 0 written, 1 error, 2 usage, 3 a budget failed (the report says by how much)\n"
            "\n"
            "examples:\n"
            "  shrink compress samples/zoo/mlp-digits/model.onnx --recipe samples/recipes/digits-mlp-int8.json \\\n"
            "      --eval samples/data/digits-test.jsonl -o mlp-int8.skm\n"
            "  shrink compress samples/zoo/bert-fortunes --auto --max-drop 0.5 --eval samples/data/fortunes-test.jsonl \\\n"
            "      --calib samples/data/fortunes-calib.txt -o bert-auto.skm\n");
}

sk_status compress_measure(const sk_model *m, const char *data, const sk_eval_opts *eo, const sk_bench_opts *bo,
                           const char *what, measure *r)
{
    memset(r, 0, sizeof *r);
    fprintf(stderr, "compress: %s: evaluating on %s\n", what, data);
    sk_status st = sk_eval_auto(m, data, eo, &r->ev);
    sk_free(r->ev.pred);
    r->ev.pred = NULL;
    if (st) return sk_err_prefix(st, "%s", what);
    fprintf(stderr, "compress: %s: %s %.6g (%ld %s, %.1fs); benchmarking (batch %d, seq %d)\n", what, r->ev.metric,
            r->ev.value, r->ev.n, strcmp(r->ev.metric, "accuracy") ? "tokens" : "examples", r->ev.seconds, bo->batch, bo->seq);
    if ((st = sk_bench(m, bo, &r->bench))) return sk_err_prefix(st, "%s: bench", what);
    fprintf(stderr, "compress: %s: p50 %.3f ms\n", what, r->bench.p50_ms);
    r->params = sk_model_params(m, NULL);
    r->const_bytes = (double)cli_const_bytes(m);
    r->file_bytes = -1;
    return SK_OK;
}

static cJSON *measure_json(const measure *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "value", r->ev.value);
    cJSON_AddNumberToObject(o, "n", (double)r->ev.n);
    cJSON_AddNumberToObject(o, "params", (double)r->params);
    cJSON_AddNumberToObject(o, "const_bytes", r->const_bytes);
    if (r->file_bytes >= 0) cJSON_AddNumberToObject(o, "file_bytes", r->file_bytes);
    else cJSON_AddNullToObject(o, "file_bytes");
    cJSON_AddNumberToObject(o, "p50_ms", r->bench.p50_ms);
    cJSON_AddNumberToObject(o, "p90_ms", r->bench.p90_ms);
    cJSON_AddNumberToObject(o, "p99_ms", r->bench.p99_ms);
    cJSON_AddNumberToObject(o, "mean_ms", r->bench.mean_ms);
    cJSON_AddNumberToObject(o, "bench_iters", r->bench.iters);
    cJSON_AddNumberToObject(o, "peak_rss_kb", (double)r->bench.peak_rss_kb);
    cJSON_AddNumberToObject(o, "eval_seconds", r->ev.seconds);
    return o;
}

/* One budget check into the report's gate.checks; false when it fails. */
static bool check(cJSON *checks, bool loud, const char *budget, const char *limit, const char *measured, bool ok, const char *margin)
{
    if (checks) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "budget", budget);
        cJSON_AddStringToObject(c, "limit", limit);
        cJSON_AddStringToObject(c, "measured", measured);
        cJSON_AddBoolToObject(c, "ok", ok);
        cJSON_AddStringToObject(c, "margin", margin);
        cJSON_AddItemToArray(checks, c);
    }
    if (!ok && loud)
        fprintf(stderr, "shrink: budget %s failed: measured %s, limit %s (failed by %s)\n", budget, measured, limit, margin[0] == '-' ? margin + 1 : margin);
    return ok;
}

double compress_loss(const sk_budget_drop *b, const char *metric, double base, double comp, const char **unit)
{
    bool ppl = !strcmp(metric, "perplexity");
    bool rel = b->relative || (b->plain && ppl);
    *unit = rel ? "%" : "pt";
    if (rel) return ppl ? (comp / base - 1) * 100 : (base - comp) / base * 100;
    return ppl ? comp - base : (base - comp) * 100;
}

bool compress_gate(const sk_budgets *b, const measure *base, const measure *comp, cJSON *checks, bool loud)
{
    bool ok = true;
    char lim[64], got[64], mar[64];
    if (b->max_drop.set) {
        const char *u;
        double d = compress_loss(&b->max_drop, base->ev.metric, base->ev.value, comp->ev.value, &u);   /* > 0 = worse */
        snprintf(lim, sizeof lim, "%g%s", b->max_drop.v, u);
        snprintf(got, sizeof got, "%.4g%s", d, u);
        snprintf(mar, sizeof mar, "%.4g%s", b->max_drop.v - d, u);
        ok &= check(checks, loud, strcmp(base->ev.metric, "perplexity") ? "max_drop (accuracy drop)" : "max_drop (perplexity increase)",
                    lim, got, d <= b->max_drop.v, mar);
    }
    if (b->min_speedup > 0) {
        double s = comp->bench.p50_ms > 0 ? base->bench.p50_ms / comp->bench.p50_ms : 0;
        snprintf(lim, sizeof lim, "%gx", b->min_speedup);
        snprintf(got, sizeof got, "%.3fx", s);
        snprintf(mar, sizeof mar, "%.3fx", s - b->min_speedup);
        ok &= check(checks, loud, "min_speedup", lim, got, s >= b->min_speedup, mar);
    }
    if (b->max_size_bytes > 0) {
        snprintf(lim, sizeof lim, "%.0f B", b->max_size_bytes);
        snprintf(got, sizeof got, "%.0f B", comp->const_bytes);
        snprintf(mar, sizeof mar, "%.0f B", b->max_size_bytes - comp->const_bytes);
        ok &= check(checks, loud, "max_size", lim, got, comp->const_bytes <= b->max_size_bytes, mar);
    }
    if (b->max_size_ratio > 0) {
        double r = base->const_bytes > 0 ? comp->const_bytes / base->const_bytes : 0;
        snprintf(lim, sizeof lim, "%g", b->max_size_ratio);
        snprintf(got, sizeof got, "%.4f", r);
        snprintf(mar, sizeof mar, "%.4f", b->max_size_ratio - r);
        ok &= check(checks, loud, "max_size (ratio)", lim, got, r <= b->max_size_ratio, mar);
    }
    return ok;
}

void compress_timestamp(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

sk_status compress_write_reports(const cJSON *rep, const char *out, char **json_out)
{
    char *js = cJSON_Print(rep);
    if (!js) return SK_ERR_NOMEM;
    size_t n = strlen(out) + 16;
    char *pj = sk_malloc(n), *pm = sk_malloc(n);
    sk_status st = pj && pm ? SK_OK : SK_ERR_NOMEM;
    if (!st) {
        snprintf(pj, n, "%s.report.json", out);
        snprintf(pm, n, "%s.report.md", out);
    }
    /* the markdown is made from the JSON as written, so `shrink report` reproduces its table */
    cJSON *back = st ? NULL : cJSON_Parse(js);
    if (!st && !back) st = SK_ERR_NOMEM;
    char *md = NULL;
    size_t md_len = 0;
    FILE *mf = st ? NULL : open_memstream(&md, &md_len);
    if (!st && !mf) st = sk_err(SK_ERR_IO, "open_memstream failed");
    if (!st) st = sk_report_markdown(back, mf);
    if (mf) fclose(mf);
    if (!st) { size_t k = strlen(js); js[k] = '\n'; st = sk_afile_write_file(pj, js, k + 1, true); js[k] = 0; }
    if (!st) st = sk_afile_write_file(pm, md, md_len, true);   /* a report describes the latest run */
    if (!st) fprintf(stderr, "compress: wrote %s and %s\n", pj, pm);
    free(md);
    cJSON_Delete(back);
    sk_free(pj);
    sk_free(pm);
    if (!st && json_out) *json_out = js;
    else free(js);
    return st;
}

void compress_bench_opts(const sk_model *m, int seq, int threads, sk_bench_opts *bo)
{
    *bo = (sk_bench_opts){.threads = threads, .batch = 1, .warmup = 3};
    bo->seq = seq ? seq : (m->arch.max_pos > 0 && m->arch.max_pos < 128 ? m->arch.max_pos : 128);
    if (!seq && strstr(m->arch.task, "classification") && sk_model_has_tokenizer(m)) {
        sk_tokenizer *tok;
        if (!sk_model_tokenizer(m, &tok)) {
            int ml = sk_model_max_len(m, tok);
            if (ml > 0 && ml < bo->seq) bo->seq = ml;
            sk_tok_free(tok);
        }
        sk_err_clear();
    }
}

cJSON *compress_report(const compress_run *r)
{
    const sk_cpu *cpu = sk_cpu_get();
    const measure *base = r->base, *comp = r->comp;
    char isa[96];
    snprintf(isa, sizeof isa, "%s%s%s%s", cpu->avx512vnni ? "avx512-vnni " : "", cpu->avx512f ? "avx512f " : "",
             cpu->avx2 ? "avx2 " : "", "scalar");
    cJSON *rep = cJSON_CreateObject();
    cJSON_AddStringToObject(rep, "shrink_version", SK_VERSION);
    cJSON_AddStringToObject(rep, "name", r->name);
    cJSON_AddStringToObject(rep, "model", r->model);
    cJSON_AddStringToObject(rep, "output", r->out);
    cJSON_AddBoolToObject(rep, "written", r->written);
    cJSON_AddStringToObject(rep, "started", r->started);
    cJSON_AddStringToObject(rep, "finished", r->finished);
    if (r->recipe_file) cJSON_AddStringToObject(rep, "recipe_file", r->recipe_file);
    else cJSON_AddNullToObject(rep, "recipe_file");
    cJSON_AddItemToObject(rep, "recipe", cJSON_Parse(r->recipe_json));
    cJSON *mach = cJSON_AddObjectToObject(rep, "machine");
    cJSON_AddStringToObject(mach, "cpu", cpu->brand);
    cJSON_AddStringToObject(mach, "isa", isa);
    cJSON_AddNumberToObject(mach, "threads", r->threads ? r->threads : sk_default_threads());
    cJSON *ev = cJSON_AddObjectToObject(rep, "eval");
    cJSON_AddStringToObject(ev, "data", r->data);
    cJSON_AddStringToObject(ev, "metric", base->ev.metric);
    if (!strcmp(base->ev.metric, "perplexity")) cJSON_AddNumberToObject(ev, "n_ctx", base->ev.n_ctx);
    cJSON_AddNumberToObject(ev, "limit", (double)r->limit);
    cJSON_AddNumberToObject(ev, "bench_batch", r->bo->batch);
    cJSON_AddNumberToObject(ev, "bench_seq", r->bo->seq);
    if (r->calib) cJSON_AddStringToObject(rep, "calib", r->calib);
    else cJSON_AddNullToObject(rep, "calib");
    cJSON_AddItemToObject(rep, "baseline", measure_json(base));
    cJSON_AddItemToObject(rep, "compressed", measure_json(comp));
    bool ppl = !strcmp(base->ev.metric, "perplexity");
    cJSON_AddNumberToObject(rep, "delta", ppl ? (comp->ev.value / base->ev.value - 1) * 100 : (comp->ev.value - base->ev.value) * 100);
    cJSON_AddStringToObject(rep, "delta_unit", ppl ? "%" : "pt");
    cJSON_AddNumberToObject(rep, "ratio", comp->const_bytes > 0 ? base->const_bytes / comp->const_bytes : 0);
    cJSON_AddNumberToObject(rep, "speedup", comp->bench.p50_ms > 0 ? base->bench.p50_ms / comp->bench.p50_ms : 0);
    cJSON *g = cJSON_AddObjectToObject(rep, "gate");
    cJSON_AddBoolToObject(g, "passed", r->passed);
    cJSON_AddItemToObject(g, "checks", r->checks);
    cJSON *prov = cJSON_AddArrayToObject(rep, "provenance");
    for (int i = r->prov0; i < r->m->n_prov; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "pass", r->m->prov[i].pass);
        cJSON *p = cJSON_Parse(r->m->prov[i].params_json);
        cJSON_AddItemToObject(e, "params", p ? p : cJSON_CreateObject());
        cJSON_AddItemToArray(prov, e);
    }
    cJSON *pl = cJSON_AddObjectToObject(rep, "pipeline");
    cJSON_AddNumberToObject(pl, "seconds", r->pr->seconds);
    cJSON_AddNumberToObject(pl, "calib_seconds", r->pr->calib_seconds);
    cJSON *nt = cJSON_AddArrayToObject(pl, "notes");
    for (int i = 0; i < r->pr->n_notes; i++) cJSON_AddItemToArray(nt, cJSON_CreateString(r->pr->notes[i]));
    return rep;
}

void compress_summary(const char *json_text, bool json, const compress_run *r)
{
    const measure *base = r->base, *comp = r->comp;
    if (json) { puts(json_text); return; }
    printf("%s %s: %s %.6g -> %.6g, %.2fx smaller (constants), %.2fx faster (p50 %.4g -> %.4g ms)\n",
           r->written ? (r->passed ? "wrote" : "gate failed, wrote the best found:") : "gate failed, not written:", r->out,
           base->ev.metric, base->ev.value, comp->ev.value, comp->const_bytes > 0 ? base->const_bytes / comp->const_bytes : 0,
           comp->bench.p50_ms > 0 ? base->bench.p50_ms / comp->bench.p50_ms : 0, base->bench.p50_ms, comp->bench.p50_ms);
}

bool compress_parse_duration(const char *text, double *s)
{
    double total = 0;
    const char *p = text;
    if (!*p) return false;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0) return false;
        double unit = 1;
        if (*end == 'h') { unit = 3600; end++; }
        else if (*end == 'm') { unit = 60; end++; }
        else if (*end == 's') end++;
        else if (*end) return false;
        total += v * unit;
        p = end;
    }
    *s = total;
    return total > 0;
}

#define MAX_LIST 16

int cmd_compress(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *rpath = NULL, *data = NULL, *calib = NULL;
    const char *b_drop = NULL, *b_speed = NULL, *b_size = NULL, *plugins[MAX_LIST];
    const char *budget = NULL, *objective = NULL, *method = NULL;
    int np = 0, threads = 0;
    bool force = false, json = false, autos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (cli_is_help(a)) { usage(stdout); return 0; }
        else if (!strcmp(a, "--recipe") && has) rpath = argv[++i];
        else if (!strcmp(a, "--eval") && has) data = argv[++i];
        else if (!strcmp(a, "--calib") && has) calib = argv[++i];
        else if (!strcmp(a, "--max-drop") && has) b_drop = argv[++i];
        else if (!strcmp(a, "--min-speedup") && has) b_speed = argv[++i];
        else if (!strcmp(a, "--max-size") && has) b_size = argv[++i];
        else if (!strcmp(a, "--plugin") && has && np < MAX_LIST) plugins[np++] = argv[++i];
        else if (!strcmp(a, "--auto")) autos = true;
        else if (!strcmp(a, "--budget") && has) budget = argv[++i];
        else if (!strcmp(a, "--objective") && has) objective = argv[++i];
        else if (!strcmp(a, "--method") && has) method = argv[++i];
        else if (!strcmp(a, "--threads") && has) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || v < 0 || v > 4096) return cli_usage("compress", "--threads wants an integer in [0, 4096], got '%s'", argv[i]);
            threads = (int)v;
        } else if (!strcmp(a, "-o") && has) out = argv[++i];
        else if (!strcmp(a, "--force")) force = true;
        else if (!strcmp(a, "--json")) json = true;
        else if (a[0] == '-') return cli_usage("compress", "unknown option or missing value '%s'", a);
        else if (!path) path = a;
        else return cli_usage("compress", "unexpected argument '%s'", a);
    }
    if (!path) return cli_usage("compress", "missing MODEL");
    if (autos && rpath) return cli_usage("compress", "--auto searches for the recipe itself: give --auto or --recipe, not both");
    if (!autos && !rpath) return cli_usage("compress", "missing --recipe R (or --auto)");
    if (!autos && (budget || objective || method)) return cli_usage("compress", "--budget, --objective and --method go with --auto");
    if (autos && !b_drop) return cli_usage("compress", "--auto needs --max-drop X (the accuracy goal)");
    if (!data) return cli_usage("compress", "missing --eval DATA");
    if (!out) return cli_usage("compress", "missing -o OUT");
    const char *ext = sk_path_ext(out);
    if (strcmp(ext, ".skm") && strcmp(ext, ".onnx")) return cli_usage("compress", "OUT must end in .skm or .onnx, not '%s'", out);
    sk_budgets flags = {0};
    sk_status st = SK_OK;
    if (b_drop && (st = sk_budget_set(&flags, "max_drop", b_drop))) return cli_usage("compress", "--max-drop: %s", sk_errmsg());
    if (b_speed && (st = sk_budget_set(&flags, "min_speedup", b_speed))) return cli_usage("compress", "--min-speedup: %s", sk_errmsg());
    if (b_size && (st = sk_budget_set(&flags, "max_size", b_size))) return cli_usage("compress", "--max-size: %s", sk_errmsg());
    compress_auto_opts ao = {.model = path, .data = data, .calib = calib, .out = out, .goal = flags, .budget_s = 600,
                             .method = method ? method : "rtn", .threads = threads, .force = force, .json = json};
    if (budget && !compress_parse_duration(budget, &ao.budget_s))
        return cli_usage("compress", "--budget wants a duration like 10m, 90s, 1h30m, got '%s'", budget);
    if (objective && strcmp(objective, "size") && strcmp(objective, "latency"))
        return cli_usage("compress", "--objective takes size or latency, not '%s'", objective);
    ao.latency = objective && !strcmp(objective, "latency");
    if (strcmp(ao.method, "rtn") && strcmp(ao.method, "gptq") && strcmp(ao.method, "awq"))
        return cli_usage("compress", "--method takes rtn, gptq or awq, not '%s'", ao.method);
    if (autos && strcmp(ao.method, "rtn") && !calib) return cli_usage("compress", "--method %s needs --calib DATA", ao.method);
    if (!force && sk_file_exists(out)) {
        fprintf(stderr, "shrink: %s exists (use --force to replace it)\n", out);
        return 1;
    }
    char *odir = sk_path_dir(out);
    bool odir_ok = odir && sk_is_dir(odir);
    sk_free(odir);
    if (!odir_ok) { fprintf(stderr, "shrink: %s: the folder does not exist\n", out); return 1; }
    if (!sk_file_exists(data)) { fprintf(stderr, "shrink: %s: no such file (--eval)\n", data); return 1; }
    if (calib && !sk_file_exists(calib)) { fprintf(stderr, "shrink: %s: no such file (--calib)\n", calib); return 1; }
    for (int i = 0; i < np && !st; i++) st = sk_pass_load_plugin(plugins[i]);
    if (st) return cli_fail(st);
    if (autos) return compress_auto(&ao);

    sk_recipe rc;
    if ((st = sk_recipe_load(rpath, &rc))) return cli_fail(st);
    sk_budgets *b = &rc.budgets;   /* flags override the recipe */
    if (b_drop) b->max_drop = flags.max_drop;
    if (b_speed) b->min_speedup = flags.min_speedup;
    if (b_size) { b->max_size_bytes = flags.max_size_bytes; b->max_size_ratio = flags.max_size_ratio; }

    char started[32], finished[32];
    compress_timestamp(started, sizeof started);
    fprintf(stderr, "compress: recipe %s (%d pass%s), loading %s\n", rc.name, rc.n_steps, rc.n_steps == 1 ? "" : "es", path);
    sk_model *m = NULL;
    measure base = {0}, comp = {0};
    sk_passmgr_result pr = {0};
    int code = 0;
    if ((st = cli_load_model(path, &m))) goto done;

    /* the measuring shape: seq from the recipe, else min(128, max positions),
     * and for classifiers no longer than the tokenizer truncates */
    sk_bench_opts bo;
    compress_bench_opts(m, rc.seq, threads, &bo);
    sk_eval_opts eo = {.threads = threads, .limit = rc.limit, .n_ctx = rc.n_ctx};
    if ((st = compress_measure(m, data, &eo, &bo, "baseline", &base))) goto done;
    base.file_bytes = (double)cli_path_bytes(path);

    fprintf(stderr, "compress: running %d pass%s\n", rc.n_steps, rc.n_steps == 1 ? "" : "es");
    int prov0 = m->n_prov;
    sk_passmgr_opts po = {.calib_path = calib, .calib_n = rc.calib_n, .calib_ctx = rc.calib_ctx, .threads = threads, .progress = true};
    if ((st = sk_passmgr_run(m, rc.steps, rc.n_steps, &po, &pr))) goto done;
    if ((st = compress_measure(m, data, &eo, &bo, "compressed", &comp))) goto done;

    cJSON *checks = cJSON_CreateArray();
    bool passed = compress_gate(b, &base, &comp, checks, true);
    if (passed) {
        fprintf(stderr, "compress: all budgets hold, writing %s\n", out);
        if ((st = cli_write_model(m, out, &(cli_write_opts){.force = force}))) { cJSON_Delete(checks); goto done; }
        comp.file_bytes = (double)cli_path_bytes(out);
    } else {
        code = 3;
    }
    compress_timestamp(finished, sizeof finished);
    compress_run run = {.name = rc.name, .model = path, .out = out, .recipe_file = rpath, .recipe_json = rc.json, .data = data,
                        .calib = calib, .started = started, .finished = finished, .written = passed, .passed = passed,
                        .threads = threads, .limit = rc.limit, .bo = &bo, .base = &base, .comp = &comp, .checks = checks,
                        .m = m, .prov0 = prov0, .pr = &pr};
    cJSON *rep = compress_report(&run);
    char *js = NULL;
    st = compress_write_reports(rep, out, &js);
    cJSON_Delete(rep);
    if (!st) compress_summary(js, json, &run);
    free(js);
done:
    sk_passmgr_result_free(&pr);
    sk_model_free(m);
    sk_recipe_free(&rc);
    if (st) return cli_fail(st);
    return code;
}
