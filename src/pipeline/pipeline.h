/* pipeline.h — the pass registry (passes/registry.c) and the pass manager
 * (src/pipeline/passmgr.c).
 *
 * A pipeline is a list of (pass name, parameters as JSON) run in the order
 * written.  The pass manager checks every step's parameters against its
 * pass's schema before any pass runs, verifies the IR after each pass and
 * records provenance with the resolved parameters.  Passes themselves are
 * described in include/shrink-pass.h.
 */
#ifndef SK_PIPELINE_H
#define SK_PIPELINE_H

#include <stdio.h>
#include "shrink-pass.h"

/* ---- registry (passes/registry.c) ---- */
/* Passes known to this process: the built-ins, then those of loaded plugins,
 * in the order they were registered.  Not thread-safe against a concurrent
 * sk_pass_load_plugin. */
int sk_pass_count(void);
const struct sk_pass *sk_pass_at(int i);              /* NULL when out of range */
const struct sk_pass *sk_pass_find(const char *name);  /* NULL when unknown (no error set) */
/* "quantize, smoothquant, ..." into buf (for error messages). */
void sk_pass_names(char *buf, size_t cap);
/* Add p (checked: api_version, a name not yet taken, run set, a schema with
 * unique names whose defaults parse as their types).  p must outlive the
 * process's use of the registry. */
sk_status sk_pass_register(const struct sk_pass *p);
/* dlopen path and register the passes its sk_pass_plugin_init returns.  The
 * library stays loaded until the process exits.  Errors name the file. */
sk_status sk_pass_load_plugin(const char *path);

/* ---- parameter schemas (passmgr.c) ---- */
/* Check the JSON object text params (NULL or "" = {}) against p's schema:
 * unknown keys, types, choices, ranges, required parameters.  On success
 * *resolved (may be NULL) gets the compact JSON of every schema parameter in
 * schema order, defaults filled in (the caller frees it with free()). */
sk_status sk_pass_check_params(const struct sk_pass *p, const char *params, char **resolved);
/* "int", "float", "string", "bool", "strings", "object" */
const char *sk_param_type_name(sk_param_type t);

/* ---- pass manager (passmgr.c) ---- */
typedef struct sk_pipe_step {
    const char *pass;            /* a registered pass name */
    const char *params;          /* a JSON object as text, NULL = {} */
} sk_pipe_step;

typedef struct sk_passmgr_opts {
    const char *calib_path;      /* calibration file for passes that ask (NULL = none) */
    int calib_n;                 /* samples (0 = 128) */
    int calib_ctx;               /* tokens per window / max tokens per text (0 = min(128, max positions)) */
    int threads;                 /* 0 = sk_default_threads() */
    bool progress;               /* progress bar on stderr when it is a terminal */
    bool quiet;                  /* notes are kept, not printed */
    const char *dump_after;      /* print the IR after this pass ("*" = every pass), NULL = never */
    FILE *dump;                  /* where (NULL = stderr) */
} sk_passmgr_opts;

typedef struct sk_passmgr_result {
    char **notes; int n_notes;   /* every note of every pass, "pass: text" */
    double seconds;
    double calib_seconds;        /* part of it spent loading calibration data */
} sk_passmgr_result;

/* Check every step (known pass, parameters) without running anything;
 * errors name the step: "step 2 (quantize): unknown parameter 'bitz' ...". */
sk_status sk_passmgr_check(const sk_pipe_step *steps, int n);
/* Check, then run the steps over m in order; sk_graph_verify after each;
 * provenance (sk_model_add_prov) with each pass's resolved parameters.
 * r may be NULL; else it is filled (sk_passmgr_result_free) even on failure.
 * On failure m may be half-rewritten. */
sk_status sk_passmgr_run(sk_model *m, const sk_pipe_step *steps, int n, const sk_passmgr_opts *o,
                         sk_passmgr_result *r);
void sk_passmgr_result_free(sk_passmgr_result *r);

/* ---- recipes (recipe.c) ----
 * A recipe is a JSON file naming a pipeline, the budgets a compressed model
 * must meet and how it is measured:
 *   {"name": "gpt2-int8",
 *    "passes": [{"pass": "quantize", "bits": 8}, ...],
 *    "budgets": {"max_drop": "0.5pt" | "1%", "min_speedup": 1.2, "max_size": "5MB" | 0.3},
 *    "eval": {"seq": 128, "n_ctx": 128, "limit": 0},
 *    "calib": {"n": 128, "n_ctx": 128}}
 * Everything is checked when it is loaded, before any work: unknown keys,
 * types, pass names and every step's parameters (sk_pass_check_params). */
typedef struct sk_budget_drop {
    bool set;
    bool relative;        /* "1%": relative to the baseline; else "0.5pt": absolute points */
    bool plain;           /* a bare number: points for accuracy, percent for perplexity */
    double v;             /* >= 0 */
} sk_budget_drop;

typedef struct sk_budgets {
    sk_budget_drop max_drop;   /* accuracy: drop; perplexity: increase */
    double min_speedup;        /* 0 = none; baseline p50 / compressed p50 must be >= */
    double max_size_bytes;     /* 0 = none; bytes of constants of the compressed model */
    double max_size_ratio;     /* 0 = none; compressed / baseline bytes of constants, in (0, 1] */
} sk_budgets;

typedef struct sk_recipe {
    char *name;                /* "name", or the file's base name without .json */
    char *path;                /* NULL when parsed from text */
    sk_pipe_step *steps;       /* pass and params strings owned by the recipe */
    int n_steps;
    sk_budgets budgets;
    int seq, n_ctx;            /* bench sequence length, perplexity window (0 = default) */
    long limit;                /* eval examples / windows (0 = all) */
    int calib_n, calib_ctx;    /* 0 = the pass manager's defaults */
    char *json;                /* the recipe as given, compact JSON */
} sk_recipe;

/* Parse and check a recipe; where names it in messages ("r.json: passes[1]: ...").
 * On failure *r is empty; on success free it with sk_recipe_free. */
sk_status sk_recipe_parse(const char *text, const char *where, sk_recipe *r);
sk_status sk_recipe_load(const char *path, sk_recipe *r);
void sk_recipe_free(sk_recipe *r);
/* One budget from text as the recipe or a flag writes it; key is the
 * budget's name for messages: "max_drop" takes "0.5pt", "1%" or a bare
 * number (points for accuracy, percent for perplexity); "max_size" takes "5MB" (B, kB, MB, GB, KiB, MiB, GiB) or a ratio
 * in (0, 1]; "min_speedup" takes a number > 0. */
sk_status sk_budget_set(sk_budgets *b, const char *key, const char *text);

/* ---- trade-off reports (report.c) ----
 * The report of a compress run is a JSON object (docs/cli.md lists its
 * fields).  One table of many reports: a row per configuration (the
 * baselines, once per model and data, and each compressed model) with
 * method, bits, sparsity, params, bytes, ratio, metric, delta, latency and
 * speedup; rows on the Pareto front of size vs metric or latency vs metric
 * (among rows of the same metric and data) are marked. */
typedef enum sk_report_fmt { SK_REPORT_MD, SK_REPORT_CSV, SK_REPORT_JSON, SK_REPORT_HTML } sk_report_fmt;
struct cJSON;
/* reports[0..n): parsed report objects (not modified).  Fields missing from a
 * report are SK_ERR_FORMAT naming it (its "output" or index).  HTML is one
 * self-contained page: the table and the plots of sk_report_svg inline. */
sk_status sk_report_table(struct cJSON *const *reports, int n, sk_report_fmt fmt, FILE *f);
/* The rows as the JSON format prints them, as an array (*out is the caller's). */
sk_status sk_report_json(struct cJSON *const *reports, int n, struct cJSON **out);
/* The plots (plot.c), one SVG document: for each metric and data, the metric
 * against size (bytes of constants) and against latency p50, a labelled point
 * per row (the baselines marked, failed gates hollow), the Pareto front of
 * each panel as a step line. */
sk_status sk_report_svg(struct cJSON *const *reports, int n, FILE *f);
/* The whole markdown report of one run: summary, the table (exactly as
 * sk_report_table prints it), gate, provenance, machine. */
sk_status sk_report_markdown(const struct cJSON *report, FILE *f);

#endif
