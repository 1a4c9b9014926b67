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

#endif
