/* train.h — training: reverse-mode gradients over an sk_model's graph, the
 * losses of distillation, AdamW, checkpoints and student construction.
 *
 * A trainer (sk_train) executes a model like a session does (the same shape
 * functions and forward kernels), but keeps every activation of the forward
 * pass — the tape — so a backward pass can walk the nodes in reverse order
 * and call each op's backward function (grad.c).  All trainable parameters
 * (the model's f32 SK_TF_WEIGHT tensors, plus extra floats the caller asks
 * for, such as a distillation projection) live in one allocation, their
 * gradients in another, llm.c style; while the trainer lives, the model's
 * weight tensors point into that block, so sessions and savers see the
 * current weights.  sk_train_free gives the model its own copies back.
 *
 * Nothing here reads files other than checkpoints, nor knows about the CLI.
 */
#ifndef SK_TRAIN_H
#define SK_TRAIN_H

#include "runtime/runtime.h"

typedef struct sk_train sk_train;

/* Make a trainer for m (which must outlive it) on threads threads (0 =
 * default) with n_extra extra trainable floats after the model's.  Quantized
 * or non-f32 weights are refused.  *out is the caller's (sk_train_free). */
sk_status sk_train_new(sk_model *m, int threads, size_t n_extra, sk_train **out);
/* Copy the parameters back into memory the model owns, then free. */
void sk_train_free(sk_train *t);

/* The parameter block: n floats, the model's first (tensor by tensor in
 * graph order), then the extra ones. */
float *sk_train_params(sk_train *t, size_t *n);
float *sk_train_grads(sk_train *t);
float *sk_train_extra(sk_train *t);        /* params + model floats */
float *sk_train_extra_grad(sk_train *t);
int sk_train_n_params(const sk_train *t);  /* parameter tensors (not counting extra) */
int sk_train_param_tensor(const sk_train *t, int i);   /* tensor id of parameter i */
size_t sk_train_param_offset(const sk_train *t, int i);
/* 1 for floats weight decay applies to (matrices: rank ≥ 2, and all extra
 * floats), 0 for biases and norm scales, as Hugging Face trains them.
 * Array of n floats' flags, owned by the trainer. */
const unsigned char *sk_train_decay_mask(const sk_train *t);
/* A 64-bit hash of the parameter layout (names, shapes, extra count), which
 * checkpoints record so one cannot be loaded into another model. */
uint64_t sk_train_layout_hash(const sk_train *t);

/* Bind input name (a graph input) to data the trainer copies at forward
 * time; integer ids as in sk_session_set_input.  Unbound inputs get the
 * session's defaults (attention_mask ones, token_type_ids zeros,
 * position_ids arange). */
sk_status sk_train_set_input(sk_train *t, const char *name, sk_dtype dt, int rank, const int64_t *dims,
                             const void *data);
/* Run the forward pass, keeping every activation; zeroes the activation
 * gradients, so losses can then add their seeds. */
sk_status sk_train_forward(sk_train *t);
/* After a forward: the value and the gradient buffer (same shape, f32) of
 * tensor tid, or NULL (not computed / no gradient flows there). */
const sk_rtensor *sk_train_value(const sk_train *t, int tid);
float *sk_train_grad_of(sk_train *t, int tid);
/* The tensor id of output 0 of the node called name, or -1. */
int sk_train_node_output(const sk_train *t, const char *node_name);
/* Walk the tape backwards from the seeded activation gradients, adding into
 * the parameter gradients (which only sk_train_zero_grad clears). */
sk_status sk_train_backward(sk_train *t);
void sk_train_zero_grad(sk_train *t);

/* ---- backward functions (grad.c) ---- */
typedef struct sk_bctx {
    const sk_node *node;
    const sk_rtensor *const *in;  int n_in;   /* forward values (NULL when absent) */
    const sk_rtensor *const *out; int n_out;
    float **gin;                   /* gradient to add into, per input; NULL = not needed */
    const float *const *gout;      /* gradient of each output (NULL = none reached it) */
    const float *aux;              /* what the forward saved for this node (LINEAR: pre-activation) */
    sk_pool *pool;
} sk_bctx;
typedef sk_status (*sk_bwd_fn)(sk_bctx *b);
/* The backward of op, or NULL if the op has none. */
sk_bwd_fn sk_grad_fn(sk_op op);
/* A kernel context over b's node and tensors, for the forward's geometry
 * and attribute helpers (read only). */
void sk_bctx_kctx(const sk_bctx *b, sk_kctx *k);
/* grad_conv.c */
sk_status sk_grad_conv(sk_bctx *b);
sk_status sk_grad_max_pool(sk_bctx *b);
sk_status sk_grad_avg_pool(sk_bctx *b);
sk_status sk_grad_global_avg_pool(sk_bctx *b);
sk_status sk_grad_batchnorm(sk_bctx *b);
/* grad_rnn.c: backpropagation through time */
sk_status sk_grad_lstm(sk_bctx *b);
sk_status sk_grad_gru(sk_bctx *b);
sk_status sk_grad_rnn(sk_bctx *b);
/* Whether op's inputs can carry gradient (false for Shape and the like). */
bool sk_grad_passes(sk_op op);

/* LINEAR forward that also saves the pre-activation z in aux (when act is
 * not none): y = act(z), z = x·Wᵀ + b.  aux_need reports the floats needed. */
sk_status sk_train_linear_forward(sk_kctx *k, float *aux);
size_t sk_train_linear_aux(const sk_node *n, const sk_rtensor *y);

/* ---- losses (loss.c); each returns the loss and adds weight·∂loss/∂input
 * into the gradient (which may be NULL to only evaluate) ---- */
/* KL(softmax(t/T) ‖ softmax(s/T)) · T², mean over rows; s, t [rows, C]. */
double sk_loss_kd(const float *s, const float *t, int64_t rows, int64_t C, float T, float weight, float *ds);
/* Cross-entropy with integer labels, mean over the rows whose label is ≥ 0
 * (-1 = unlabelled: no loss, no gradient; 0 when no row has a label). */
double sk_loss_ce(const float *s, const int32_t *labels, int64_t rows, int64_t C, float weight, float *ds);
/* 1 − cos(s_i, t_i), mean over the rows i with mask[i] != 0 (mask NULL = all). */
double sk_loss_cos(const float *s, const float *t, const int64_t *mask, int64_t rows, int64_t H, float weight,
                   float *ds);
/* mean over masked rows and the Ht columns of (s·Pᵀ − t)², P [Ht, Hs] a
 * learned projection (NULL when Hs == Ht: identity); dP may be NULL. */
double sk_loss_mse(const float *s, const float *t, const int64_t *mask, int64_t rows, int64_t Hs, int64_t Ht,
                   const float *P, float weight, float *ds, float *dP);
/* TinyBERT's attention loss for one student/teacher layer pair: the mean
 * over rows b, heads and (query i, key j) pairs with both tokens unmasked
 * (and j ≤ i when causal) of (scale_s·q_s·k_sᵀ − scale_t·q_t·k_tᵀ)², the
 * scores before softmax.  q, k [B, S, H] with H = heads·head size (head
 * sizes may differ between student and teacher); adds weight·∂/∂q_s and
 * ∂/∂k_s into dq, dk (either may be NULL). */
typedef struct sk_att_qk { const float *q, *k; int64_t H; float scale; } sk_att_qk;
double sk_loss_att(const sk_att_qk *s, const sk_att_qk *t, const int64_t *mask, int64_t B, int64_t S, int64_t heads,
                   bool causal, float weight, float *dq, float *dk);
/* Language-model cross-entropy: position p of row b predicts ids[b, p+1];
 * positions where either mask is 0 are skipped; mean over scored positions.
 * logits [B, S, V]; *n_scored (may be NULL) gets their count. */
double sk_loss_lm(const float *logits, const int64_t *ids, const int64_t *mask, int64_t B, int64_t S, int64_t V,
                  float weight, float *dlogits, int64_t *n_scored);

/* ---- optimizer (optim.c) ---- */
typedef struct sk_adamw {
    float beta1, beta2, eps, wd;
    int64_t t;               /* steps taken */
    size_t n;
    float *m, *v;            /* [n] each, one allocation */
} sk_adamw;
sk_status sk_adamw_init(sk_adamw *o, size_t n, float wd);
void sk_adamw_free(sk_adamw *o);
/* One step: p −= lr·(m̂/(√v̂ + eps) + wd·p·decay[i]) (decoupled weight decay). */
void sk_adamw_step(sk_adamw *o, float *p, const float *g, const unsigned char *decay, float lr);
/* Scale g so its global L2 norm is at most max_norm (≤ 0: no clipping); returns the norm before. */
double sk_grad_clip(float *g, size_t n, double max_norm);
typedef enum { SK_SCHED_LINEAR, SK_SCHED_COSINE, SK_SCHED_CONSTANT } sk_sched;
/* Learning rate at step (0-based) of total: linear warm-up over warmup steps, then decay to 0. */
float sk_lr_at(sk_sched s, float base, int64_t step, int64_t total, int64_t warmup);

/* Checkpoints: parameters, optimizer state, step counters and the layout hash. */
typedef struct sk_ckpt_info {
    int64_t step, epoch, step_in_epoch;
    uint64_t seed;
} sk_ckpt_info;
sk_status sk_ckpt_save(const char *path, sk_train *t, const sk_adamw *o, const sk_ckpt_info *info);
sk_status sk_ckpt_load(const char *path, sk_train *t, sk_adamw *o, sk_ckpt_info *info);

/* ---- a small deterministic RNG (splitmix64 / xoshiro-free: one state word) ---- */
typedef struct sk_rng { uint64_t s; } sk_rng;
uint64_t sk_rng_next(sk_rng *r);
double sk_rng_uniform(sk_rng *r);           /* [0, 1) */
float sk_rng_normal(sk_rng *r);             /* N(0, 1) */

/* ---- students (student.c) ---- */
typedef enum { SK_STUDENT_SAME = 0, SK_STUDENT_MLP, SK_STUDENT_RNN, SK_STUDENT_CNN } sk_student_kind;
typedef enum { SK_INIT_AUTO, SK_INIT_COPY, SK_INIT_FRESH } sk_student_init;
typedef struct sk_student_spec {
    sk_student_kind kind;             /* SAME: the teacher's family; else a small classifier over its tokens */
    int layers, hidden, heads, ffn;   /* 0 = the teacher's (SAME) or the kind's default */
    int emb, kernel, dirs;            /* small kinds: embedding width, CNN kernel (odd), RNN directions */
    sk_op cell;                       /* RNN: SK_OP_LSTM or SK_OP_GRU */
    sk_student_init init;             /* SAME: copy the teacher's weights or start fresh */
} sk_student_spec;
/* Parse "layers=2", "layers=2,hidden=128,heads=2,ffn=256" (the teacher's
 * family; ",init=copy|fresh" picks the start), or a small student:
 * "mlp[,emb=E,hidden=H,layers=N]", "rnn=lstm|gru[,emb=E,hidden=H,layers=N,dirs=1|2]",
 * "cnn[,emb=E,hidden=F,kernel=K,layers=N]".  SK_ERR_USAGE naming the key. */
sk_status sk_student_parse(const char *spec, sk_student_spec *s);
/* Build a student.  Small kinds (MLP, RNN, CNN; a classifier teacher only)
 * are token classifiers over the teacher's vocabulary, inputs input_ids and
 * attention_mask, output logits, every weight initialised from seed as
 * PyTorch does (embedding N(0, 1); Linear, Conv, LSTM/GRU U(±1/√fan_in),
 * recurrent ones U(±1/√hidden)):
 *   mlp  embedding → mean over the unmasked tokens → layers × (Linear, ReLU) → Linear
 *   rnn  embedding → layers × LSTM/GRU (sequence_lens from the mask) → last state of
 *        each direction → Linear
 *   cnn  embedding, padding zeroed → layers × (Conv1d k, same length, ReLU, padding
 *        zeroed) → mean over the unmasked tokens → Linear
 * Otherwise a student of the teacher's family and task.  init=copy (the
 * default when no width differs from the teacher's) copies the teacher's
 * weights: embeddings, pooler, classifier / final norm, and teacher layer
 * map[i] = i·L_t/L_s for student layer i (every other layer for half as many,
 * DistilBERT's choice); more layers than the teacher, or another width, is an
 * error.  init=fresh (the default when a width differs) initialises every
 * weight from seed (N(0, 0.02), norms 1 and 0, biases 0).  The
 * tokenizer travels with the student.  *out is the caller's. */
sk_status sk_student_build(const sk_model *teacher, const sk_student_spec *s, uint64_t seed, sk_model **out);
/* The node whose output is the last hidden state [B, S, H]: the last
 * encoder layer (BERT) or ln_f (GPT-2); -1 if the graph has none. */
int sk_student_hidden_node(const sk_model *m);

#endif
