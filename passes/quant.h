/* quant.h — what the quantization passes share: the quantizer grid, RTN,
 * GPTQ, AWQ and SmoothQuant on one weight matrix, and the graph side
 * (layers, selection, folding, conversion to quantized LINEAR).
 *
 * Everything here works on W as [N, K] row-major floats (N output channels,
 * K input channels), whatever the layout of the tensor in the graph.  The
 * math functions know nothing about graphs, so the unit test calls them on
 * hand-made matrices (tests/unit/test_quant.c).
 *
 * Conventions (ir.h, quantized LINEAR):
 *   bits 8: per output channel, symmetric: scale = absmax/127,
 *           q = clamp(round(w/scale), -127, 127) in an i8, w ≈ scale·q
 *   bits 4: groups of g consecutive input channels of a row:
 *           symmetric  scale = absmax/7, zero = 8
 *           asymmetric scale = (max − min)/15 over the group with 0 always in
 *                      [min, max], zero = round(−min/scale) in 0..15
 *           q = clamp(round(w/scale) + zero, 0, 15), w ≈ scale·(q − zero)
 *   round() is round-half-to-even (torch.round, ORT), an all-zero group gets
 *   scale 1 and codes equal to its zero.
 */
#ifndef SK_PASSES_QUANT_H
#define SK_PASSES_QUANT_H

#include "shrink-pass.h"
#include "eval/calib.h"   /* staged calibration runs */

typedef struct sk_qspec {
    int bits;               /* 8 or 4 */
    int group;              /* input channels per scale; bits 8: K (per output channel) */
    bool sym;               /* bits 8: always true */
} sk_qspec;

/* One quantized weight W [N, K]. */
typedef struct sk_qmat {
    sk_qspec spec;
    int64_t N, K;
    void *codes;            /* bits 8: int8 [N, K]; bits 4: q4 [N, K], two a byte, element 2i in the low nibble */
    float *scales;          /* [N, K/group] */
    uint8_t *zeros;         /* [N, K/group] (bits 4, asymmetric), else NULL */
} sk_qmat;

sk_status sk_qmat_alloc(sk_qmat *q, const sk_qspec *s, int64_t N, int64_t K);
void sk_qmat_free(sk_qmat *q);                   /* frees the arrays, keeps spec/N/K */
int sk_qmat_code(const sk_qmat *q, int64_t n, int64_t k);   /* raw code (i8 value or 0..15) */
void sk_qmat_dequant(const sk_qmat *q, float *w);           /* w [N, K] */

/* The grid of one group of n values: scale and zero (bits 8: zero 0).  clip
 * in (0, 1] shrinks the range (AWQ's clipping search), 1 = none. */
void sk_quant_grid(const sk_qspec *s, const float *v, int64_t n, float clip, float *scale, int *zero);
int sk_quant_code(const sk_qspec *s, float w, float scale, int zero);
float sk_quant_value(const sk_qspec *s, int code, float scale, int zero);

/* Round to nearest: quantize w [N, K] into q (allocated here).  clip: one
 * ratio per (row, group) [N, K/group], or NULL for none. */
sk_status sk_quant_rtn(const float *w, int64_t N, int64_t K, const sk_qspec *s, const float *clip, sk_qmat *q);

/* GPTQ (REFERENCES.md): H [K, K] symmetric, proportional to XᵀX over the
 * layer's calibration inputs.  Quantizes columns in order (or by decreasing
 * H_ii with act_order, groups then fixed from the unquantized W), pushing each
 * column's error into the columns not yet quantized, with lazy updates in
 * blocks of o->block columns.  *damp_used (may be NULL) gets the damping
 * fraction that made H positive definite (raised tenfold until it is). */
typedef struct sk_gptq_opts {
    double damp;            /* fraction of mean(diag H) added to the diagonal (0.01) */
    int block;              /* lazy update block (128), rounded up to a multiple of the group */
    bool act_order;
} sk_gptq_opts;
sk_status sk_quant_gptq(const float *w, const float *H, int64_t N, int64_t K, const sk_qspec *s,
                        const sk_gptq_opts *o, sk_qmat *q, double *damp_used);

/* AWQ scale search over the layers that share one input X (H ∝ XᵀX [K, K],
 * mean_abs [K] = mean |x_j|): s = mean_abs^α normalised by sqrt(max·min),
 * α in {0, 1/grid, ..., 1}, minimising Σ_layers ‖(W − Q(W·diag s)·diag s⁻¹)X‖²
 * (evaluated as Σ_rows dᵀ H d).  α = 0 is RTN, so the search never does worse
 * than RTN on these inputs.  s [K] gets the best scales. */
typedef struct sk_awq_layer {
    const float *w;         /* [N, K] */
    int64_t N;
    sk_qspec spec;
} sk_awq_layer;
typedef struct sk_awq_result {
    double alpha;           /* best α */
    double loss_rtn;        /* loss at α = 0 */
    double loss;            /* loss at the best α */
} sk_awq_result;
sk_status sk_quant_awq_search(const sk_awq_layer *ls, int n_layers, int64_t K, const float *H, const float *mean_abs,
                              int grid, float *s, sk_awq_result *r);
/* AWQ's clipping search for a 4-bit W [N, K] with input Gram matrix H: per
 * (row, group) the ratio in {1, 0.95, ..., 0.5} minimising dᵀ H_gg d; a row
 * keeps its ratios only when they lower its whole dᵀ H d (else no clipping),
 * so the result is never worse than RTN on H.  Then RTN with them into q. */
sk_status sk_quant_awq_clip(const float *w, int64_t N, int64_t K, const float *H, const sk_qspec *s, sk_qmat *q);
/* The row-major upper factor U of (H)⁻¹ = UᵀU, in place on the K×K
 * symmetric positive definite double matrix a (LAPACK through OpenBLAS);
 * false when a is not positive definite.  GPTQ's and SparseGPT's Hinv. */
bool sk_chol_inv_upper(double *a, int K);
/* ‖(W − Ŵ)X‖² / rows as Σ_n d_nᵀ H d_n, for reports and tests. */
double sk_quant_output_err(const float *w, const float *w_hat, int64_t N, int64_t K, const float *H);

/* SmoothQuant: s_j = xmax_j^α / wmax_j^(1−α) (1 where either is 0), clamped to [1e-5, 1e5]. */
void sk_quant_smooth_scales(const float *xmax, const float *wmax, int64_t K, double alpha, float *s);

/* ---- the graph side (quant.c) ---- */
enum { SK_QM_RTN, SK_QM_GPTQ, SK_QM_AWQ };

/* A layer that can be quantized: a LINEAR with a constant f32 W, or a MatMul
 * / Gemm with a constant 2-D right operand (turned into a LINEAR by
 * sk_qlayer_linearize before anything else touches it). */
typedef struct sk_qlayer {
    int node;               /* index in m->g.nodes */
    int x, w, b;            /* input, weight, bias tensor ids (b = -1: none) */
    bool wt;                /* W stored [N, K] (else [K, N], transposed) */
    int64_t N, K;
    bool head;              /* writes a graph output (LM head, classifier) */
    bool selected;
    sk_qspec spec;
    int method;             /* SK_QM_* */
    int act_bits;           /* 8 = activations quantized at run time (W8A8 / W4A8), 0 = weight-only */
    int stage;              /* number of selected layers on the longest path before it */
    bool quantized;         /* q holds its codes (and W its dequantized values until finalized) */
    bool tied;              /* W is an embedding table, quantized and rewritten with it (quant_embed.c) */
    sk_qmat q;
} sk_qlayer;

/* Candidate layers of m in node order (*out: sk_free; may be empty). */
sk_status sk_qlayers_find(const sk_model *m, sk_qlayer **out, int *n);
/* Mark ls[i].selected: every non-head layer, or those matching an include
 * pattern; the head too when head is true; minus those matching an exclude
 * pattern.  Patterns are globs (* ?) on the node name or the weight name; a
 * pattern matching no candidate is SK_ERR_INVALID:
 *   include pattern 'h.9.*' matches no layer (names like 'h.0.attn.c_attn', weight 'h.0.attn.c_attn.weight') */
sk_status sk_qlayers_select(const sk_model *m, sk_qlayer *ls, int n, const char *const *include, int n_include,
                            const char *const *exclude, int n_exclude, bool head);
/* True if pattern matches layer l's node or weight name. */
bool sk_qlayer_match(const sk_model *m, const sk_qlayer *l, const char *pattern);
/* "the pattern matches nothing" message for a kind ("include") of pattern. */
sk_status sk_qlayer_no_match(const sk_model *m, const sk_qlayer *ls, int n, const char *kind, const char *pattern);
/* Turn a MatMul / Gemm layer into the equivalent LINEAR (alpha, beta and a
 * broadcast C folded into new constants); a LINEAR is left alone. */
sk_status sk_qlayer_linearize(sk_model *m, sk_qlayer *l);
/* A copy of W as [N, K] (sk_free it), and writing [N, K] values back in the
 * tensor's own layout (its data made a private, writable copy first). */
float *sk_qlayer_weight(const sk_model *m, const sk_qlayer *l);
sk_status sk_qlayer_store(sk_model *m, const sk_qlayer *l, const float *w);
/* Stages of the selected layers (ls[i].stage = number of selected layers on
 * the longest path before it; q/k/v share one); returns the last stage, -1
 * when none is selected, -2 on OOM.  For passes that need each layer's
 * inputs from the already-rewritten layers before it (GPTQ, SparseGPT). */
int sk_qlayers_stages(const sk_model *m, sk_qlayer *ls, int n);
/* Where the calibration run of stage s may be cut for the run of stage next
 * (sk_calib_stages_run's keep): the first node that reads a tensor that the
 * stages s .. next - 1 change, i.e. their selected layers' weights and, for
 * AWQ layers, the constants of the node their scales fold into (a norm, or a
 * linear before them).  m->g.n_nodes when none is read; 0 when out of
 * memory (no cut). */
int sk_qlayers_keep(const sk_model *m, const sk_qlayer *ls, int n, int s, int next);
/* Make tensor tid's data private and writable (a copy when it was borrowed). */
sk_status sk_quant_own(sk_model *m, int tid);
/* Replace l's LINEAR by the quantized form of ir.h from l->q (W becomes
 * i8 / q4 [N, K] with scales and zeros tensors); frees l->q. */
sk_status sk_qlayer_finalize(sk_model *m, sk_qlayer *l);
/* Tensor w becomes q: i8 / q4 [N, K] with quant{...}, its scales and zeros
 * new tensors <w>.scales ([N] for int8 with one group a row, else
 * [N, ceil(K/group)]) and <w>.zeros (*zid -1 without); the graph takes q's
 * arrays (freed on failure). */
sk_status sk_qmat_store(sk_graph *g, int w, sk_qmat *q, int *sid, int *zid);
/* Node nd's inputs at and at + 1 become the scales and zeros (absent: the
 * node has at + 1 inputs), attrs bits and group (a quantized Gather: at 2). */
sk_status sk_qnode_attach(sk_graph *g, int nd, int at, int sid, int zid, const sk_qspec *s);
/* LINEAR node nd reads the quantized W: inputs (x, w, b, sid, zid), attrs
 * wt 1, bits, group, act_bits. */
sk_status sk_qlinear_attach(sk_graph *g, int nd, int w, int b, int sid, int zid, const sk_qspec *s, int act_bits);

/* ---- embedding tables (quant_embed.c) ----
 * A table is a constant f32 [V, H] read by Gather on axis 0.  bits 8: one
 * scale per row; bits 4: groups of `group` along the row (the last one may
 * be shorter), as LINEAR's int4.  A table that is also the W of a candidate
 * LINEAR (GPT-2's LM head, wt = 1: [N, K] = [V, H]) is quantized once and
 * both read it: with the layer's own spec when the layer is selected (RTN,
 * no SmoothQuant), else with the table's spec and the pass's act_bits (an
 * fp32 head's weights cannot stay fp32 when the table they are is not).
 * A selected head that GPTQ, AWQ or SmoothQuant will change gets its own
 * copy of W first, so they never touch the embedding. */
typedef struct sk_qtable_opts {
    int bits;               /* 8 or 4; 0 = tables stay fp32 (ties are still undone where needed) */
    int group;              /* bits 4 */
    bool sym;               /* bits 4 */
    int act_bits;           /* of an unselected LINEAR tied to a table (the pass's act_bits) */
    bool smooth;            /* SmoothQuant will rescale the 8-bit layers */
    bool asked;             /* the user asked for it (a model without tables gets a note) */
} sk_qtable_opts;
/* Quantize m's tables and rewrite their Gathers (and tied LINEARs: ls[i].tied,
 * a shared selected one is no longer selected).  Notes say what was done. */
sk_status sk_qtables_run(sk_pass_ctx *c, sk_model *m, sk_qlayer *ls, int n, const sk_qtable_opts *o);
/* RTN of a table w [V, H]: scales [V, ceil(H/group)] (bits 8: group = H),
 * zeros for asymmetric int4; equal to sk_quant_rtn when group divides H. */
sk_status sk_qtable_rtn(const float *w, int64_t V, int64_t H, const sk_qspec *s, sk_qmat *q);

/* Statistics of one layer input over the calibration samples. */
typedef struct sk_qstat {
    int x;                  /* tensor id */
    int64_t K, rows;
    int owner;              /* the node whose execution updates it */
    float *mean_abs;        /* [K] mean |x_j| */
    float *max_abs;         /* [K] max |x_j| */
    float *H;               /* [K, K] XᵀX / rows, or NULL when not asked for */
    float *mean_sq;         /* [K] mean x_j² (Wanda's ‖X_j‖² / rows; prune.c) */
} sk_qstat;
/* Run the calibration samples (stopping after the last of these layers) and
 * collect the statistics of the distinct inputs of ls[idx[0..n_idx)].  With
 * r NULL every sample runs from the model's inputs (c->calib_run); else the
 * run continues the previous one of r and is cut at keep for the next
 * (sk_calib_stages_run, sk_qlayers_keep).  *out: sk_qstats_free. */
sk_status sk_qstats_collect(sk_pass_ctx *c, const sk_model *m, const sk_qlayer *ls, const int *idx, int n_idx,
                            bool want_H, sk_calib_stages *r, int keep, sk_qstat **out, int *n_out);
void sk_qstats_free(sk_qstat *s, int n);

/* A per-channel rescaling x' = x / s of a layer input folded into what
 * produces x: a LayerNorm / SkipLayerNorm's gamma and beta, or output
 * channels [off, off + K) of an earlier LINEAR (through an Attention's value
 * input, a Split of it, or a ReLU).  kind 0 = none, why says why not. */
typedef struct sk_fold {
    int kind;               /* 0 none, 1 norm, 2 linear rows */
    int node;               /* the norm or the LINEAR */
    int64_t off;            /* linear rows: first output channel */
    const char *reason;     /* kind 0: the class of why, for grouping notes ("the input also feeds other nodes") */
    char why[256];          /* kind 0: the particulars */
} sk_fold;
/* Where the input x of the LINEAR nodes cons[0..n) may fold a scale; every
 * consumer of x must be among them. */
void sk_quant_find_fold(const sk_model *m, int x, const int *cons, int n, sk_fold *f);
/* Notes about layers that could not be rescaled, grouped by reason: one
 * note per reason with a count and the first example. */
typedef struct sk_foldnotes {
    struct { const char *reason; int layers; char first[400]; } r[8];
    int n;
} sk_foldnotes;
void sk_foldnotes_add(sk_foldnotes *fn, const sk_fold *f, const char *layer, int n_layers);
/* "<what>: N layers: <reason> (e.g. <layer>: <why>)" for each reason. */
void sk_foldnotes_emit(sk_pass_ctx *c, const sk_foldnotes *fn, const char *what);
/* x' = x / s: divide the fold target by s and multiply the columns of W of
 * every layer in ls[idx[0..n_idx)] by s.  Layers of ls that are already
 * quantized and are the target get their scales divided too. */
sk_status sk_quant_apply_fold(sk_model *m, const sk_fold *f, const float *s, int64_t K, sk_qlayer *ls, int n,
                              const int *idx, int n_idx);

/* SmoothQuant over the layers ls[idx[0..n_idx)] (quant_int8.c): statistics,
 * then per input shared by a group of them s from max|X| and max|W|, folded.
 * Layers whose input cannot absorb a scale are left as they are, with a
 * note.  *n_done gets how many layers were smoothed. */
sk_status sk_quant_smooth(sk_pass_ctx *c, sk_model *m, sk_qlayer *ls, int n, const int *idx, int n_idx, double alpha,
                          int *n_done);

#endif
