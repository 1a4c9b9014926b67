/* prune.h — what the pruning passes share with each other, the CLI and the
 * unit test: the checks of the user's options, the math on one weight matrix
 * (magnitude, Wanda, SparseGPT, N:M), and structured pruning's scores.
 *
 * Matrices are W [N, K] row-major floats (N outputs, K inputs), whatever the
 * tensor's layout in the graph (quant.h's sk_qlayer_weight / _store convert).
 * "N:M" follows REFERENCES.md: the N lowest-scored of every M consecutive
 * inputs of a row are dropped (2:4 and 4:8 keep half).  Dropping k of n
 * values drops exactly k (ties broken by position, first first), with
 * k = floor(sparsity · n).
 */
#ifndef SK_PASSES_PRUNE_H
#define SK_PASSES_PRUNE_H

#include "quant.h"

/* ---- options, checked before any work (prune.c) ---- */
/* SK_ERR_INVALID "sparsity 1 is outside [0, 1)" unless 0 <= s < 1. */
sk_status sk_prune_check_sparsity(double s);
/* Parse "N:M" (0 < N < M <= 256).  "" gives *n = *m = 0 (no N:M).  Errors:
 *   nm '2-4' is not N:M (two integers, e.g. 2:4)
 *   nm '4:4': N must be smaller than M (N of every M consecutive weights are dropped) */
sk_status sk_prune_parse_nm(const char *s, int *n, int *m);
/* A fraction of heads / FFN neurons to remove: [0, 1). what names it ("heads"). */
sk_status sk_prune_check_fraction(const char *what, double f);

/* ---- one matrix (prune.c) ---- */
/* Mark in drop[0..n) exactly the k lowest scores (ties: lower index first). */
sk_status sk_prune_lowest(const float *score, int64_t n, int64_t k, uint8_t *drop);
/* Zero the dropped weights of w [N, K] by score [N, K]:
 *   nm_m == 0, per_row false: the lowest floor(s·N·K) of the whole matrix;
 *   nm_m == 0, per_row true:  the lowest floor(s·K) of each row;
 *   nm_m > 0:                 the nm_n lowest of every nm_m consecutive inputs of each row (K % nm_m == 0).
 * Returns the number of weights zeroed (or -1 on OOM, error set). */
int64_t sk_prune_by_score(float *w, const float *score, int64_t N, int64_t K, double s, bool per_row, int nm_n,
                          int nm_m);
/* Magnitude (score |w|, over the matrix) and Wanda (score |w_ij|·‖X_j‖₂, per
 * row; xnorm [K] = ‖X_j‖₂ over calibration tokens or anything proportional). */
int64_t sk_prune_magnitude(float *w, int64_t N, int64_t K, double s, int nm_n, int nm_m);
int64_t sk_prune_wanda(float *w, const float *xnorm, int64_t N, int64_t K, double s, int nm_n, int nm_m);

/* SparseGPT (Frantar & Alistarh 2023; REFERENCES.md) on w [N, K] in place: H
 * [K, K] ∝ XᵀX of the layer's calibration inputs, damped by damp·mean(diag
 * H) (raised tenfold until H is positive definite; *damp_used, may be NULL);
 * U = upper Cholesky factor of H⁻¹.  Columns in blocks of `block`: the mask
 * of a block is its lowest floor(s·N·block) scores w²/U_cc² (with N:M: the
 * nm_n lowest of every nm_m columns of each row, chosen when the sweep reaches
 * them); each column's pruning error (w − q)/U_cc is pushed into the later
 * columns through row c of U, lazily (one GEMM per block) beyond the block.
 * Inputs never active in calibration (H_kk = 0) get zero weights. */
typedef struct sk_sparsegpt_opts {
    double damp;            /* 0.01 */
    int block;              /* 128 (a multiple of nm_m) */
} sk_sparsegpt_opts;
sk_status sk_prune_sparsegpt(float *w, const float *H, int64_t N, int64_t K, double s, int nm_n, int nm_m,
                             const sk_sparsegpt_opts *o, int64_t *n_zero, double *damp_used);

/* Zeros (== 0.0f, so -0.0 too) among the n floats of w. */
int64_t sk_prune_count_zeros(const float *w, int64_t n);

/* ---- graph helpers (prune.c) ---- */
/* Number of (node, input) uses of tensor t. */
int sk_prune_uses(const sk_graph *g, int t);
/* Make input slot of node a constant of its own, private and writable: a
 * copy under a new name when another node uses it too (sk_quant_own else). */
sk_status sk_prune_unshare(sk_model *m, int node, int slot);

#endif
