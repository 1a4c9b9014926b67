/* distill.h — knowledge distillation of a student from a teacher
 * (src/train/distill.c): data sets, the training loop, validation.
 *
 * The loop (DistilBERT's recipe; REFERENCES.md): per batch the teacher runs
 * in an ordinary runtime session, the student in a trainer (train.h); the
 * loss is α_kd·KL(t/T ‖ s/T)·T² + α_ce·(hard-label or next-token CE) +
 * α_cos·(1 − cos) on the last hidden states + α_mse·MSE on them through a
 * learned projection when the widths differ (TinyBERT) + α_att·MSE of the
 * attention scores of mapped layers (TinyBERT); AdamW with linear
 * warm-up and linear or cosine decay, global-norm clipping.  Batches are
 * padded to their longest example with an attention mask.  The data order
 * of epoch e depends only on (seed, e), so a run resumed from a checkpoint
 * sees the batches an uninterrupted run would, and on one thread ends with
 * the same bits.
 */
#ifndef SK_DISTILL_H
#define SK_DISTILL_H

#include <signal.h>
#include <stdio.h>
#include "train/train.h"

/* Examples: token ids per example, and a label each (classification) or
 * none (language modelling: each example is a window of text). */
typedef struct sk_dataset {
    int n;
    int32_t **ids;           /* [n][len[i]] */
    int *len;
    int32_t *labels;         /* [n], NULL for LM windows */
    int64_t tokens;
} sk_dataset;

/* Load path for the teacher: JSONL {"text", "label"} for a classifier
 * (labels checked against the teacher's classes), raw text cut into windows
 * of max_len tokens for a language model.  An empty set is an error. */
sk_status sk_dataset_load(const sk_model *teacher, const char *path, int max_len, sk_dataset *d);
/* Add one example (ids copied); label ignored when the set has no labels. */
sk_status sk_dataset_add(sk_dataset *d, const int32_t *ids, int len, int32_t label, bool labelled);
void sk_dataset_free(sk_dataset *d);

typedef struct sk_distill_opts {
    int epochs, batch, threads;
    float lr, wd, clip;              /* clip ≤ 0: none */
    float warmup;                    /* fraction of all steps (0.1 = 10 %) */
    sk_sched sched;
    float temperature, alpha_kd, alpha_ce, alpha_cos, alpha_mse;
    float alpha_att;                 /* TinyBERT attention-score MSE over mapped layers (sk_loss_att) */
    uint64_t seed;
    int64_t checkpoint_every;        /* steps; 0 = only on interruption */
    const char *checkpoint;          /* path of the checkpoint file (NULL: none written) */
    const char *resume;              /* checkpoint to resume from, or NULL */
    int64_t stop_after;              /* end (with a checkpoint) after this many steps in total; 0 = never */
    volatile sig_atomic_t *stop;     /* set asynchronously (SIGINT): checkpoint and return */
    bool progress;                   /* a bar on stderr */
    FILE *log;                       /* one line per epoch (NULL = quiet) */
    /* called after every step with the loss (tests record the curve) */
    void (*on_step)(void *ctx, int64_t step, double loss);
    void *ctx;
} sk_distill_opts;

void sk_distill_opts_default(sk_distill_opts *o);

typedef struct sk_distill_result {
    int64_t steps, total_steps;
    bool interrupted;                /* stopped by *stop or stop_after; a checkpoint was written */
    double loss, kd, ce, cos, mse, att;   /* means over the last epoch run */
    double val, teacher_val;         /* accuracy or perplexity on val (-1 when none) */
    const char *metric;              /* "accuracy" or "perplexity" */
    double seconds, tokens_per_s, steps_per_s;
} sk_distill_result;

/* Train student (its weights change in place) from teacher on train; val
 * may be NULL.  Checks before anything runs: same family, task and vocabulary,
 * the same classes, a non-empty set. */
sk_status sk_distill(const sk_model *teacher, sk_model *student, const sk_dataset *train, const sk_dataset *val,
                     const sk_distill_opts *o, sk_distill_result *r);

/* Accuracy (classifier) or perplexity (LM, every next-token over the
 * windows) of m on d, in padded batches through a session. */
sk_status sk_distill_eval(const sk_model *m, const sk_dataset *d, int batch, int threads, double *value);

#endif
