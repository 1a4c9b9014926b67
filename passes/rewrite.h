/* rewrite.h — what the graph-rewriting passes (fold.c, fuse.c) share: an
 * index of producers and consumers, node replacement with a stable
 * re-sort, dead-code elimination with id compaction (rewrite.c), and
 * symbolic shapes (symshape.c).
 *
 * A rewrite appends its new nodes (sk_graph_add_node), kills the nodes they
 * replace (sk_rw_kill) and then calls sk_rw_commit, which drops killed and
 * dead nodes, puts the rest back in a topological order that keeps the
 * original order wherever it can, drops tensors nothing refers to any more
 * and rebuilds the index.  Tensor and node ids held across a commit are
 * stale.  Nothing here knows about patterns; the passes do.
 */
#ifndef SK_PASSES_REWRITE_H
#define SK_PASSES_REWRITE_H

#include "shrink-pass.h"

/* ---- symbolic dims (symshape.c) ----
 * A dim (or a small integer value, such as an element of a Shape) known for
 * every input shape as c · s0 · s1 ·…: a constant times a product of
 * symbols.  Dynamic graph-input dims with the same name share a symbol
 * ("batch"), anything unknown gets a fresh symbol, so two monomials that
 * compare equal are equal for every input. */
#define SK_MONO_SYMS 4
typedef struct sk_mono {
    int64_t c;                      /* coefficient (0: the value 0, n = 0) */
    int n;                          /* symbols in s */
    int32_t s[SK_MONO_SYMS];        /* symbol ids, sorted, repeats allowed */
} sk_mono;

#define SK_SYM_MAXVAL 8
typedef struct sk_sym {             /* what is known of one tensor for any input shape */
    sk_dtype dtype;                 /* SK_DT_UNDEF = unknown */
    int rank;                       /* -1 = unknown */
    sk_mono dims[SK_MAX_RANK];
    int nval;                       /* -1: value unknown; else elements in val (a small integer tensor) */
    sk_mono val[SK_SYM_MAXVAL];
} sk_sym;

typedef struct sk_symtab {
    sk_sym *t;                      /* [n] one per tensor of the graph it was inferred on */
    int n;
    int next;                       /* next fresh symbol */
} sk_symtab;

/* Infer *s for every tensor of g (nodes in order); s is (re)filled. */
sk_status sk_sym_infer(const sk_graph *g, sk_symtab *s);
void sk_sym_free(sk_symtab *s);
bool sk_mono_eq(const sk_mono *a, const sk_mono *b);
bool sk_mono_is(const sk_mono *a, int64_t v);          /* the constant v */
bool sk_mono_const(const sk_mono *a, int64_t *v);      /* a constant: *v = it */
/* All dims known as constants: numel into *n (may be NULL). */
bool sk_sym_static(const sk_sym *t, int64_t *n);
/* The dims of a and b are equal (same rank, every dim equal). */
bool sk_sym_same_dims(const sk_sym *a, const sk_sym *b);
/* "[batch, 12, sequence, 64]" style text of t's dims, for notes. */
void sk_sym_str(const sk_symtab *s, const sk_sym *t, char *buf, size_t cap);

/* ---- index and edits (rewrite.c) ---- */
typedef struct sk_rw {
    sk_model *m;
    int n_nodes, n_tensors;         /* sizes the index was built for */
    int *prod;                      /* [n_tensors] producing node, -1 for inputs, constants, dangling */
    int *cons_at, *cons;            /* consumers of t: cons[cons_at[t] .. cons_at[t+1]) (a node once per input slot) */
    bool *is_out;                   /* [n_tensors] graph output */
    bool *dead;                     /* [cap] nodes killed since the last commit */
    int *prio;                      /* [cap] order key for the re-sort (the node a new one replaces) */
    int cap;
} sk_rw;

/* Build the index of m (rw is overwritten; free with sk_rw_free). */
sk_status sk_rw_init(sk_rw *rw, sk_model *m);
void sk_rw_free(sk_rw *rw);
/* Consumers of tensor t: *n of them (killed nodes included: check rw->dead). */
const int *sk_rw_cons(const sk_rw *rw, int t, int *n);
/* Live (not killed) consumer slots of t, plus one if t is a graph output. */
int sk_rw_uses(const sk_rw *rw, int t);
/* The producer of t when it is a live node of op op, else -1. */
int sk_rw_def(const sk_rw *rw, int t, sk_op op);
/* Mark node n killed; a node appended later may take its place in the order. */
sk_status sk_rw_kill(sk_rw *rw, int n);
/* Register node n (just appended) as taking the place of node old in the order. */
sk_status sk_rw_place(sk_rw *rw, int n, int old);
/* Every live consumer of tensor from reads tensor to instead; a graph output
 * from stays what it is unless it can be renamed: then its producer writes
 * the output tensor, i.e. to is removed in from's favour (false when neither
 * works: from is an output and to a graph input or constant). */
bool sk_rw_forward(sk_rw *rw, int from, int to);
/* True if some node outside the set (in_set[node] true = in it), not
 * killed, reading tensor t, leads to a graph output without passing through
 * the set: t is then needed even when the set is removed. */
bool sk_rw_needed(const sk_rw *rw, int t, const bool *in_set);
/* Drop killed nodes and nodes no graph output depends on, re-sort the rest
 * topologically (stable by prio), drop tensors nothing refers to, and rebuild
 * the index.  *removed (may be NULL) gets the count of nodes dropped. */
sk_status sk_rw_commit(sk_rw *rw, int *removed);

/* A new f32 / i64 constant (data copied), named "<base>.<suffix>" made
 * unique; returns its id or -1 (error set). */
int sk_rw_const_f32(sk_model *m, const char *base, const char *suffix, int rank, const int64_t *dims, const float *v);
int sk_rw_const_i64(sk_model *m, const char *base, const char *suffix, int rank, const int64_t *dims, const int64_t *v);
/* A new activation tensor named "<base>.<suffix>" (unique), typed from sym
 * when it is known (dims that are not constants stay dynamic). */
int sk_rw_tensor(sk_model *m, const char *base, const char *suffix, const sk_sym *sym);
/* The value of a constant scalar (one element, any plain dtype) in *v. */
bool sk_rw_scalar(const sk_graph *g, int t, double *v);
/* Node n's integer list: INTS attribute attr, or else its constant input idx
 * (rank ≤ 1, integer dtype); false when neither.  At most max values. */
bool sk_rw_ints(const sk_graph *g, const sk_node *n, const char *attr, int idx, int64_t *v, int max, int *cnt);

/* ---- the fold pass as a step of other passes (fold.c) ---- */
typedef struct sk_fold_stats {
    int folded;                     /* nodes evaluated into constants */
    int shapes;                     /* shape values made constant (dims known for any input) */
    int identities;                 /* Identity / Dropout / same-dtype Cast removed */
    int reshapes;                   /* Reshape chains collapsed or no-op Reshapes removed */
    int transposes;                 /* Transpose pairs merged, or folded into a MatMul */
    int dead;                       /* nodes removed by dead-code elimination */
} sk_fold_stats;
/* Run fold over m until nothing changes; *st (may be NULL) accumulates.
 * chains = false keeps Reshape chains as they are (fuse matches on them
 * before it folds them). */
sk_status sk_fold_graph(sk_model *m, bool chains, sk_fold_stats *st);

#endif
