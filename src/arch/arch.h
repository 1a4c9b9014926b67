/* arch.h — model templates: the IR graph of a BERT or GPT-2 built from an
 * sk_arch, with fused ops (LINEAR, ATTENTION, LAYERNORM, SKIP_LAYERNORM).
 *
 * A template does not know where weights come from.  It asks a callback for
 * each parameter by its Hugging Face name and expected shape, so the same
 * template serves the safetensors importer (tensors pointing into the mapped
 * file), the .skm loader and distillation (freshly initialised students).
 * The template checks every returned tensor's dtype and shape against the
 * config, so a callback cannot hand it a mismatched weight.
 *
 * Parameter names follow the layout HF's save_pretrained writes for the task:
 *   BERT, task "seq-classification": bert.embeddings.word_embeddings.weight, ..., classifier.weight
 *   BERT, task "base":               embeddings.word_embeddings.weight, ... (no "bert." prefix)
 *   GPT-2, task "lm":                transformer.wte.weight, ...; lm_head.weight (optional: tied to wte)
 *   GPT-2, task "base":              wte.weight, ... (no "transformer." prefix)
 * A callback may map names further (the HF importer accepts either prefix).
 *
 * Graphs (B = batch, S = sequence, H = hidden; all activations f32):
 *   BERT   inputs input_ids, attention_mask, token_type_ids [B, S] i64
 *          outputs "logits" [B, n_labels] (seq-classification) or
 *          "last_hidden_state" [B, S, H] and "pooler_output" [B, H] (base; the
 *          pooler only when its weights exist)
 *   GPT-2  inputs input_ids [B, S], attention_mask [B, past+S], position_ids [B, S] i64
 *          outputs "logits" [B, S, vocab] (lm) or "last_hidden_state" [B, S, H] (base)
 */
#ifndef SK_ARCH_H
#define SK_ARCH_H

#include "ir/ir.h"
#include "util/util.h"

/* Return in *id the tensor id of the parameter called name, a constant of
 * shape dims[rank] (f32, flagged SK_TF_WEIGHT), adding it to m->g if needed.
 * When the parameter does not exist: if optional, set *id = -1 and return
 * SK_OK; else return an error naming it. */
typedef sk_status (*sk_arch_weight_fn)(void *ctx, sk_model *m, const char *name, int rank, const int64_t *dims,
                                       bool optional, int *id);

/* Check a's sizes: positive, hidden divisible by heads, family and task known. */
sk_status sk_arch_check(const sk_arch *a);
/* Build the graph of a (usually &m->arch) into m->g, which must be empty.
 * Does not write m->arch.  On failure m->g holds a partial graph; the caller
 * frees the model. */
sk_status sk_arch_build(sk_model *m, const sk_arch *a, sk_arch_weight_fn w, void *ctx);
sk_status sk_arch_bert_build(sk_model *m, const sk_arch *a, sk_arch_weight_fn w, void *ctx);
sk_status sk_arch_gpt2_build(sk_model *m, const sk_arch *a, sk_arch_weight_fn w, void *ctx);
/* The LINEAR act attribute for an sk_arch act ("gelu" → "gelu", "gelu_new" →
 * "gelu_tanh", "relu" → "relu"); NULL if unknown. */
const char *sk_arch_linear_act(const char *act);
/* Layer i's heads (a->layer_heads, else a->heads) and attention width (those heads × head size). */
int sk_arch_layer_heads(const sk_arch *a, int i);
int64_t sk_arch_layer_width(const sk_arch *a, int i);

/* ---- for the templates (common.c): a graph builder with a sticky error ----
 * Every call returns -1 once an error happened, so a template reads as a
 * straight list of layers and checks b->st once at the end. */
typedef struct sk_ab {
    sk_model *m;
    sk_arch_weight_fn wfn;
    void *wctx;
    sk_status st;
} sk_ab;

/* A weight by its name (printf-style) with the expected shape; -1 if absent
 * and optional (b->st stays SK_OK). */
int sk_ab_weight(sk_ab *b, bool optional, int rank, const int64_t *dims, const char *fmt, ...) SK_PRINTF(5, 6);
/* A graph input [-1, -1] i64 with dim names d0, d1. */
int sk_ab_input2(sk_ab *b, const char *name, const char *d0, const char *d1);
/* Mark tid a graph output, rename it and name its dynamic dims (NULL-terminated list). */
void sk_ab_output(sk_ab *b, int tid, const char *name, const char *const *dim_names);
/* A constant i64 tensor (data copied). */
int sk_ab_const_i64(sk_ab *b, const char *name, int rank, const int64_t *dims, const int64_t *v);
/* A node with one output, a new activation tensor called name of dtype dt
 * and shape dims[rank]; returns the output's tensor id.  *node (if not NULL)
 * gets the node index for setting attributes. */
int sk_ab_node(sk_ab *b, sk_op op, const char *name, const int *ins, int n_in, sk_dtype dt, int rank,
               const int64_t *dims, int *node);
void sk_ab_set_i(sk_ab *b, int node, const char *attr, int64_t v);
void sk_ab_set_f(sk_ab *b, int node, const char *attr, float v);
void sk_ab_set_s(sk_ab *b, int node, const char *attr, const char *v);
/* y = LINEAR(x, W, bias) with out features n; wt 1 = W [n, K], 0 = W [K, n];
 * act "" or NULL for none.  y has x's shape with the last dim n. */
int sk_ab_linear(sk_ab *b, const char *name, int x, int w, int bias, int wt, int64_t n, const char *act);
/* y = LAYERNORM(x, gamma, beta) over the last dim. */
int sk_ab_layernorm(sk_ab *b, const char *name, int x, int gamma, int beta, float eps);
/* y = a + b elementwise (a's shape). */
int sk_ab_add(sk_ab *b, const char *name, int x, int y);

#endif
