/* generate.c — text generation for GPT-2 models, and latency benchmarks.
 *
 * A model built with the fused Attention op generates with a KV cache: the
 * prompt runs once, then one token per step.  A primitive ONNX graph has no
 * cache, so every step re-runs the whole sequence (correct, slower; the fuse
 * pass turns such graphs into cached ones).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "eval/eval.h"
#include "runtime/runtime.h"

static uint64_t rng_next(uint64_t *s)   /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

typedef struct { float v; int32_t id; } cand;

static int cand_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->v < y->v ? 1 : x->v > y->v ? -1 : x->id - y->id;
}

static int32_t pick(const float *logits, int64_t V, const sk_gen_opts *o, uint64_t *rng, cand *buf)
{
    if (o->top_k <= 1 || o->temperature <= 0) {
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
        return (int32_t)best;
    }
    for (int64_t i = 0; i < V; i++) { buf[i].v = logits[i]; buf[i].id = (int32_t)i; }
    qsort(buf, (size_t)V, sizeof *buf, cand_desc);
    int k = o->top_k < V ? o->top_k : (int)V;
    double sum = 0;
    for (int i = 0; i < k; i++) sum += exp((double)(buf[i].v - buf[0].v) / o->temperature);
    double u = (double)(rng_next(rng) >> 11) / 9007199254740992.0 * sum, acc = 0;
    for (int i = 0; i < k; i++) {
        acc += exp((double)(buf[i].v - buf[0].v) / o->temperature);
        if (u < acc) return buf[i].id;
    }
    return buf[k - 1].id;
}

static bool has_attention(const sk_model *m)
{
    for (int i = 0; i < m->g.n_nodes; i++) if (m->g.nodes[i].op == SK_OP_ATTENTION) return true;
    return false;
}

sk_status sk_generate(const sk_model *m, const int32_t *prompt, int n, const sk_gen_opts *o, int32_t **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n < 1) return sk_err(SK_ERR_INVALID, "generate: empty prompt");
    int max_pos = m->arch.max_pos > 0 ? m->arch.max_pos : 1024;
    int total = n + o->n_new;
    if (total > max_pos) total = max_pos;
    if (n > total) return sk_err(SK_ERR_INVALID, "generate: prompt of %d tokens exceeds the model's %d positions", n, max_pos);
    bool cached = has_attention(m);
    sk_session_opts so = {.threads = o->threads, .kv_cache = cached, .max_pos = max_pos};
    sk_session *s = NULL;
    int32_t *seq = sk_malloc((size_t)total * sizeof *seq);
    int64_t *ids = sk_malloc((size_t)total * sizeof *ids);
    cand *buf = NULL;
    sk_status st = seq && ids ? sk_session_new(m, &so, &s) : SK_ERR_NOMEM;
    if (st) goto done;
    memcpy(seq, prompt, (size_t)n * sizeof *seq);
    uint64_t rng = o->seed ? o->seed : 0x9E3779B97F4A7C15ULL;
    int len = n, fed = 0;   /* fed: tokens already in the cache */
    while (len < total) {
        int start = cached ? fed : 0;
        for (int i = start; i < len; i++) ids[i - start] = seq[i];
        int64_t dims[2] = {1, len - start};
        if ((st = sk_session_set_input(s, "input_ids", SK_DT_I64, 2, dims, ids)) || (st = sk_session_run(s))) goto done;
        fed = len;
        const sk_rtensor *lg = sk_session_output(s, 0);
        if (lg->dtype != SK_DT_F32 || lg->rank != 3) {
            st = sk_err(SK_ERR_INVALID, "generate: model output '%s' is not logits [1, seq, vocab]", sk_session_output_name(s, 0));
            goto done;
        }
        int64_t V = lg->dims[2];
        if (!buf && !(buf = sk_malloc((size_t)V * sizeof *buf))) { st = SK_ERR_NOMEM; goto done; }
        int32_t id = pick((const float *)lg->data + (lg->dims[1] - 1) * V, V, o, &rng, buf);
        seq[len++] = id;
        if (o->on_token) o->on_token(o->ctx, id);
        if (id == o->eos) break;
    }
    *out = seq;
    *n_out = len;
    seq = NULL;
done:
    sk_free(buf);
    sk_free(ids);
    sk_free(seq);
    sk_session_free(s);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
    double idx = p * (n - 1);
    int lo = (int)idx;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - lo);
}

sk_status sk_bench(const sk_model *m, const sk_bench_opts *o, sk_bench_result *r)
{
    memset(r, 0, sizeof *r);
    int iters = o->iters > 0 ? o->iters : 20, warm = o->warmup >= 0 ? o->warmup : 3;
    int batch = o->batch > 0 ? o->batch : 1, seq = o->seq > 0 ? o->seq : 128;
    uint64_t rng = 42;
    double *t = sk_malloc((size_t)iters * sizeof *t);
    if (!t) return SK_ERR_NOMEM;
    sk_status st = SK_OK;
    if (o->gen > 0) {   /* generation: tokens per second after a prompt of seq tokens */
        int32_t *prompt = sk_malloc((size_t)seq * sizeof *prompt), *outp = NULL;
        int vocab = m->arch.vocab > 0 ? m->arch.vocab : 1000, nout;
        if (!prompt) { sk_free(t); return SK_ERR_NOMEM; }
        for (int i = 0; i < seq; i++) prompt[i] = (int32_t)(rng_next(&rng) % (uint64_t)vocab);
        sk_gen_opts go = {.n_new = o->gen, .threads = o->threads, .eos = -1};
        iters = o->iters > 0 ? o->iters : 3;
        for (int i = 0; i < iters + (warm > 0) && !st; i++) {
            double t0 = sk_now();
            st = sk_generate(m, prompt, seq, &go, &outp, &nout);
            double dt = sk_now() - t0;
            if (!st && i >= (warm > 0)) {
                t[i - (warm > 0)] = dt * 1000;
                double tps = (nout - seq) / dt;
                if (tps > r->tokens_per_s) r->tokens_per_s = tps;   /* best of the runs */
            }
            sk_free(outp);
            outp = NULL;
        }
        sk_free(prompt);
    } else {
        sk_session_opts so = {.threads = o->threads};
        sk_session *s = NULL;
        void *bufs[SK_MAX_RANK] = {0};
        int nb = 0;
        if ((st = sk_session_new(m, &so, &s))) { sk_free(t); return st; }
        for (int i = 0; i < m->g.n_inputs && !st; i++) {
            const sk_tensor *in = &m->g.tensors[m->g.inputs[i]];
            if (in->flags & SK_TF_CONST) continue;
            const char *nm = in->name;
            if (!strcmp(nm, "attention_mask") || !strcmp(nm, "token_type_ids") || !strcmp(nm, "position_ids")) continue;
            int64_t dims[SK_MAX_RANK], n = 1;
            for (int d = 0; d < in->rank; d++) {
                dims[d] = in->dims[d] >= 0 ? in->dims[d] : d == 0 ? batch : seq;
                n *= dims[d];
            }
            if (nb == SK_MAX_RANK) break;
            if (in->dtype == SK_DT_I64) {
                int64_t *p = sk_malloc((size_t)n * sizeof *p);
                int vocab = m->arch.vocab > 0 ? m->arch.vocab : 100;
                if (!p) { st = SK_ERR_NOMEM; break; }
                for (int64_t j = 0; j < n; j++) p[j] = (int64_t)(rng_next(&rng) % (uint64_t)vocab);
                bufs[nb++] = p;
                st = sk_session_set_input(s, nm, SK_DT_I64, in->rank, dims, p);
            } else {
                float *p = sk_malloc((size_t)n * sizeof *p);
                if (!p) { st = SK_ERR_NOMEM; break; }
                for (int64_t j = 0; j < n; j++) p[j] = (float)(rng_next(&rng) >> 40) / (float)(1 << 24);
                bufs[nb++] = p;
                st = sk_session_set_input(s, nm, SK_DT_F32, in->rank, dims, p);
            }
        }
        for (int i = 0; i < warm && !st; i++) st = sk_session_run(s);
        for (int i = 0; i < iters && !st; i++) {
            double t0 = sk_now();
            st = sk_session_run(s);
            t[i] = (sk_now() - t0) * 1000;
        }
        for (int i = 0; i < nb; i++) sk_free(bufs[i]);
        sk_session_free(s);
    }
    if (!st) {
        double sum = 0;
        for (int i = 0; i < iters; i++) sum += t[i];
        qsort(t, (size_t)iters, sizeof *t, cmp_double);
        r->p50_ms = pct(t, iters, 0.5);
        r->p90_ms = pct(t, iters, 0.9);
        r->p99_ms = pct(t, iters, 0.99);
        r->mean_ms = sum / iters;
        r->iters = iters;
        r->peak_rss_kb = sk_peak_rss_kb();
    }
    sk_free(t);
    return st;
}
