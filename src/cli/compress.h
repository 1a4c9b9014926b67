/* compress.h — what `shrink compress` (compress.c) and its accuracy-aware
 * search `--auto` (compress_auto.c) share: one way to measure a model, one
 * gate, one report.  Internal to src/cli. */
#ifndef SK_CLI_COMPRESS_H
#define SK_CLI_COMPRESS_H

#include <cJSON.h>
#include "eval/eval.h"
#include "pipeline/pipeline.h"

typedef struct measure {
    sk_eval_result ev;
    sk_bench_result bench;
    int64_t params;
    double const_bytes, file_bytes;   /* file_bytes < 0: none */
} measure;

/* Evaluate (eo) and benchmark (bo) m, with progress lines naming what. */
sk_status compress_measure(const sk_model *m, const char *data, const sk_eval_opts *eo, const sk_bench_opts *bo,
                           const char *what, measure *r);
/* The benchmark shape: seq (0 = min(128, max positions), for classifiers no
 * longer than the tokenizer truncates), batch 1, 3 warm-ups. */
void compress_bench_opts(const sk_model *m, int seq, int threads, sk_bench_opts *bo);
/* The loss of comp against base in max_drop's unit: accuracy drop or
 * perplexity increase (> 0 = worse), in points or percent; *unit "pt" or "%". */
double compress_loss(const sk_budget_drop *b, const char *metric, double base, double comp, const char **unit);
/* Every budget of b; each check goes into checks (may be NULL).  Failed
 * budgets are printed on stderr when loud.  comp->bench is read only for
 * min_speedup. */
bool compress_gate(const sk_budgets *b, const measure *base, const measure *comp, cJSON *checks, bool loud);

/* The report of a run (docs/cli.md): everything but what the caller adds. */
typedef struct compress_run {
    const char *name, *model, *out, *recipe_file, *recipe_json, *data, *calib;
    const char *started, *finished;
    bool written, passed;
    int threads;
    long limit;
    const sk_bench_opts *bo;
    const measure *base, *comp;
    cJSON *checks;                    /* taken over */
    const sk_model *m;                /* provenance from m->prov[prov0..] */
    int prov0;
    const sk_passmgr_result *pr;
} compress_run;
cJSON *compress_report(const compress_run *r);
/* OUT.report.json and OUT.report.md, atomically; *json_out (may be NULL) gets
 * the JSON text (free()). */
sk_status compress_write_reports(const cJSON *rep, const char *out, char **json_out);
/* The one-line summary on stdout, or the report JSON with json. */
void compress_summary(const char *json_text, bool json, const compress_run *r);
void compress_timestamp(char *buf, size_t cap);

/* compress_auto.c */
typedef struct compress_auto_opts {
    const char *model, *data, *calib, *out;
    sk_budgets goal;                  /* max_drop required; max_size, min_speedup optional */
    double budget_s;                  /* search time budget */
    bool latency;                     /* objective: latency (else size) */
    const char *method;               /* int4 method: rtn (default), gptq, awq */
    int threads;
    bool force, json;
} compress_auto_opts;
/* The search; returns the exit code (0 met, 3 none met: the best found is
 * still written, 1 error). */
int compress_auto(const compress_auto_opts *o);
/* "10m", "90s", "1h", "1h30m" or bare seconds into *s; false if malformed. */
bool compress_parse_duration(const char *text, double *s);

#endif
