/* eval.c — accuracy on labelled JSONL and perplexity on raw text.
 *
 * Examples run one at a time without padding, exactly like the torch
 * reference in samples/zoo/build.py, so the two agree to the last decimal.
 */
#include <cJSON.h>
#include <math.h>
#include <string.h>
#include "eval/eval.h"
#include "runtime/runtime.h"
#include "text/text.h"

static int argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++) if (v[i] > v[best]) best = i;
    return (int)best;
}

/* The first graph input that is not constant: what --input / text binds. */
static const sk_tensor *first_input(const sk_model *m)
{
    for (int i = 0; i < m->g.n_inputs; i++) {
        const sk_tensor *t = &m->g.tensors[m->g.inputs[i]];
        if (!(t->flags & SK_TF_CONST)) return t;
    }
    return NULL;
}

/* Shape of one example of n values for input t: the batch dim is 1, one other
 * unknown dim is inferred. */
static sk_status example_shape(const char *path, long line, const sk_tensor *t, int64_t n, int64_t *dims)
{
    int64_t known = 1;
    int unknown = -1;
    for (int d = 0; d < t->rank; d++) {
        dims[d] = d == 0 && t->dims[0] < 0 ? 1 : t->dims[d];
        if (dims[d] < 0) {
            if (unknown >= 0) return sk_err(SK_ERR_UNSUPPORTED, "%s: input '%s' has more than one unknown dim", path, t->name);
            unknown = d;
        } else known *= dims[d];
    }
    if (unknown >= 0 && known > 0 && n % known == 0) dims[unknown] = n / known, known *= dims[unknown];
    if (known != n)
        return sk_err(SK_ERR_INVALID, "%s: line %ld: %lld input values do not fit input '%s'", path, line, (long long)n, t->name);
    return SK_OK;
}

sk_status sk_eval_accuracy(const sk_model *m, const char *path, const sk_eval_opts *o, sk_eval_result *r)
{
    memset(r, 0, sizeof *r);
    strcpy(r->metric, "accuracy");
    char *text;
    size_t len;
    sk_status st = sk_read_file(path, &text, &len);
    if (st) return st;
    sk_session *s = NULL;
    sk_tokenizer *tok = NULL;
    float *x = NULL;
    int64_t *ids64 = NULL;
    int *pred = NULL;
    long n_pred = 0, cap_pred = 0, correct = 0;
    sk_session_opts so = {.threads = o->threads};
    const sk_tensor *in = first_input(m);
    if (!in) { st = sk_err(SK_ERR_INVALID, "model has no inputs"); goto done; }
    if ((st = sk_session_new(m, &so, &s))) goto done;
    double t0 = sk_now();
    long lineno = 0;
    sk_progress pr;
    sk_progress_start(&pr, "eval", 0);
    pr.on = pr.on && o->progress;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        if (strspn(line, " \t\r") == strlen(line)) continue;
        if (o->limit && n_pred >= o->limit) break;
        cJSON *j = cJSON_Parse(line);
        if (!j || !cJSON_IsObject(j)) {
            cJSON_Delete(j);
            st = sk_err(SK_ERR_FORMAT, "%s: line %ld: not a JSON object", path, lineno);
            goto done;
        }
        cJSON *lab = cJSON_GetObjectItemCaseSensitive(j, "label");
        cJSON *txt = cJSON_GetObjectItemCaseSensitive(j, "text");
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "input");
        if (!cJSON_IsNumber(lab) || (!cJSON_IsString(txt) && !cJSON_IsArray(arr))) {
            cJSON_Delete(j);
            st = sk_err(SK_ERR_FORMAT, "%s: line %ld: expected {\"text\": string or \"input\": [numbers], \"label\": integer}",
                        path, lineno);
            goto done;
        }
        int label = lab->valueint;
        if (cJSON_IsString(txt)) {
            if (!tok) {
                if (!sk_model_has_tokenizer(m)) {
                    cJSON_Delete(j);
                    st = sk_err(SK_ERR_INVALID, "%s: text examples need a tokenizer beside the model", path);
                    goto done;
                }
                if ((st = sk_model_tokenizer(m, &tok))) { cJSON_Delete(j); goto done; }
            }
            int32_t *ids;
            int n;
            int max_len = o->max_len ? o->max_len : sk_model_max_len(m, tok);
            if ((st = sk_tok_encode(tok, txt->valuestring, true, max_len, &ids, &n))) { cJSON_Delete(j); goto done; }
            int64_t *p = sk_realloc(ids64, (size_t)(n ? n : 1) * sizeof *p);
            if (!p) { sk_free(ids); cJSON_Delete(j); st = SK_ERR_NOMEM; goto done; }
            ids64 = p;
            for (int i = 0; i < n; i++) ids64[i] = ids[i];
            sk_free(ids);
            int64_t dims[2] = {1, n};
            st = sk_session_set_input(s, "input_ids", SK_DT_I64, 2, dims, ids64);
        } else {
            int n = cJSON_GetArraySize(arr);
            float *p = sk_realloc(x, (size_t)(n ? n : 1) * sizeof *p);
            if (!p) { cJSON_Delete(j); st = SK_ERR_NOMEM; goto done; }
            x = p;
            int i = 0;
            for (cJSON *e = arr->child; e; e = e->next) x[i++] = (float)e->valuedouble;
            int64_t dims[SK_MAX_RANK];
            st = example_shape(path, lineno, in, n, dims);
            if (!st) st = sk_session_set_input(s, in->name, SK_DT_F32, in->rank, dims, x);
        }
        cJSON_Delete(j);
        if (st || (st = sk_session_run(s))) goto done;
        const sk_rtensor *out = sk_session_output(s, 0);
        if (out->dtype != SK_DT_F32 || out->rank < 1) {
            st = sk_err(SK_ERR_INVALID, "model output '%s' is not a float vector of class scores", sk_session_output_name(s, 0));
            goto done;
        }
        int64_t classes = out->dims[out->rank - 1];
        if (label < 0 || label >= classes) {
            st = sk_err(SK_ERR_INVALID, "%s: line %ld: label %d outside the model's %lld classes", path, lineno, label,
                        (long long)classes);
            goto done;
        }
        int p = argmax(out->data, classes);
        if (n_pred == cap_pred) {
            cap_pred = cap_pred ? cap_pred * 2 : 256;
            int *q = sk_realloc(pred, (size_t)cap_pred * sizeof *q);
            if (!q) { st = SK_ERR_NOMEM; goto done; }
            pred = q;
        }
        pred[n_pred++] = p;
        correct += p == label;
        sk_progress_update(&pr, n_pred, "");
    }
    sk_progress_end(&pr);
    if (n_pred == 0) { st = sk_err(SK_ERR_INVALID, "%s: no examples", path); goto done; }
    r->value = (double)correct / (double)n_pred;
    r->n = n_pred;
    r->seconds = sk_now() - t0;
    r->pred = pred;
    pred = NULL;
done:
    sk_free(pred);
    sk_free(x);
    sk_free(ids64);
    sk_tok_free(tok);
    sk_session_free(s);
    sk_free(text);
    return st;
}

sk_status sk_eval_perplexity(const sk_model *m, const char *path, const sk_eval_opts *o, sk_eval_result *r)
{
    memset(r, 0, sizeof *r);
    strcpy(r->metric, "perplexity");
    if (!sk_model_has_tokenizer(m)) return sk_err(SK_ERR_INVALID, "%s: perplexity needs a tokenizer beside the model", path);
    int n_ctx = o->n_ctx ? o->n_ctx : (m->arch.max_pos > 0 && m->arch.max_pos < 128 ? m->arch.max_pos : 128);
    if (n_ctx < 2 || (m->arch.max_pos > 0 && n_ctx > m->arch.max_pos))
        return sk_err(SK_ERR_INVALID, "n_ctx %d outside [2, %d]", n_ctx, m->arch.max_pos);
    char *text;
    size_t len;
    sk_status st = sk_read_file(path, &text, &len);
    if (st) return st;
    sk_tokenizer *tok = NULL;
    sk_session *s = NULL;
    int32_t *ids = NULL;
    int64_t *win = NULL;
    int n = 0;
    if ((st = sk_model_tokenizer(m, &tok))) goto done;
    if ((st = sk_tok_encode(tok, text, false, 0, &ids, &n))) goto done;
    long windows = n / n_ctx;
    if (o->limit && windows > o->limit) windows = o->limit;
    if (windows == 0) { st = sk_err(SK_ERR_INVALID, "%s: %d tokens, fewer than one window of %d", path, n, n_ctx); goto done; }
    sk_session_opts so = {.threads = o->threads};
    if ((st = sk_session_new(m, &so, &s))) goto done;
    win = sk_malloc((size_t)n_ctx * sizeof *win);
    if (!win) { st = SK_ERR_NOMEM; goto done; }
    double nll = 0, t0 = sk_now();
    long scored = 0;
    sk_progress pr;
    sk_progress_start(&pr, "perplexity", windows);
    pr.on = pr.on && o->progress;
    for (long w = 0; w < windows; w++) {
        for (int i = 0; i < n_ctx; i++) win[i] = ids[w * n_ctx + i];
        int64_t dims[2] = {1, n_ctx};
        if ((st = sk_session_set_input(s, "input_ids", SK_DT_I64, 2, dims, win)) || (st = sk_session_run(s))) goto done;
        const sk_rtensor *out = sk_session_output(s, 0);
        if (out->dtype != SK_DT_F32 || out->rank != 3 || out->dims[1] != n_ctx) {
            st = sk_err(SK_ERR_INVALID, "perplexity needs logits [1, %d, vocab]; model output '%s' is not that", n_ctx,
                        sk_session_output_name(s, 0));
            goto done;
        }
        int64_t V = out->dims[2];
        const float *lg = out->data;
        for (int t = n_ctx / 2; t < n_ctx; t++) {
            const float *row = lg + (int64_t)(t - 1) * V;   /* predicts token t */
            double mx = row[0], sum = 0;
            for (int64_t v = 1; v < V; v++) if (row[v] > mx) mx = row[v];
            for (int64_t v = 0; v < V; v++) sum += exp((double)row[v] - mx);
            int32_t target = ids[w * n_ctx + t];
            if (target < 0 || target >= V) { st = sk_err(SK_ERR_INVALID, "token id %d outside vocab %lld", target, (long long)V); goto done; }
            nll += mx + log(sum) - (double)row[target];
            scored++;
        }
        sk_progress_update(&pr, w + 1, "");
    }
    sk_progress_end(&pr);
    r->value = exp(nll / (double)scored);
    r->n = scored;
    r->n_ctx = n_ctx;
    r->n_windows = windows;
    r->seconds = sk_now() - t0;
done:
    sk_free(win);
    sk_free(ids);
    sk_tok_free(tok);
    sk_session_free(s);
    sk_free(text);
    return st;
}

sk_status sk_eval_auto(const sk_model *m, const char *path, const sk_eval_opts *o, sk_eval_result *r)
{
    const char *ext = sk_path_ext(path);
    if (!strcmp(ext, ".jsonl") || !strcmp(ext, ".json")) return sk_eval_accuracy(m, path, o, r);
    return sk_eval_perplexity(m, path, o, r);
}
