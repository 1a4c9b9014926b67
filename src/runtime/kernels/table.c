/* table.c — the shape-function and kernel tables, built from ops.def.
 *
 * A row in ops.def without sk_shape_<ID> and sk_kern_<ID> fails the link.
 */
#include "runtime/runtime.h"

const sk_shape_fn sk_shape_table[SK_OP_COUNT] = {
#define X(id, onnx, min_in, max_in, min_out, max_out, flags) [SK_OP_##id] = sk_shape_##id,
#include "ir/ops.def"
#undef X
};

const sk_kern_fn sk_kern_table[SK_OP_COUNT] = {
#define X(id, onnx, min_in, max_in, min_out, max_out, flags) [SK_OP_##id] = sk_kern_##id,
#include "ir/ops.def"
#undef X
};
