/* passmgr.c — the pass manager: parameter schemas, the context a pass gets,
 * and running a pipeline.
 *
 * A pipeline is checked whole before anything runs: each step names a
 * registered pass and its parameters are a JSON object whose keys, types,
 * choices and ranges the pass's schema accepts.  Then the passes run in the
 * order written; after each one the graph is verified, provenance gets the
 * pass's name and its resolved parameters (defaults filled in), and the IR
 * may be dumped.  The manager owns the calibration data (loaded the first
 * time a pass asks for it), the progress bar and, when a step's pass wants
 * it (sk_pass.wants_input), a copy of the input model taken before the first
 * pass; passes own nothing of it.
 */
#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "eval/calib.h"
#include "pipeline/pipeline.h"

const char *sk_param_type_name(sk_param_type t)
{
    switch (t) {
    case SK_PARAM_INT: return "int";
    case SK_PARAM_FLOAT: return "float";
    case SK_PARAM_STRING: return "string";
    case SK_PARAM_BOOL: return "bool";
    case SK_PARAM_STRINGS: return "strings";
    case SK_PARAM_OBJECT: return "object";
    }
    return "?";
}

static const char *type_phrase(sk_param_type t)
{
    switch (t) {
    case SK_PARAM_INT: return "an integer";
    case SK_PARAM_FLOAT: return "a number";
    case SK_PARAM_STRING: return "a string";
    case SK_PARAM_BOOL: return "true or false";
    case SK_PARAM_STRINGS: return "a string or an array of strings";
    case SK_PARAM_OBJECT: return "a JSON object";
    }
    return "?";
}

/* The JSON of v, shortened for a message. */
static void show(const cJSON *v, char *buf, size_t cap)
{
    char *s = cJSON_PrintUnformatted(v);
    snprintf(buf, cap, "%s", s ? s : "?");
    if (s && strlen(s) >= cap && cap > 4) strcpy(buf + cap - 4, "...");
    free(s);
}

static bool in_choices(const struct sk_param *a, const cJSON *v)
{
    if (!a->choices) return true;
    const char *p = a->choices;
    while (*p) {
        size_t n = strcspn(p, "|");
        char tok[64];
        snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), p);
        if (cJSON_IsString(v) && !strcmp(tok, v->valuestring)) return true;
        if (cJSON_IsNumber(v) && strtod(tok, NULL) == v->valuedouble) return true;
        p += n;
        if (*p) p++;
    }
    return false;
}

/* Check one value against its schema entry; errors name the pass and the key. */
static sk_status check_value(const struct sk_pass *p, const struct sk_param *a, const cJSON *v)
{
    char got[96];
    show(v, got, sizeof got);
    bool ok;
    switch (a->type) {
    case SK_PARAM_INT:
        ok = cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9.0e15;
        break;
    case SK_PARAM_FLOAT: ok = cJSON_IsNumber(v) && isfinite(v->valuedouble); break;
    case SK_PARAM_STRING: ok = cJSON_IsString(v); break;
    case SK_PARAM_BOOL: ok = cJSON_IsBool(v); break;
    case SK_PARAM_STRINGS:
        ok = cJSON_IsString(v) || cJSON_IsArray(v);
        for (const cJSON *e = cJSON_IsArray(v) ? v->child : NULL; e && ok; e = e->next) ok = cJSON_IsString(e);
        break;
    case SK_PARAM_OBJECT: ok = cJSON_IsObject(v); break;
    default: ok = false;
    }
    if (!ok) return sk_err(SK_ERR_INVALID, "%s: parameter '%s' must be %s, got %s", p->name, a->name, type_phrase(a->type), got);
    if ((a->type == SK_PARAM_INT || a->type == SK_PARAM_FLOAT || a->type == SK_PARAM_STRING) && !in_choices(a, v))
        return sk_err(SK_ERR_INVALID, "%s: parameter '%s' must be one of %s, got %s", p->name, a->name, a->choices, got);
    if ((a->type == SK_PARAM_INT || a->type == SK_PARAM_FLOAT) && a->min < a->max &&
        (v->valuedouble < a->min || v->valuedouble > a->max))
        return sk_err(SK_ERR_INVALID, "%s: parameter '%s' must be in [%g, %g], got %s", p->name, a->name, a->min, a->max, got);
    return SK_OK;
}

/* The default of a as a cJSON value (NULL when it does not parse as its type). */
static cJSON *default_value(const struct sk_param *a)
{
    const char *d = a->dflt;
    char *end;
    switch (a->type) {
    case SK_PARAM_INT: {
        long long v = strtoll(d, &end, 10);
        return *d && !*end ? cJSON_CreateNumber((double)v) : NULL;
    }
    case SK_PARAM_FLOAT: {
        double v = strtod(d, &end);
        return *d && !*end ? cJSON_CreateNumber(v) : NULL;
    }
    case SK_PARAM_STRING: return cJSON_CreateString(d);
    case SK_PARAM_BOOL: return !strcmp(d, "true") ? cJSON_CreateTrue() : !strcmp(d, "false") ? cJSON_CreateFalse() : NULL;
    case SK_PARAM_STRINGS: {
        cJSON *arr = cJSON_CreateArray();
        for (const char *s = d; arr && *s;) {
            size_t n = strcspn(s, ",");
            char *item = sk_malloc(n + 1);
            if (!item) { cJSON_Delete(arr); return NULL; }
            memcpy(item, s, n);
            item[n] = 0;
            cJSON_AddItemToArray(arr, cJSON_CreateString(item));
            sk_free(item);
            s += n;
            if (*s) s++;
        }
        return arr;
    }
    case SK_PARAM_OBJECT: {
        cJSON *o = cJSON_Parse(d);
        if (o && !cJSON_IsObject(o)) { cJSON_Delete(o); o = NULL; }
        return o;
    }
    }
    return NULL;
}

/* Resolve params against p's schema into a new object (every schema key, in
 * schema order); *given gets the user's object (both the caller's). */
static sk_status resolve(const struct sk_pass *p, const char *params, cJSON **out, cJSON **given)
{
    *out = NULL;
    if (given) *given = NULL;
    cJSON *in = params && params[strspn(params, " \t\r\n")] ? cJSON_Parse(params) : cJSON_CreateObject();
    if (!in) {
        const char *at = cJSON_GetErrorPtr();
        return sk_err(SK_ERR_INVALID, "%s: parameters are not valid JSON (near '%.20s')", p->name, at ? at : "");
    }
    if (!cJSON_IsObject(in)) {
        char got[96];
        show(in, got, sizeof got);
        cJSON_Delete(in);
        return sk_err(SK_ERR_INVALID, "%s: parameters must be a JSON object, got %s", p->name, got);
    }
    sk_status st = SK_OK;
    for (const cJSON *kv = in->child; kv && !st; kv = kv->next) {
        const struct sk_param *a = p->params;
        while (a && a->name && strcmp(a->name, kv->string)) a++;
        if (!a || !a->name) {
            char names[512] = "";
            size_t k = 0;
            for (const struct sk_param *b = p->params; b && b->name && k < sizeof names; b++)
                k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", b == p->params ? "" : ", ", b->name);
            st = sk_err(SK_ERR_INVALID, "%s: unknown parameter '%s' (parameters: %s)", p->name, kv->string,
                        names[0] ? names : "none");
            break;
        }
        for (const cJSON *prev = in->child; prev != kv && !st; prev = prev->next)
            if (!strcmp(prev->string, kv->string)) st = sk_err(SK_ERR_INVALID, "%s: parameter '%s' given twice", p->name, kv->string);
        if (!st) st = check_value(p, a, kv);
    }
    cJSON *res = st ? NULL : cJSON_CreateObject();
    if (!st && !res) st = SK_ERR_NOMEM;
    for (const struct sk_param *a = p->params; !st && a && a->name; a++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, a->name);
        cJSON *r;
        if (v) {
            r = cJSON_Duplicate(v, true);
            if (r && a->type == SK_PARAM_STRINGS && cJSON_IsString(r)) {   /* one string = a list of one */
                cJSON *arr = cJSON_CreateArray();
                if (arr) cJSON_AddItemToArray(arr, r);
                else cJSON_Delete(r);
                r = arr;
            }
        } else if (!a->dflt) {
            st = sk_err(SK_ERR_INVALID, "%s: parameter '%s' is required (%s)", p->name, a->name, type_phrase(a->type));
            break;
        } else if (!(r = default_value(a))) {
            st = sk_err(SK_ERR_INVALID, "%s: parameter '%s': default '%s' is not %s", p->name, a->name, a->dflt,
                        type_phrase(a->type));
            break;
        } else if ((st = check_value(p, a, r))) {
            cJSON_Delete(r);
            break;
        }
        if (!r) { st = SK_ERR_NOMEM; break; }
        cJSON_AddItemToObject(res, a->name, r);
    }
    if (st) {
        cJSON_Delete(res);
        cJSON_Delete(in);
        return st;
    }
    *out = res;
    if (given) *given = in;
    else cJSON_Delete(in);
    return SK_OK;
}

sk_status sk_pass_check_params(const struct sk_pass *p, const char *params, char **resolved)
{
    cJSON *r;
    sk_status st = resolve(p, params, &r, NULL);
    if (st) return st;
    if (resolved && !(*resolved = cJSON_PrintUnformatted(r))) st = SK_ERR_NOMEM;
    cJSON_Delete(r);
    return st;
}

/* ---- the context ---- */
typedef struct cached {      /* a getter's converted value, freed after the pass */
    char *name;
    const char **strs;       /* get_strings */
    char *json;              /* get_object */
} cached;

typedef struct host {
    const sk_passmgr_opts *o;
    cJSON *params, *given;
    cached *cache; int n_cache, cap_cache;
    sk_calib *calib;         /* the pipeline's, loaded on first use */
    const sk_model *calib_for;
    bool calib_used;         /* by the current pass */
    double calib_seconds;
    sk_progress bar;
    long bar_total;
    bool bar_started;
    sk_passmgr_result *r;
    sk_model *input;         /* the model as given, while a later step wants it; else NULL */
    bool input_ok;           /* the current step asked for it (wants_input) */
} host;

static host *H(sk_pass_ctx *c) { return c->host; }

/* The schema entry and resolved value of name, asked as type t. */
static sk_status lookup(sk_pass_ctx *c, const char *name, sk_param_type t, const cJSON **v)
{
    const struct sk_param *a = c->pass->params;
    while (a && a->name && strcmp(a->name, name)) a++;
    if (!a || !a->name)
        return sk_err(SK_ERR_INVALID, "pass '%s' asked for parameter '%s', which its schema does not have", c->pass->name, name);
    if (a->type != t)
        return sk_err(SK_ERR_INVALID, "pass '%s' asked for parameter '%s' as %s; its schema says %s", c->pass->name, name,
                      sk_param_type_name(t), sk_param_type_name(a->type));
    *v = cJSON_GetObjectItemCaseSensitive(H(c)->params, name);
    SK_ASSERT(*v);
    return SK_OK;
}

static sk_status c_get_int(sk_pass_ctx *c, const char *name, int64_t *out)
{
    const cJSON *v;
    sk_status st = lookup(c, name, SK_PARAM_INT, &v);
    if (!st) *out = (int64_t)v->valuedouble;
    return st;
}

static sk_status c_get_float(sk_pass_ctx *c, const char *name, double *out)
{
    const cJSON *v;
    sk_status st = lookup(c, name, SK_PARAM_FLOAT, &v);
    if (!st) *out = v->valuedouble;
    return st;
}

static sk_status c_get_bool(sk_pass_ctx *c, const char *name, bool *out)
{
    const cJSON *v;
    sk_status st = lookup(c, name, SK_PARAM_BOOL, &v);
    if (!st) *out = cJSON_IsTrue(v);
    return st;
}

static sk_status c_get_string(sk_pass_ctx *c, const char *name, const char **out)
{
    const cJSON *v;
    sk_status st = lookup(c, name, SK_PARAM_STRING, &v);
    if (!st) *out = v->valuestring;
    return st;
}

static cached *cache_slot(host *h, const char *name)
{
    for (int i = 0; i < h->n_cache; i++)
        if (!strcmp(h->cache[i].name, name)) return &h->cache[i];
    if (sk_grow((void **)&h->cache, &h->cap_cache, h->n_cache + 1, sizeof *h->cache)) return NULL;
    cached *k = &h->cache[h->n_cache];
    memset(k, 0, sizeof *k);
    if (!(k->name = sk_strdup(name))) return NULL;
    h->n_cache++;
    return k;
}

static sk_status c_get_strings(sk_pass_ctx *c, const char *name, const char *const **out, int *n)
{
    const cJSON *v;
    sk_status st = lookup(c, name, SK_PARAM_STRINGS, &v);
    if (st) return st;
    cached *k = cache_slot(H(c), name);
    if (!k) return SK_ERR_NOMEM;
    int cnt = cJSON_GetArraySize(v);
    if (!k->strs) {
        if (!(k->strs = sk_calloc((size_t)cnt + 1, sizeof *k->strs))) return SK_ERR_NOMEM;
        int i = 0;
        for (const cJSON *e = v->child; e; e = e->next) k->strs[i++] = e->valuestring;
    }
    *out = k->strs;
    *n = cnt;
    return SK_OK;
}

static sk_status c_get_object(sk_pass_ctx *c, const char *name, const char **out)
{
    const cJSON *v;
    sk_status st = lookup(c, name, SK_PARAM_OBJECT, &v);
    if (st) return st;
    cached *k = cache_slot(H(c), name);
    if (!k) return SK_ERR_NOMEM;
    if (!k->json && !(k->json = cJSON_PrintUnformatted(v))) return SK_ERR_NOMEM;
    *out = k->json;
    return SK_OK;
}

static bool c_is_set(sk_pass_ctx *c, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(H(c)->given, name) != NULL;
}

static sk_status c_calib(sk_pass_ctx *c, const sk_model *m, const sk_calib **out)
{
    host *h = H(c);
    *out = NULL;
    if (!h->o->calib_path) return sk_err(SK_ERR_USAGE, "calibration data needed: give --calib FILE");
    if (!h->calib || h->calib_for != m) {
        double t0 = sk_now();
        sk_calib_free(h->calib);
        h->calib = NULL;
        sk_status st = sk_calib_load(m, h->o->calib_path, h->o->calib_n, h->o->calib_ctx, &h->calib);
        if (st) return st;
        h->calib_for = m;
        h->calib_seconds += sk_now() - t0;
    }
    h->calib_used = true;
    *out = h->calib;
    return SK_OK;
}

static sk_status c_session_new(sk_pass_ctx *c, const sk_model *m, sk_session **out)
{
    sk_session_opts so = {.threads = c->threads};
    return sk_session_new(m, &so, out);
}

static sk_status c_calib_run(sk_pass_ctx *c, const sk_model *m, int stop, sk_session_observer fn, void *fctx)
{
    const sk_calib *k;
    sk_status st = c_calib(c, m, &k);
    if (st) return st;
    return sk_calib_run(m, k, c->threads, stop, fn, fctx);
}

static sk_status c_input_model(sk_pass_ctx *c, const sk_model **out)
{
    host *h = H(c);
    *out = NULL;
    if (!h->input || !h->input_ok)
        return sk_err(SK_ERR_INVALID, "pass '%s' asked for the input model, which its wants_input did not ask to keep",
                      c->pass->name);
    *out = h->input;
    return SK_OK;
}

static void c_progress(sk_pass_ctx *c, long done, long total, const char *what)
{
    host *h = H(c);
    if (!h->o->progress) return;
    if (!h->bar_started || total != h->bar_total) {
        sk_progress_start(&h->bar, c->pass->name, total);
        h->bar_started = true;
        h->bar_total = total;
    }
    sk_progress_update(&h->bar, done, what);
}

static void bar_clear(host *h)
{
    if (h->bar_started) sk_progress_end(&h->bar);
}

static void c_note(sk_pass_ctx *c, const char *fmt, ...)
{
    host *h = H(c);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!h->o->quiet) {
        bar_clear(h);
        fprintf(stderr, "%s: %s\n", c->pass->name, msg);
    }
    if (!h->r) return;
    char **n = sk_realloc(h->r->notes, (size_t)(h->r->n_notes + 1) * sizeof *n);
    if (!n) return;   /* a lost note is not worth failing the pass */
    h->r->notes = n;
    size_t len = strlen(c->pass->name) + strlen(msg) + 3;
    if ((n[h->r->n_notes] = sk_malloc(len))) snprintf(n[h->r->n_notes++], len, "%s: %s", c->pass->name, msg);
}

static sk_status c_error(sk_pass_ctx *c, sk_status st, const char *fmt, ...)
{
    (void)c;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sk_err(st, "%s", msg);
}

static void host_clear_pass(host *h)
{
    for (int i = 0; i < h->n_cache; i++) {
        sk_free(h->cache[i].name);
        sk_free(h->cache[i].strs);
        free(h->cache[i].json);
    }
    sk_free(h->cache);
    h->cache = NULL;
    h->n_cache = h->cap_cache = 0;
    cJSON_Delete(h->params);
    cJSON_Delete(h->given);
    h->params = h->given = NULL;
    bar_clear(h);
    h->bar_started = false;
    h->calib_used = false;
}

/* ---- running ---- */
static sk_status check_step(const sk_pipe_step *s, int i, int n, const struct sk_pass **p)
{
    *p = s->pass ? sk_pass_find(s->pass) : NULL;
    if (!*p) {
        char names[512];
        sk_pass_names(names, sizeof names);
        sk_status st = sk_err(SK_ERR_INVALID, "unknown pass '%s' (available: %s)", s->pass ? s->pass : "(none)", names);
        return n > 1 ? sk_err_prefix(st, "step %d", i + 1) : st;
    }
    sk_status st = sk_pass_check_params(*p, s->params, NULL);
    return st && n > 1 ? sk_err_prefix(st, "step %d", i + 1) : st;
}

sk_status sk_passmgr_check(const sk_pipe_step *steps, int n)
{
    for (int i = 0; i < n; i++) {
        const struct sk_pass *p;
        sk_status st = check_step(&steps[i], i, n, &p);
        if (st) return st;
    }
    return SK_OK;
}

static sk_pass_ctx pass_ctx(const struct sk_pass *p, host *h)
{
    return (sk_pass_ctx){
        .api_version = SK_PASS_API_VERSION, .pass = p, .host = h,
        .threads = h->o->threads > 0 ? h->o->threads : sk_default_threads(),
        .get_int = c_get_int, .get_float = c_get_float, .get_bool = c_get_bool, .get_string = c_get_string,
        .get_strings = c_get_strings, .get_object = c_get_object, .is_set = c_is_set,
        .calib = c_calib, .session_new = c_session_new, .calib_run = c_calib_run,
        .progress = c_progress, .note = c_note, .error = c_error, .input_model = c_input_model,
    };
}

/* The provenance JSON: resolved parameters, plus where calibration came from. */
static char *prov_json(host *h)
{
    if (h->calib_used && h->calib) {
        cJSON *k = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "file", h->calib->path);
        cJSON_AddStringToObject(k, "kind", h->calib->kind);
        cJSON_AddNumberToObject(k, "samples", h->calib->n);
        if (h->calib->tokens) {
            cJSON_AddNumberToObject(k, "tokens", (double)h->calib->tokens);
            cJSON_AddNumberToObject(k, "n_ctx", h->calib->n_ctx);
        }
        cJSON_AddItemToObject(h->params, "calib", k);
    }
    return cJSON_PrintUnformatted(h->params);
}

sk_status sk_passmgr_run(sk_model *m, const sk_pipe_step *steps, int n, const sk_passmgr_opts *o,
                         sk_passmgr_result *r)
{
    static const sk_passmgr_opts none;
    if (!o) o = &none;
    if (r) memset(r, 0, sizeof *r);
    sk_status st = sk_passmgr_check(steps, n);
    if (st) return st;
    double t0 = sk_now();
    host h = {.o = o, .r = r};
    /* which steps will ask for the input model: keep a copy only for them
     * (read-only views of mapped files are shared, so it costs the owned data) */
    bool *wants = sk_calloc((size_t)n + 1, sizeof *wants);
    if (!wants) st = SK_ERR_NOMEM;
    int last_input = -1;
    for (int i = 0; i < n && !st; i++) {
        const struct sk_pass *p = sk_pass_find(steps[i].pass);
        if (p->api_version < 2 || !p->wants_input) continue;   /* a version-1 struct ends before wants_input */
        if ((st = resolve(p, steps[i].params, &h.params, &h.given))) break;
        sk_pass_ctx c = pass_ctx(p, &h);
        if ((wants[i] = p->wants_input(&c))) last_input = i;
        host_clear_pass(&h);
    }
    if (!st && last_input >= 0 && (st = sk_model_clone(m, &h.input))) sk_err_prefix(st, "keeping the input model");
    for (int i = 0; i < n && !st; i++) {
        const struct sk_pass *p = sk_pass_find(steps[i].pass);
        if ((st = resolve(p, steps[i].params, &h.params, &h.given))) break;
        sk_pass_ctx c = pass_ctx(p, &h);
        h.input_ok = wants[i];
        sk_log("pass %d/%d: %s", i + 1, n, p->name);
        st = p->run(&c, m);
        bar_clear(&h);
        if (i == last_input) {
            sk_model_free(h.input);
            h.input = NULL;
        }
        if (st) {
            sk_err_prefix(st, "%s", p->name);
        } else if ((st = sk_graph_verify(&m->g))) {
            sk_err_prefix(st, "%s: the pass left an invalid graph", p->name);
        } else {
            char *js = prov_json(&h);
            st = js ? sk_model_add_prov(m, p->name, js) : SK_ERR_NOMEM;
            free(js);
        }
        if (!st && o->dump_after && (!strcmp(o->dump_after, "*") || !strcmp(o->dump_after, p->name))) {
            FILE *f = o->dump ? o->dump : stderr;
            fprintf(f, "# IR after pass %d (%s)\n", i + 1, p->name);
            st = sk_ir_print(m, f, false);
        }
        host_clear_pass(&h);
    }
    if (r) {
        r->seconds = sk_now() - t0;
        r->calib_seconds = h.calib_seconds;
    }
    sk_calib_free(h.calib);
    sk_model_free(h.input);
    sk_free(wants);
    return st;
}

void sk_passmgr_result_free(sk_passmgr_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_notes; i++) sk_free(r->notes[i]);
    sk_free(r->notes);
    r->notes = NULL;
    r->n_notes = 0;
}
