/* shrink-pass.h — the pass-plugin interface.
 *
 * A pass is a function over the IR (src/ir/ir.h) with a typed parameter
 * schema.  Built-in passes are listed in passes/registry.c; a shared library
 * adds more (`--plugin lib.so`) by defining
 *
 *     int sk_pass_plugin_init(int host_api_version, const struct sk_pass *const **passes);
 *
 * which stores a pointer to an array of its passes (static storage, alive
 * until the process ends) in *passes and returns how many there are, or -1
 * when it cannot work with this host.  The host refuses a pass whose
 * api_version is newer than its own SK_PASS_API_VERSION.
 *
 * What a pass may use is in its sk_pass_ctx, a versioned struct of function
 * pointers in the SQLite manner, so a plugin needs no symbol from the host
 * for parameters, errors, progress, calibration and sessions.  Plugins that
 * build graph nodes call libshrink directly (sk_graph_add_node ...); the
 * shrink program exports its symbols for them (linked with -rdynamic).
 * Plugins compile against the source tree:
 *     cc -shared -fPIC -I include -I src -o myplugin.so myplugin.c
 * Both structs only ever grow: later versions append fields at the end.
 * The host reads a field of struct sk_pass added in version N only from a
 * pass whose api_version is at least N; a pass reads a field of sk_pass_ctx
 * added in version N only when ctx->api_version is at least N.
 *   version 2: sk_pass.wants_input, sk_pass_ctx.input_model (the model the
 *              pipeline was given, before any pass: a distillation teacher).
 *
 * Ownership: the pass owns nothing the ctx hands it; strings and arrays the
 * getters return live until the pass returns.
 */
#ifndef SHRINK_PASS_H
#define SHRINK_PASS_H

#include <stdbool.h>
#include <stdint.h>
#include "shrink.h"
#include "runtime/runtime.h"   /* sk_model, sk_graph (ir.h), sk_session, sk_kctx */

#ifdef __cplusplus
extern "C" {
#endif

#define SK_PASS_API_VERSION 2

typedef enum sk_param_type {
    SK_PARAM_INT,       /* a JSON integer */
    SK_PARAM_FLOAT,     /* a JSON number */
    SK_PARAM_STRING,    /* a JSON string */
    SK_PARAM_BOOL,      /* true / false */
    SK_PARAM_STRINGS,   /* a list of strings: a JSON array of strings, or one string (a list of one) */
    SK_PARAM_OBJECT,    /* a JSON object; the schema checks only that it is one, the pass checks its contents */
} sk_param_type;

/* One parameter of a pass.  A pass's schema is an array ended by an entry
 * with name NULL. */
struct sk_param {
    const char *name;       /* "group" */
    sk_param_type type;
    /* The default as text: "128", "0.5", "true", "rtn" (strings without quotes),
     * "" (an empty list), "{}".  NULL = the parameter is required. */
    const char *dflt;
    const char *help;       /* one line */
    /* Allowed values separated by '|' ("32|64|128", "rtn|gptq|awq"), or NULL
     * for any.  For INT, FLOAT and STRING parameters. */
    const char *choices;
    /* Numeric range [min, max], checked when min < max (INT and FLOAT). */
    double min, max;
};

typedef struct sk_pass_ctx sk_pass_ctx;

struct sk_pass {
    int api_version;                 /* SK_PASS_API_VERSION the pass was built with */
    const char *name, *summary;      /* "quantize", "int8/int4 weight quantization" */
    const struct sk_param *params;   /* typed parameter schema (may be NULL: no parameters) */
    /* Rewrite m in place.  Parameters were validated against the schema
     * before any pass ran; the pass checks what depends on the model (a
     * pattern matching no layer ...) before it changes anything.  On failure
     * the model may be half-rewritten: the caller discards it. */
    sk_status (*run)(sk_pass_ctx *ctx, sk_model *m);
    /* (version 2) Whether this step will call ctx->input_model, asked once
     * per step with the step's parameters (the getters work; nothing else is
     * for use here) before the first pass runs: the pass manager keeps an
     * untouched copy of the input model only when some step says yes, and
     * frees it after the last such step.  NULL = never. */
    bool (*wants_input)(sk_pass_ctx *ctx);
};

/* ---- calibration data (src/eval/calib.c) ----
 * Samples from --calib FILE: token windows of a language model, tokenized
 * lines or {"text"} examples of a text classifier, or {"input": [...]}
 * arrays.  Samples of equal shape may run as one batch. */
typedef struct sk_calib_sample {
    int64_t n;              /* token ids or input values */
    const int32_t *ids;     /* [n] token ids (text models), else NULL */
    const float *x;         /* [n] input values (array models), else NULL */
    int rank;               /* x: the input shape of one sample, batch dim 1 */
    int64_t dims[SK_MAX_RANK];
} sk_calib_sample;

typedef struct sk_calib {
    const char *path;       /* the file */
    const char *kind;       /* "windows", "texts" or "inputs" */
    int n_ctx;              /* windows: tokens per window; texts: the truncation length */
    int n;                  /* samples */
    sk_calib_sample *s;
    int64_t tokens;         /* ids over all samples (0 for inputs) */
} sk_calib;

/* ---- what a pass gets ---- */
struct sk_pass_ctx {
    int api_version;                 /* the host's SK_PASS_API_VERSION */
    const struct sk_pass *pass;      /* the pass being run */
    void *host;                      /* the pass manager's state; not for passes */
    int threads;                     /* threads a pass may use (sessions get them too) */

    /* Parameters, validated against the schema, defaults filled in.  Asking
     * for a name the schema does not have, or as another type, is an
     * SK_ERR_INVALID naming both (a bug of the pass). */
    sk_status (*get_int)(sk_pass_ctx *c, const char *name, int64_t *v);
    sk_status (*get_float)(sk_pass_ctx *c, const char *name, double *v);
    sk_status (*get_bool)(sk_pass_ctx *c, const char *name, bool *v);
    sk_status (*get_string)(sk_pass_ctx *c, const char *name, const char **v);
    sk_status (*get_strings)(sk_pass_ctx *c, const char *name, const char *const **v, int *n);
    sk_status (*get_object)(sk_pass_ctx *c, const char *name, const char **json);   /* compact JSON text */
    bool (*is_set)(sk_pass_ctx *c, const char *name);   /* given by the user, not defaulted */

    /* Calibration samples for m (loaded and tokenized on first use, then
     * cached).  SK_ERR_USAGE when the pipeline has no calibration file. */
    sk_status (*calib)(sk_pass_ctx *c, const sk_model *m, const sk_calib **out);
    /* A session on m with the pipeline's threads (*out is the caller's). */
    sk_status (*session_new)(sk_pass_ctx *c, const sk_model *m, sk_session **out);
    /* Run every calibration sample through a fresh session on m, stopping
     * after node stop (-1 = the whole graph), calling fn after each executed
     * node (sk_session_set_observer).  The session is freed before return,
     * so the pass may change weights between calls. */
    sk_status (*calib_run)(sk_pass_ctx *c, const sk_model *m, int stop, sk_session_observer fn, void *fctx);

    /* Progress: done of total steps (a bar on stderr when it is a terminal). */
    void (*progress)(sk_pass_ctx *c, long done, long total, const char *what);
    /* A line for the user ("layer x: K % 128 != 0, int8 instead"): printed on
     * stderr and kept for the caller's summary. */
    void (*note)(sk_pass_ctx *c, const char *fmt, ...) SK_PRINTF(2, 3);
    /* Record an error message (as sk_err does) and return st. */
    sk_status (*error)(sk_pass_ctx *c, sk_status st, const char *fmt, ...) SK_PRINTF(3, 4);

    /* ---- version 2 ---- */
    /* The model the pipeline was given, as it was before the first pass
     * (read-only; alive until this pass returns).  SK_ERR_INVALID when the
     * pass's wants_input did not ask for it for this step. */
    sk_status (*input_model)(sk_pass_ctx *c, const sk_model **out);
};

typedef int (*sk_pass_plugin_init_fn)(int host_api_version, const struct sk_pass *const **passes);

#ifdef __cplusplus
}
#endif
#endif
