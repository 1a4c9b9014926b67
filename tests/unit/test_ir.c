/* test_ir.c — graph building, attributes, the verifier, dtype conversions. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ir/ir.h"
#include "util/util.h"

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

static void test_graph(void)
{
    sk_model *m = sk_model_new();
    sk_graph *g = &m->g;
    int64_t d[2] = {2, 3};
    float *w = sk_malloc(6 * sizeof(float));
    for (int i = 0; i < 6; i++) w[i] = (float)i;
    int x = sk_graph_add_tensor(g, "x", SK_DT_F32, 2, d);
    int c = sk_graph_add_const(g, "w", SK_DT_F32, 2, d, w, true);
    int y = sk_graph_add_tensor(g, "y", SK_DT_F32, 2, d);
    CHECK(sk_graph_add_input(g, x) == SK_OK);
    int ins[2] = {x, c};
    int n = sk_graph_add_node(g, SK_OP_ADD, "add0", ins, 2, &y, 1);
    CHECK(n == 0);
    CHECK(sk_graph_add_output(g, y) == SK_OK);
    CHECK(sk_graph_verify(g) == SK_OK);
    CHECK(sk_node_set_i(&g->nodes[0], "axis", -1) == SK_OK);
    CHECK(sk_node_set_i(&g->nodes[0], "axis", 2) == SK_OK);
    CHECK(g->nodes[0].n_attrs == 1 && sk_node_attr_i(&g->nodes[0], "axis", 0) == 2);
    CHECK(sk_node_set_s(&g->nodes[0], "act", "gelu") == SK_OK);
    CHECK(!strcmp(sk_node_attr_s(&g->nodes[0], "act", ""), "gelu"));
    CHECK(sk_graph_find_tensor(g, "w") == c);
    CHECK(sk_model_params(m, NULL) == 0);   /* w is not flagged as a weight */
    g->tensors[c].flags |= SK_TF_WEIGHT;
    CHECK(sk_model_params(m, NULL) == 6);
    /* a second producer of y must be caught */
    sk_graph_add_node(g, SK_OP_RELU, "relu0", &x, 1, &y, 1);
    CHECK(sk_graph_verify(g) == SK_ERR_INVALID);
    printf("verifier: %s\n", sk_errmsg());
    CHECK(strstr(sk_errmsg(), "produced by both") != NULL);
    g->n_nodes--;  /* the rejected node leaks nothing: free it by hand */
    sk_free(g->nodes[1].name); sk_free(g->nodes[1].in); sk_free(g->nodes[1].out);
    /* arity */
    g->nodes[0].n_in = 1;
    CHECK(sk_graph_verify(g) == SK_ERR_INVALID);
    g->nodes[0].n_in = 2;
    sk_model_free(m);
}

static void test_dtypes(void)
{
    size_t nb;
    CHECK(sk_dtype_nbytes(SK_DT_F32, 10, &nb) && nb == 40);
    CHECK(!sk_dtype_nbytes(SK_DT_F32, INT64_MAX, &nb));
    CHECK(sk_dtype_from_onnx(1) == SK_DT_F32 && sk_dtype_from_st("I64") == SK_DT_I64);
    /* f16 round trip: every finite half survives f16→f32→f16 bit-exactly */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        if (sk_f32_to_f16(sk_f16_to_f32((uint16_t)h)) != h) bad++;
    }
    CHECK(bad == 0);
    CHECK(sk_f16_to_f32(0x3c00) == 1.0f && sk_f32_to_f16(65520.0f) == 0x7c00);
    printf("f16 round trip: %d mismatches of 63488\n", bad);
    CHECK(sk_op_from_name("MatMul") == SK_OP_MATMUL && sk_op_from_name("Attention") == SK_OP_ATTENTION);
}

static void test_alloc_failure(void)
{
    sk_model *m = sk_model_new();
    int64_t d[1] = {4};
    sk_alloc_fail_after(1);
    int t = sk_graph_add_tensor(&m->g, "t", SK_DT_F32, 1, d);
    CHECK(t == -1);
    CHECK(strstr(sk_errmsg(), "out of memory") != NULL);
    sk_alloc_fail_after(0);
    sk_model_free(m);
}

int main(void)
{
    test_graph();
    test_dtypes();
    test_alloc_failure();
    printf("test_ir: %s\n", fails ? "FAILED" : "ok");
    return fails != 0;
}
