/* eval.h — accuracy, perplexity and latency of a model in shrink's runtime.
 *
 * The same functions measure the baseline and the compressed model, so the
 * numbers in a report are comparable by construction.
 */
#ifndef SK_EVAL_H
#define SK_EVAL_H

#include "ir/ir.h"

typedef struct sk_eval_result {
    char metric[16];       /* "accuracy" or "perplexity" */
    double value;
    long n;                /* examples (accuracy) or scored tokens (perplexity) */
    int n_ctx;             /* perplexity window */
    long n_windows;
    double seconds;
    int *pred;             /* accuracy: predicted class per example (sk_free), else NULL */
} sk_eval_result;

typedef struct sk_eval_opts {
    int threads;           /* 0 = default */
    long limit;            /* evaluate at most this many examples / windows (0 = all) */
    int n_ctx;             /* perplexity window (0 = min(128, max positions)) */
    int max_len;           /* classification: truncate tokens (0 = model max positions) */
    bool progress;
} sk_eval_opts;

/* Classification accuracy on JSONL lines {"text": ..., "label": k} (tokenized
 * with the model's tokenizer, one example at a time, no padding) or
 * {"input": [numbers], "label": k} (reshaped to the model's input shape). */
sk_status sk_eval_accuracy(const sk_model *m, const char *path, const sk_eval_opts *o, sk_eval_result *r);
/* Perplexity on raw text, llama.cpp's convention: non-overlapping windows of
 * n_ctx tokens (the last partial window dropped), only the second half of
 * each window scored, PPL = exp(mean NLL). */
sk_status sk_eval_perplexity(const sk_model *m, const char *path, const sk_eval_opts *o, sk_eval_result *r);
/* Accuracy for .jsonl files, perplexity otherwise. */
sk_status sk_eval_auto(const sk_model *m, const char *path, const sk_eval_opts *o, sk_eval_result *r);

typedef struct sk_bench_opts {
    int threads, batch, seq;
    int warmup, iters;
    int gen;               /* > 0: measure generation of this many tokens (GPT-2) */
} sk_bench_opts;

typedef struct sk_bench_result {
    double p50_ms, p90_ms, p99_ms, mean_ms;
    double tokens_per_s;   /* generation only */
    long peak_rss_kb;
    int iters;
} sk_bench_result;

sk_status sk_bench(const sk_model *m, const sk_bench_opts *o, sk_bench_result *r);

/* Generation (GPT-2 family): greedy when top_k <= 1 or temperature <= 0. */
typedef struct sk_gen_opts {
    int n_new, top_k, threads;
    float temperature;
    uint64_t seed;
    int32_t eos;           /* stop at this id (-1 = never) */
    void (*on_token)(void *ctx, int32_t id);
    void *ctx;
} sk_gen_opts;
/* ids: the prompt; *out receives prompt + generated ids (sk_free it). */
sk_status sk_generate(const sk_model *m, const int32_t *ids, int n, const sk_gen_opts *o, int32_t **out, int *n_out);

#endif
