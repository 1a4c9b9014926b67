/* conv.h — the geometry of Conv and the pools (conv.c), shared with their
 * backward functions (src/train/grad_conv.c) so the two can never disagree on
 * padding, strides or ceil_mode.  Not part of the runtime's interface.
 */
#ifndef SK_KERNELS_CONV_H
#define SK_KERNELS_CONV_H

#include "runtime/runtime.h"

/* Spatial dims seen as three (D, H, W): a 1-D input is (1, 1, L), a 2-D one
 * (1, H, W); unused leading dims have size, kernel, stride, dilation 1 and
 * pads 0. */
typedef struct sk_spatial {
    int nd;                       /* spatial dims in the tensor (1..3) */
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} sk_spatial;

/* Conv(X, W, B?): geometry from X's and W's shapes and the attributes
 * (pads, strides, dilations, auto_pad, group); errors name the node. */
sk_status sk_conv_geometry(const sk_kctx *k, sk_spatial *sp, int64_t *group);
/* MaxPool / AveragePool over input 0, with ceil_mode. */
sk_status sk_pool_geometry(const sk_kctx *k, sk_spatial *sp);
/* The window of pool output o (flat index over out[]): taps st[i], st[i] + d[i], ... < en[i]
 * per dim (those outside the input are padding); returns the taps inside input + padding
 * (AveragePool's count_include_pad divisor). */
int64_t sk_pool_window(const sk_spatial *sp, int64_t o, int64_t *st, int64_t *en);
/* col [Cg·kd·kh·kw, od·oh·ow] from x [Cg, D, H, W]; taps in the padding are 0. */
void sk_im2col(float *col, const float *x, int64_t Cg, const sk_spatial *sp);
/* x [Cg, D, H, W] += col [Cg·kd·kh·kw, od·oh·ow]: the adjoint of sk_im2col (Conv's backward). */
void sk_col2im(float *x, const float *col, int64_t Cg, const sk_spatial *sp);

#endif
