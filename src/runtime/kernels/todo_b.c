/* todo_b.c — TEMPORARY: ops whose kernels are not written yet. Delete a
 * line when the op's real shape function and kernel exist; delete the file when empty. */
#include "runtime/runtime.h"

#define TODO(id) \
    sk_status sk_shape_##id(sk_kctx *k) { return sk_err(SK_ERR_UNSUPPORTED, "node '%s': op " #id " has no kernel yet", k->node->name); } \
    sk_status sk_kern_##id(sk_kctx *k) { return sk_err(SK_ERR_UNSUPPORTED, "node '%s': op " #id " has no kernel yet", k->node->name); }

TODO(MATMUL)
TODO(GEMM)
TODO(CONV)
TODO(MAX_POOL)
TODO(AVG_POOL)
TODO(GLOBAL_AVG_POOL)
TODO(BATCHNORM)
TODO(LSTM)
TODO(GRU)
TODO(RNN)
TODO(LAYERNORM)
TODO(GELU)
TODO(LINEAR)
TODO(ATTENTION)
TODO(SKIP_LAYERNORM)
