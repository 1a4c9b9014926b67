/* calib.h — calibration data for passes (src/eval/calib.c).
 *
 * The sample types (sk_calib, sk_calib_sample) are in shrink-pass.h, since
 * passes see them through their sk_pass_ctx.
 */
#ifndef SK_CALIB_H
#define SK_CALIB_H

#include "shrink-pass.h"

#define SK_CALIB_N_DEFAULT 128   /* samples when the user gives no --calib-n */
#define SK_CALIB_CTX_DEFAULT 128 /* tokens per window (capped by the model's max positions) */

/* Load up to n samples (0 = SK_CALIB_N_DEFAULT) from path for model m:
 *   a .jsonl / .json file: one JSON object a line, {"text": "..."} (tokenized
 *     with the model's tokenizer: with its special tokens for a classifier,
 *     without for a language model; truncated to n_ctx tokens) or
 *     {"input": [numbers]} (shaped like the model's first input, batch 1; for
 *     a model whose first input is integer, token ids of one sequence);
 *     other keys ("label") are ignored;
 *   any other file, raw text: for a language model (GPT-2 family) the whole
 *     text is tokenized and cut into non-overlapping windows of n_ctx tokens;
 *     for a text classifier every non-empty line is one sample.
 * n_ctx 0 = min(SK_CALIB_CTX_DEFAULT, max positions).  When the file holds
 * more than n samples, n are taken evenly spaced through it.  Errors name the
 * file and the line.  *out is the caller's (sk_calib_free). */
sk_status sk_calib_load(const sk_model *m, const char *path, int n, int n_ctx, sk_calib **out);
void sk_calib_free(sk_calib *c);

/* Run every sample of c through a session on m (threads 0 = default),
 * stopping after node stop (-1 = all), calling fn after each executed node.
 * Samples of equal shape run in batches (about 2048 tokens or 256 samples a
 * run).  The session lives only during the call. */
sk_status sk_calib_run(const sk_model *m, const sk_calib *c, int threads, int stop, sk_session_observer fn,
                       void *ctx);

/* Staged calibration, for passes that rewrite layers in dependency order and
 * want each stage's inputs through the stages already rewritten (GPTQ, AWQ,
 * SparseGPT).  Instead of running the samples from the model's inputs before
 * every stage, a run continues where the previous one was cut:
 * sk_calib_stages_run runs every sample up to node stop like sk_calib_run (a
 * fresh session, the same batches, fn after each executed node), but executes
 * only the nodes from the previous run's keep on: all of them on the first
 * run, or when the previous run kept nothing (keep <= 0, before where it
 * started, or past its stop + 1).  It keeps, per batch, the values that nodes
 * >= keep read from earlier nodes: the activations crossing the cut, not the
 * whole forward.  Between two runs the caller may change only constants that
 * no node before the first run's keep reads: a node before the cut is not run
 * again, so it would keep its old output.  m and c must outlive r (*out is
 * the caller's; sk_calib_stages_free(NULL) is fine).  skip (NULL = none):
 * nodes fn observes but that are not executed (sk_session_set_skip); a node
 * is skipped only if no node up to stop reads what it writes, so the caller
 * may list every layer it is about to change.  SHRINK_CALIB_RESUME=0 in the
 * environment makes every run start from the inputs and skip nothing, so
 * tests can check that both give the same bits. */
typedef struct sk_calib_stages sk_calib_stages;
sk_status sk_calib_stages_new(const sk_model *m, const sk_calib *c, int threads, sk_calib_stages **out);
sk_status sk_calib_stages_run(sk_calib_stages *r, int stop, int keep, const int *skip, int n_skip,
                              sk_session_observer fn, void *ctx);
void sk_calib_stages_free(sk_calib_stages *r);

#endif
