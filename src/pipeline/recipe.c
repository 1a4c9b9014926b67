/* recipe.c — recipes: a pipeline, its budgets and how it is measured, as JSON.
 *
 * A recipe is checked whole when it is loaded, so that a typo fails in
 * milliseconds with a message naming the key, not after an hour of GPTQ:
 * unknown keys and wrong types are errors, every pass must be registered
 * and its parameters must pass its schema (sk_pass_check_params).  This file
 * only reads recipes; running them is the compress command's business.
 */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline/pipeline.h"
#include "util/util.h"

static const char *json_type(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsBool(v)) return "a bool";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "something else";
}

/* A number with an optional unit suffix: "0.5pt" -> 0.5, "pt". */
static bool num_unit(const char *s, double *v, const char **unit)
{
    char *end;
    *v = strtod(s, &end);
    if (end == s || !isfinite(*v)) return false;
    while (*end == ' ') end++;
    *unit = end;
    return true;
}

sk_status sk_budget_set(sk_budgets *b, const char *key, const char *text)
{
    double v;
    const char *u;
    if (!strcmp(key, "max_drop")) {
        if (!num_unit(text, &v, &u) || v < 0 || (*u && strcmp(u, "pt") && strcmp(u, "%")))
            return sk_err(SK_ERR_INVALID, "max_drop: expected points (\"0.5pt\" or a number) or a percentage (\"1%%\") >= 0, got '%s'", text);
        b->max_drop = (sk_budget_drop){.set = true, .relative = !strcmp(u, "%"), .plain = !*u, .v = v};
        return SK_OK;
    }
    if (!strcmp(key, "min_speedup")) {
        if (!num_unit(text, &v, &u) || v <= 0 || (*u && strcmp(u, "x")))
            return sk_err(SK_ERR_INVALID, "min_speedup: expected a number > 0 (1.2), got '%s'", text);
        b->min_speedup = v;
        return SK_OK;
    }
    if (!strcmp(key, "max_size")) {
        static const struct { const char *u; double f; } units[] = {
            {"B", 1}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
        };
        if (!num_unit(text, &v, &u) || v <= 0)
            return sk_err(SK_ERR_INVALID, "max_size: expected bytes (\"5MB\") or a ratio in (0, 1], got '%s'", text);
        if (!*u) {
            if (v > 1) return sk_err(SK_ERR_INVALID, "max_size: a plain number is a ratio in (0, 1], got %s; write bytes with a unit (\"5MB\")", text);
            b->max_size_ratio = v;
            b->max_size_bytes = 0;
            return SK_OK;
        }
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (!strcmp(u, units[i].u)) { b->max_size_bytes = v * units[i].f; b->max_size_ratio = 0; return SK_OK; }
        return sk_err(SK_ERR_INVALID, "max_size: unknown unit '%s' (B, kB, MB, GB, KiB, MiB, GiB)", u);
    }
    return sk_err(SK_ERR_INVALID, "unknown budget '%s' (budgets: max_drop, min_speedup, max_size)", key);
}

/* An integer field of an object in [lo, hi] into *out. */
static sk_status get_int(const cJSON *v, const char *where, const char *key, long lo, long hi, long *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return sk_err(SK_ERR_INVALID, "%s: '%s' must be an integer in [%ld, %ld], got %s", where, key, lo, hi,
                      cJSON_IsNumber(v) ? "another number" : json_type(v));
    *out = (long)v->valuedouble;
    return SK_OK;
}

static sk_status parse_budgets(const cJSON *o, const char *where, sk_budgets *b)
{
    if (!cJSON_IsObject(o)) return sk_err(SK_ERR_INVALID, "%s: 'budgets' must be an object, got %s", where, json_type(o));
    for (const cJSON *kv = o->child; kv; kv = kv->next) {
        char buf[64];
        const char *text = buf;
        if (cJSON_IsString(kv)) text = kv->valuestring;
        else if (cJSON_IsNumber(kv)) snprintf(buf, sizeof buf, "%.17g", kv->valuedouble);
        else if (!strcmp(kv->string, "max_drop") || !strcmp(kv->string, "min_speedup") || !strcmp(kv->string, "max_size"))
            return sk_err(SK_ERR_INVALID, "%s: budgets.%s must be a number or a string, got %s", where, kv->string, json_type(kv));
        else text = "";
        sk_status st = sk_budget_set(b, kv->string, text);
        if (st) return sk_err_prefix(st, "%s: budgets", where);
    }
    return SK_OK;
}

static sk_status parse_section(const cJSON *o, const char *where, const char *sect, sk_recipe *r)
{
    if (!cJSON_IsObject(o)) return sk_err(SK_ERR_INVALID, "%s: '%s' must be an object, got %s", where, sect, json_type(o));
    bool eval = !strcmp(sect, "eval");
    for (const cJSON *kv = o->child; kv; kv = kv->next) {
        char key[64];
        snprintf(key, sizeof key, "%s.%s", sect, kv->string);
        long v;
        sk_status st;
        if (eval && !strcmp(kv->string, "seq")) { if ((st = get_int(kv, where, key, 0, 1 << 20, &v))) return st; r->seq = (int)v; }
        else if (eval && !strcmp(kv->string, "n_ctx")) { if ((st = get_int(kv, where, key, 0, 1 << 20, &v))) return st; r->n_ctx = (int)v; }
        else if (eval && !strcmp(kv->string, "limit")) { if ((st = get_int(kv, where, key, 0, 1L << 40, &v))) return st; r->limit = v; }
        else if (!eval && !strcmp(kv->string, "n")) { if ((st = get_int(kv, where, key, 0, 1 << 20, &v))) return st; r->calib_n = (int)v; }
        else if (!eval && !strcmp(kv->string, "n_ctx")) { if ((st = get_int(kv, where, key, 0, 1 << 20, &v))) return st; r->calib_ctx = (int)v; }
        else return sk_err(SK_ERR_INVALID, "%s: unknown key '%s' (%s)", where, key, eval ? "eval takes seq, n_ctx, limit" : "calib takes n, n_ctx");
    }
    return SK_OK;
}

static sk_status parse_passes(const cJSON *a, const char *where, sk_recipe *r)
{
    if (!cJSON_IsArray(a) || !a->child)
        return sk_err(SK_ERR_INVALID, "%s: 'passes' must be a non-empty array of {\"pass\": NAME, parameters...}, got %s", where,
                      cJSON_IsArray(a) ? "an empty array" : json_type(a));
    int n = cJSON_GetArraySize(a);
    if (!(r->steps = sk_calloc((size_t)n, sizeof *r->steps))) return SK_ERR_NOMEM;
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsObject(e)) return sk_err(SK_ERR_INVALID, "%s: passes[%d] must be an object, got %s", where, i, json_type(e));
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "pass");
        if (!cJSON_IsString(p))
            return sk_err(SK_ERR_INVALID, "%s: passes[%d]: 'pass' must be a string (a pass name), got %s", where, i, p ? json_type(p) : "nothing");
        const struct sk_pass *pass = sk_pass_find(p->valuestring);
        if (!pass) {
            char names[512];
            sk_pass_names(names, sizeof names);
            return sk_err(SK_ERR_INVALID, "%s: passes[%d]: unknown pass '%s' (available: %s)", where, i, p->valuestring, names);
        }
        cJSON *params = cJSON_Duplicate(e, true);
        if (!params) return SK_ERR_NOMEM;
        cJSON_DeleteItemFromObjectCaseSensitive(params, "pass");
        char *js = cJSON_PrintUnformatted(params);
        cJSON_Delete(params);
        r->n_steps = i + 1;
        r->steps[i].pass = sk_strdup(p->valuestring);
        r->steps[i].params = js ? sk_strdup(js) : NULL;
        free(js);
        if (!r->steps[i].pass || !r->steps[i].params) return SK_ERR_NOMEM;
        sk_status st = sk_pass_check_params(pass, r->steps[i].params, NULL);
        if (st) return sk_err_prefix(st, "%s: passes[%d]", where, i);
    }
    return SK_OK;
}

static sk_status parse(const char *text, const char *where, sk_recipe *r)
{
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        return sk_err(SK_ERR_INVALID, "%s: not valid JSON (near '%.20s')", where, at ? at : "");
    }
    sk_status st = SK_OK;
    if (!cJSON_IsObject(j)) st = sk_err(SK_ERR_INVALID, "%s: a recipe must be a JSON object, got %s", where, json_type(j));
    bool have_passes = false;
    for (const cJSON *kv = j->child; !st && kv && cJSON_IsObject(j); kv = kv->next) {
        if (!strcmp(kv->string, "name")) {
            if (!cJSON_IsString(kv) || !kv->valuestring[0])
                st = sk_err(SK_ERR_INVALID, "%s: 'name' must be a non-empty string, got %s", where, json_type(kv));
            else if (!(r->name = sk_strdup(kv->valuestring))) st = SK_ERR_NOMEM;
        } else if (!strcmp(kv->string, "passes")) { st = parse_passes(kv, where, r); have_passes = true; }
        else if (!strcmp(kv->string, "budgets")) st = parse_budgets(kv, where, &r->budgets);
        else if (!strcmp(kv->string, "eval") || !strcmp(kv->string, "calib")) st = parse_section(kv, where, kv->string, r);
        else if (!strcmp(kv->string, "description") || !strcmp(kv->string, "model")) {
            if (!cJSON_IsString(kv)) st = sk_err(SK_ERR_INVALID, "%s: '%s' must be a string, got %s", where, kv->string, json_type(kv));
        } else
            st = sk_err(SK_ERR_INVALID, "%s: unknown key '%s' (a recipe has name, description, model, passes, budgets, eval, calib)",
                        where, kv->string);
    }
    if (!st && !have_passes) st = sk_err(SK_ERR_INVALID, "%s: missing 'passes' (an array of {\"pass\": NAME, parameters...})", where);
    if (!st) {
        char *js = cJSON_PrintUnformatted(j);
        if (!js || !(r->json = sk_strdup(js))) st = SK_ERR_NOMEM;
        free(js);
    }
    cJSON_Delete(j);
    return st;
}

sk_status sk_recipe_parse(const char *text, const char *where, sk_recipe *r)
{
    memset(r, 0, sizeof *r);
    if (!where) where = "recipe";
    sk_status st = parse(text, where, r);
    if (!st && !r->name) {   /* the file's base name without .json */
        const char *b = strrchr(where, '/') ? strrchr(where, '/') + 1 : where;
        size_t n = strlen(b);
        if (n > 5 && !strcmp(b + n - 5, ".json")) n -= 5;
        if ((r->name = sk_malloc(n + 1))) { memcpy(r->name, b, n); r->name[n] = 0; }
        else st = SK_ERR_NOMEM;
    }
    if (st) sk_recipe_free(r);
    return st;
}

sk_status sk_recipe_load(const char *path, sk_recipe *r)
{
    memset(r, 0, sizeof *r);
    char *text;
    size_t len;
    sk_status st = sk_read_file(path, &text, &len);
    if (st) return st;
    st = sk_recipe_parse(text, path, r);
    sk_free(text);
    if (!st && !(r->path = sk_strdup(path))) { sk_recipe_free(r); st = SK_ERR_NOMEM; }
    return st;
}

void sk_recipe_free(sk_recipe *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_steps; i++) {
        sk_free((char *)r->steps[i].pass);
        sk_free((char *)r->steps[i].params);
    }
    sk_free(r->steps);
    sk_free(r->name);
    sk_free(r->path);
    sk_free(r->json);
    memset(r, 0, sizeof *r);
}
