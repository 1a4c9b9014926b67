/* runtime.h — the executor: sessions, plans, kernels.
 *
 * A session is a model planned for fixed input shapes: shape inference node
 * by node (constant subgraphs such as Shape→Gather→Concat are evaluated at
 * plan time), liveness-based buffer reuse in one arena, then execution in
 * node order.  The runtime knows ops and dtypes, not where a model came from.
 */
#ifndef SK_RUNTIME_H
#define SK_RUNTIME_H

#include "ir/ir.h"
#include "util/util.h"

/* A tensor as the runtime sees it: concrete shape, bytes to read or write. */
typedef struct sk_rtensor {
    sk_dtype dtype;
    int rank;
    int64_t dims[SK_MAX_RANK];
    void *data;             /* set before the kernel runs */
    size_t nbytes;
    bool is_const;          /* value known at plan time (weight or folded) */
} sk_rtensor;

int64_t sk_rt_numel(const sk_rtensor *t);

/* What a shape function and a kernel get. */
typedef struct sk_kctx {
    struct sk_session *s;
    const sk_graph *g;
    const sk_node *node;
    sk_rtensor **in;  int n_in;    /* in[k] is NULL for an absent optional input */
    sk_rtensor **out; int n_out;   /* out[k] is NULL for an unused optional output */
    sk_pool *pool;                 /* threads for the kernel (sk_pool_run) */
    /* Scratch: a shape function sets scratch_need (bytes); the kernel then
     * gets that many bytes, 64-aligned, in scratch (shared across nodes). */
    size_t scratch_need;
    void *scratch;
    /* Per-node state that lives as long as the session (the KV cache of an
     * Attention node); the kernel allocates it with sk_malloc, the session
     * frees it with sk_free. */
    void **state;
    /* Generation with a KV cache: kv_cache is set, past is the number of
     * positions already in the cache, max_pos its capacity. */
    bool kv_cache;
    int64_t past, max_pos;
} sk_kctx;

/* Shape function: set dtype/rank/dims of each out[k] from the inputs.  It may
 * read in[k]->data only when in[k]->is_const (e.g. Reshape's shape).  Errors
 * name the node: sk_err(SK_ERR_INVALID, "node '%s' (Reshape): ...", k->node->name). */
typedef sk_status (*sk_shape_fn)(sk_kctx *k);
/* Kernel: compute out[k]->data from in[k]->data. */
typedef sk_status (*sk_kern_fn)(sk_kctx *k);

#define X(id, onnx, min_in, max_in, min_out, max_out, flags) \
    sk_status sk_shape_##id(sk_kctx *k); sk_status sk_kern_##id(sk_kctx *k);
#include "ir/ops.def"
#undef X

extern const sk_shape_fn sk_shape_table[SK_OP_COUNT];
extern const sk_kern_fn sk_kern_table[SK_OP_COUNT];

/* Helpers for shape functions (kernels/common.c). */
/* numpy broadcasting of a and b into out (dims, rank); error names the node */
sk_status sk_broadcast_shape(const sk_kctx *k, const sk_rtensor *a, const sk_rtensor *b, sk_rtensor *out);
/* read element i of an integer tensor (i64/i32/...) as int64 */
int64_t sk_rt_get_i(const sk_rtensor *t, int64_t i);
void sk_rt_set_shape(sk_rtensor *t, sk_dtype dt, int rank, const int64_t *dims);
/* normalise a possibly negative axis against rank; false if out of range */
bool sk_norm_axis(int64_t *axis, int rank);
/* Record "node 'NAME' (Op): <message>" and return st. */
sk_status sk_kerr(const sk_kctx *k, sk_status st, const char *fmt, ...) SK_PRINTF(3, 4);
/* Inputs 0..n_req-1 and output 0 are present (an absent required input is the model's error). */
sk_status sk_kcheck(const sk_kctx *k, int n_req);
/* The integers of input idx when it is present — it must then be constant (is_const), of an integer
 * dtype and rank ≤ 1 — else of the INTS attribute attr (may be NULL); *n = -1 when there is neither.
 * At most max values.  `what` names the input in errors ("shape" → "shape input is not constant"). */
sk_status sk_kints(const sk_kctx *k, int idx, const char *attr, const char *what, int64_t *v, int max, int *n);
/* fn(ctx, lo, hi) over contiguous ranges covering [0, n), one range per thread of k->pool but no
 * range shorter than grain items (so small n runs inline on the caller). */
void sk_kpar(const sk_kctx *k, int64_t n, int64_t grain, void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx);

/* Strided N-d loops: a contiguous output of shape dims and up to 3 operands read through element
 * strides (0 = broadcast along that dim, negative = reversed).  sk_nd_run calls
 *   row(ctx, pos, off, step, n)
 * for runs of n ≤ dims[rank-1] outputs starting at output element pos, operand j's first element at
 * element offset off[j] and its next ones step[j] apart.  Runs are split across k->pool by grain. */
typedef struct sk_nd {
    int rank, nops;
    int64_t dims[SK_MAX_RANK];
    int64_t st[3][SK_MAX_RANK];
} sk_nd;
typedef void (*sk_nd_row)(void *ctx, int64_t pos, const int64_t *off, const int64_t *step, int64_t n);
void sk_nd_init(sk_nd *it, int rank, const int64_t *dims);
/* Add operand t, numpy-broadcast (right-aligned) to the loop's dims; returns its index. */
int sk_nd_bcast(sk_nd *it, const sk_rtensor *t);
/* Drop size-1 dims and merge neighbours across which every operand is contiguous. */
void sk_nd_coalesce(sk_nd *it);
void sk_nd_run(const sk_kctx *k, const sk_nd *it, int64_t grain, sk_nd_row row, void *ctx);

/* ---- sessions ---- */
typedef struct sk_session_opts {
    int threads;        /* 0 = sk_default_threads() */
    bool kv_cache;      /* GPT-2 generation: Attention nodes keep K/V across runs */
    int64_t max_pos;    /* capacity of the KV cache (0 = model's max positions) */
} sk_session_opts;

/* Create a session for m (which must outlive it). *out is the caller's. */
sk_status sk_session_new(const sk_model *m, const sk_session_opts *o, sk_session **out);
void sk_session_free(sk_session *s);
/* Bind input `name` (a graph input) to caller-owned data of the given shape;
 * the data is read during sk_session_run only.  Integer inputs are converted
 * to the dtype the graph declares. */
sk_status sk_session_set_input(sk_session *s, const char *name, sk_dtype dt, int rank, const int64_t *dims,
                               const void *data);
/* Plan (if input shapes changed since the last run) and execute.  Inputs the
 * caller did not bind get defaults when the model has them: attention_mask =
 * ones, token_type_ids = zeros, position_ids = past + arange(S). */
sk_status sk_session_run(sk_session *s);
int sk_session_n_outputs(const sk_session *s);
const char *sk_session_output_name(const sk_session *s, int i);
/* Output i after a run; valid until the next run.  NULL if i is out of range. */
const sk_rtensor *sk_session_output(const sk_session *s, int i);
/* KV cache: positions held, and reset to empty. */
int64_t sk_session_past(const sk_session *s);
void sk_session_reset(sk_session *s);
/* Bytes of the activation arena of the current plan. */
size_t sk_session_arena_bytes(const sk_session *s);
/* Calibration hooks (passes): fn(ctx, node, k) is called after each executed
 * node (k->in / k->out hold its tensors, valid during the call only; nodes
 * folded at plan time are not executed).  NULL fn removes the observer.  With
 * a stop node >= 0, a run ends after the last executed node whose index is
 * <= stop; outputs are then not computed (-1 = run to the end, the default). */
typedef void (*sk_session_observer)(void *ctx, int node, const sk_kctx *k);
void sk_session_set_observer(sk_session *s, sk_session_observer fn, void *ctx);
void sk_session_set_stop(sk_session *s, int node);
/* skip[node] != 0 (an array of the graph's node count, the caller's, NULL =
 * none): the node is not executed; fn still sees it, its inputs valid and its
 * outputs unwritten.  For observing a layer's inputs on the last run before
 * the layer changes: the caller makes sure no node that runs reads them. */
void sk_session_set_skip(sk_session *s, const uint8_t *skip);
/* Cutting a run at graph node `node` and continuing it (staged calibration):
 * after a run that stopped before node, sk_session_save copies the
 * activations that node and later nodes read from earlier ones into *buf
 * (reallocated with sk_aligned_alloc when *cap is too small; the caller
 * sk_free's it), *n bytes.  sk_session_load puts them back into a session on
 * the same model with the same inputs bound (planning it), checking that they
 * fit; sk_session_run_from(s, node) then runs only the nodes from node on (up
 * to the stop node) and computes what a whole run would have.  Node state such
 * as packed weights is per session: a fresh session sees changed weights.
 * sk_session_run(s) is sk_session_run_from(s, 0). */
sk_status sk_session_save(const sk_session *s, int node, void **buf, size_t *n, size_t *cap);
sk_status sk_session_load(sk_session *s, int node, const void *buf, size_t n);
sk_status sk_session_run_from(sk_session *s, int node);

#endif
