/* test_onnx.c — the ONNX importer (formats/onnx.c), good and bad input.
 *
 * Models are built in memory with the protobuf-c API, packed, written to a
 * temporary folder and loaded back: the good ones check what the IR holds
 * (typed fields, raw_data, external data, Constant forms, dynamic dims, the
 * rewrites), the bad ones check the exact error each produces.  Every prefix
 * of a good file and every single allocation failure must fail cleanly.
 *
 *   test_onnx                 run the checks
 *   test_onnx --summary FILE  print the imported graph as JSON (for
 *                             tests/py/test_onnx_import.py, which compares it
 *                             with the onnx package's view of FILE)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "formats.h"
#include "onnx.pb-c.h"
#include "util/util.h"

static int fails, checks;
#define CHECK(c) do { checks++; if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

/* ---- building ModelProtos (everything malloc'd, freed by free_unpacked) ---- */
static char tmpdir[64];

static void *xalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) { perror("calloc"); exit(2); }
    return p;
}

static char *xstrdup(const char *s) { return strcpy(xalloc(strlen(s) + 1), s); }

#define PUSH(arr, n, item) do { \
        (arr) = realloc((arr), ((n) + 1) * sizeof *(arr)); \
        if (!(arr)) { perror("realloc"); exit(2); } \
        (arr)[(n)++] = (item); \
    } while (0)

static Onnx__TensorProto *tensor_new(const char *name, int onnx_type, int rank, const int64_t *dims)
{
    Onnx__TensorProto *t = xalloc(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = xstrdup(name);
    t->has_data_type = 1;
    t->data_type = onnx_type;
    t->n_dims = (size_t)rank;
    t->dims = xalloc((size_t)rank * sizeof *t->dims);
    if (rank) memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    return t;
}

static void tensor_raw(Onnx__TensorProto *t, const void *data, size_t n)
{
    t->has_raw_data = 1;
    t->raw_data.len = n;
    t->raw_data.data = xalloc(n);
    if (n) memcpy(t->raw_data.data, data, n);
}

static Onnx__TensorProto *tensor_f32(const char *name, int rank, const int64_t *dims, const float *v, size_t n)
{
    Onnx__TensorProto *t = tensor_new(name, 1, rank, dims);
    tensor_raw(t, v, n * sizeof *v);
    return t;
}

static void tensor_ext(Onnx__TensorProto *t, const char *loc, const char *off, const char *len)
{
    const char *kv[3][2] = {{"location", loc}, {"offset", off}, {"length", len}};
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    for (int i = 0; i < 3; i++) {
        if (!kv[i][1]) continue;
        Onnx__StringStringEntryProto *e = xalloc(sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = xstrdup(kv[i][0]);
        e->value = xstrdup(kv[i][1]);
        PUSH(t->external_data, t->n_external_data, e);
    }
}

/* A graph input/output: dims < 0 are dynamic, named by params[i] when set. */
static Onnx__ValueInfoProto *vinfo(const char *name, int onnx_type, int rank, const int64_t *dims, const char **params)
{
    Onnx__ValueInfoProto *v = xalloc(sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = xstrdup(name);
    if (onnx_type < 0) return v;
    v->type = xalloc(sizeof *v->type);
    onnx__type_proto__init(v->type);
    v->type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    v->type->tensor_type = xalloc(sizeof *v->type->tensor_type);
    onnx__type_proto__tensor__init(v->type->tensor_type);
    v->type->tensor_type->has_elem_type = 1;
    v->type->tensor_type->elem_type = onnx_type;
    if (rank < 0) return v;
    Onnx__TensorShapeProto *s = xalloc(sizeof *s);
    onnx__tensor_shape_proto__init(s);
    v->type->tensor_type->shape = s;
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = xalloc(sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        } else if (params && params[i]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = xstrdup(params[i]);
        }
        PUSH(s->dim, s->n_dim, d);
    }
    return v;
}

/* A node; ins and outs are comma-separated names ("x,,w" has an empty one). */
static Onnx__NodeProto *node(Onnx__GraphProto *g, const char *op, const char *name, const char *ins, const char *outs)
{
    Onnx__NodeProto *n = xalloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = xstrdup(op);
    if (name) n->name = xstrdup(name);
    for (int k = 0; k < 2; k++) {
        const char *s = k ? outs : ins;
        if (!s || !*s) continue;
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            char *nm = xalloc(len + 1);
            memcpy(nm, s, len);
            if (k) PUSH(n->output, n->n_output, nm);
            else PUSH(n->input, n->n_input, nm);
            if (!comma) break;
            s = comma + 1;
        }
    }
    PUSH(g->node, g->n_node, n);
    return n;
}

static Onnx__AttributeProto *attr(Onnx__NodeProto *n, const char *name, Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = xalloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = xstrdup(name);
    a->has_type = 1;
    a->type = type;
    PUSH(n->attribute, n->n_attribute, a);
    return a;
}

static void attr_i(Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static Onnx__ModelProto *model_new(int64_t opset)
{
    Onnx__ModelProto *m = xalloc(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->producer_name = xstrdup("test_onnx");
    Onnx__OperatorSetIdProto *o = xalloc(sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = xstrdup("");
    o->has_version = 1;
    o->version = opset;
    PUSH(m->opset_import, m->n_opset_import, o);
    m->graph = xalloc(sizeof *m->graph);
    onnx__graph_proto__init(m->graph);
    m->graph->name = xstrdup("g");
    return m;
}

static char *tmp_path(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f)) { perror(path); exit(2); }
}

static uint8_t *pack(const Onnx__ModelProto *m, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = xalloc(*len);
    onnx__model_proto__pack(m, buf);
    return buf;
}

/* Pack m into tmpdir/name, free m, return the path. */
static const char *save(Onnx__ModelProto *m, const char *name)
{
    size_t len;
    uint8_t *buf = pack(m, &len);
    const char *path = tmp_path(name);
    write_bytes(path, buf, len);
    free(buf);
    onnx__model_proto__free_unpacked(m, NULL);
    return path;
}

/* The small good model: Y = X·W + B, X [batch, 3]. */
static const float W_VALS[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static Onnx__ModelProto *model_basic(int64_t opset)
{
    Onnx__ModelProto *m = model_new(opset);
    Onnx__GraphProto *g = m->graph;
    int64_t xd[2] = {-1, 3}, wd[2] = {3, 4}, bd[1] = {4}, yd[2] = {-1, 4};
    const char *xp[2] = {"batch", NULL};
    PUSH(g->input, g->n_input, vinfo("X", 1, 2, xd, xp));
    PUSH(g->initializer, g->n_initializer, tensor_f32("W", 2, wd, W_VALS, 12));
    Onnx__TensorProto *b = tensor_new("B", 1, 1, bd);
    b->n_float_data = 4;
    b->float_data = xalloc(4 * sizeof(float));
    for (int i = 0; i < 4; i++) b->float_data[i] = 0.5f * (float)i;
    PUSH(g->initializer, g->n_initializer, b);
    node(g, "MatMul", "mm0", "X,W", "XW");
    node(g, "Add", "add0", "XW,B", "Y");
    PUSH(g->output, g->n_output, vinfo("Y", 1, 2, yd, xp));
    return m;
}

static const sk_tensor *find(const sk_model *m, const char *name)
{
    int id = sk_graph_find_tensor(&m->g, name);
    return id >= 0 ? &m->g.tensors[id] : NULL;
}

/* Load path; expect failure with status st and a message containing want
 * (and, when exact, equal to path + ": " + want). */
static void expect_fail(const char *path, sk_status st, const char *want, bool exact)
{
    sk_model *m = (sk_model *)1;
    sk_status got = sk_onnx_load(path, &m);
    char full[1200];
    snprintf(full, sizeof full, "%s: %s", path, want);
    bool ok = got == st && m == NULL && (exact ? !strcmp(sk_errmsg(), full) : strstr(sk_errmsg(), want) != NULL);
    checks++;
    if (!ok) {
        printf("FAIL %s: got %s \"%s\", want %s \"%s\"\n", path, sk_status_name(got), sk_errmsg(), sk_status_name(st),
               exact ? full : want);
        fails++;
    } else {
        printf("  rejected: %s\n", sk_errmsg());
    }
    if (got == SK_OK) sk_model_free(m);
}

static sk_model *expect_load(const char *path)
{
    sk_model *m = NULL;
    sk_status st = sk_onnx_load(path, &m);
    checks++;
    if (st) { printf("FAIL load %s: %s\n", path, sk_errmsg()); fails++; return NULL; }
    return m;
}

/* ---- good input ---- */
static void test_basic(void)
{
    sk_model *m = expect_load(save(model_basic(17), "basic.onnx"));
    if (!m) return;
    const sk_graph *g = &m->g;
    CHECK(g->n_nodes == 2 && g->nodes[0].op == SK_OP_MATMUL && g->nodes[1].op == SK_OP_ADD);
    CHECK(g->n_inputs == 1 && g->n_outputs == 1);
    const sk_tensor *x = find(m, "X"), *w = find(m, "W"), *b = find(m, "B"), *y = find(m, "Y");
    CHECK(x && x->rank == 2 && x->dims[0] == -1 && x->dims[1] == 3 && x->dim_names[0] &&
          !strcmp(x->dim_names[0], "batch") && !x->dim_names[1] && (x->flags & SK_TF_INPUT));
    CHECK(w && w->dtype == SK_DT_F32 && w->nbytes == 48 && !memcmp(w->data, W_VALS, 48));
    CHECK(w && (w->flags & (SK_TF_CONST | SK_TF_WEIGHT | SK_TF_OWNED)) == (SK_TF_CONST | SK_TF_WEIGHT | SK_TF_OWNED));
    CHECK(b && (b->flags & SK_TF_WEIGHT) && ((float *)b->data)[3] == 1.5f);
    CHECK(y && y->dtype == SK_DT_F32 && y->rank == 2 && y->dims[1] == 4 && (y->flags & SK_TF_OUTPUT));
    CHECK(sk_model_params(m, NULL) == 16);
    CHECK(m->arch.family == SK_FAM_MLP && !strcmp(m->source, tmp_path("basic.onnx")));
    CHECK(sk_graph_verify(g) == SK_OK);
    printf("basic: %d nodes, %d tensors, %lld params, family %s\n", g->n_nodes, g->n_tensors,
           (long long)sk_model_params(m, NULL), sk_family_name(m->arch.family));
    sk_model_free(m);
}

/* typed fields of every kind, and Constant nodes in each of their forms */
static void test_typed_and_constants(void)
{
    Onnx__ModelProto *mp = model_new(14);
    Onnx__GraphProto *g = mp->graph;
    int64_t d3[1] = {3}, d23[2] = {2, 3};
    Onnx__TensorProto *t;
    t = tensor_new("i64", 7, 1, d3);
    t->n_int64_data = 3; t->int64_data = xalloc(3 * 8);
    t->int64_data[0] = -1; t->int64_data[1] = (int64_t)1 << 40; t->int64_data[2] = 7;
    PUSH(g->initializer, g->n_initializer, t);
    t = tensor_new("i8", 3, 1, d3);
    t->n_int32_data = 3; t->int32_data = xalloc(3 * 4);
    t->int32_data[0] = -128; t->int32_data[1] = 0; t->int32_data[2] = 127;
    PUSH(g->initializer, g->n_initializer, t);
    t = tensor_new("f16", 10, 1, d3);
    t->n_int32_data = 3; t->int32_data = xalloc(3 * 4);
    t->int32_data[0] = 0x3c00; t->int32_data[1] = 0xc000; t->int32_data[2] = 0;
    PUSH(g->initializer, g->n_initializer, t);
    t = tensor_new("f64", 11, 2, d23);
    t->n_double_data = 6; t->double_data = xalloc(6 * 8);
    for (int i = 0; i < 6; i++) t->double_data[i] = i * 0.25;
    PUSH(g->initializer, g->n_initializer, t);
    t = tensor_new("bool", 9, 1, d3);
    t->n_int32_data = 3; t->int32_data = xalloc(3 * 4);
    t->int32_data[0] = 1;
    PUSH(g->initializer, g->n_initializer, t);
    int64_t d0[1] = {0};
    PUSH(g->initializer, g->n_initializer, tensor_new("empty", 1, 1, d0));

    Onnx__NodeProto *n;
    Onnx__AttributeProto *a;
    n = node(g, "Constant", "c_tensor", "", "c0");
    a = attr(n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = tensor_new("", 7, 1, d3);
    int64_t iv[3] = {4, 5, 6};
    tensor_raw(a->t, iv, sizeof iv);
    n = node(g, "Constant", "c_float", "", "c1");
    a = attr(n, "value_float", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1; a->f = 2.5f;
    n = node(g, "Constant", "c_floats", "", "c2");
    a = attr(n, "value_floats", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->n_floats = 2; a->floats = xalloc(8); a->floats[0] = -1; a->floats[1] = 3;
    n = node(g, "Constant", "c_int", "", "c3");
    attr_i(n, "value_int", -9);
    n = node(g, "Constant", "c_ints", "", "c4");
    a = attr(n, "value_ints", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = 2; a->ints = xalloc(16); a->ints[0] = 1; a->ints[1] = -1;
    /* ConstantOfShape(c0) with an int64 value tensor */
    n = node(g, "ConstantOfShape", "cos", "c0", "filled");
    a = attr(n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = tensor_new("", 7, 1, (int64_t[]){1});
    int64_t seven = 7;
    tensor_raw(a->t, &seven, 8);
    n = node(g, "Reshape", "rs", "c2,c4", "Y");
    PUSH(g->output, g->n_output, vinfo("Y", 1, -1, NULL, NULL));
    PUSH(g->output, g->n_output, vinfo("filled", 7, -1, NULL, NULL));

    sk_model *m = expect_load(save(mp, "typed.onnx"));
    if (!m) return;
    const sk_tensor *x;
    CHECK((x = find(m, "i64")) && x->dtype == SK_DT_I64 && ((int64_t *)x->data)[1] == (int64_t)1 << 40 &&
          (x->flags & SK_TF_CONST) && !(x->flags & SK_TF_WEIGHT));
    CHECK((x = find(m, "i8")) && x->dtype == SK_DT_I8 && ((int8_t *)x->data)[0] == -128 && ((int8_t *)x->data)[2] == 127);
    CHECK((x = find(m, "f16")) && x->dtype == SK_DT_F16 && ((uint16_t *)x->data)[1] == 0xc000 && (x->flags & SK_TF_WEIGHT));
    CHECK((x = find(m, "f64")) && x->dtype == SK_DT_F64 && x->rank == 2 && ((double *)x->data)[5] == 1.25);
    CHECK((x = find(m, "bool")) && x->dtype == SK_DT_BOOL && ((uint8_t *)x->data)[0] == 1 && ((uint8_t *)x->data)[1] == 0);
    CHECK((x = find(m, "empty")) && x->nbytes == 0 && x->rank == 1 && x->dims[0] == 0);
    CHECK((x = find(m, "c0")) && x->dtype == SK_DT_I64 && x->dims[0] == 3 && ((int64_t *)x->data)[2] == 6);
    CHECK((x = find(m, "c1")) && x->dtype == SK_DT_F32 && x->rank == 0 && *(float *)x->data == 2.5f);
    CHECK((x = find(m, "c2")) && x->dtype == SK_DT_F32 && x->rank == 1 && ((float *)x->data)[1] == 3);
    CHECK((x = find(m, "c3")) && x->dtype == SK_DT_I64 && x->rank == 0 && *(int64_t *)x->data == -9);
    CHECK((x = find(m, "c4")) && x->dtype == SK_DT_I64 && x->dims[0] == 2 && ((int64_t *)x->data)[1] == -1);
    CHECK(m->g.n_nodes == 2 && m->g.nodes[0].op == SK_OP_CONSTANT_OF_SHAPE);
    if (m->g.n_nodes == 2) {
        const sk_node *cs = &m->g.nodes[0];
        CHECK(sk_node_attr_f(cs, "value", 0) == 7.0f && sk_node_attr_i(cs, "value_dtype", 0) == SK_DT_I64);
    }
    printf("typed fields + 5 Constant forms + ConstantOfShape: %d tensors, %d nodes\n", m->g.n_tensors, m->g.n_nodes);
    sk_model_free(m);
}

/* external data: an aligned tensor is a view into the mapping, an unaligned one a copy */
static void test_external(void)
{
    float buf[20];
    for (int i = 0; i < 20; i++) buf[i] = (float)i - 3.5f;
    write_bytes(tmp_path("weights.bin"), buf, sizeof buf);
    Onnx__ModelProto *mp = model_basic(17);
    Onnx__GraphProto *g = mp->graph;
    Onnx__TensorProto *w = g->initializer[0];
    free(w->raw_data.data);
    w->has_raw_data = 0; w->raw_data.data = NULL; w->raw_data.len = 0;
    tensor_ext(w, "weights.bin", "16", "48");                     /* floats 4..15 */
    int64_t d2[1] = {2};
    Onnx__TensorProto *u = tensor_new("U", 1, 1, d2);
    tensor_ext(u, "weights.bin", "6", NULL);                     /* unaligned: bytes 6..13 */
    PUSH(g->initializer, g->n_initializer, u);
    node(g, "Mul", "mul0", "Y,U", "Z");   /* U [2] does not broadcast with Y [.., 4]: the importer does not care */
    sk_model *m = expect_load(save(mp, "ext.onnx"));
    if (!m) return;
    const sk_tensor *x = find(m, "W"), *y = find(m, "U");
    CHECK(x && !memcmp(x->data, buf + 4, 48) && !(x->flags & SK_TF_OWNED) && (x->flags & SK_TF_WEIGHT));
    float want[2];
    memcpy(want, (char *)buf + 6, 8);
    CHECK(y && !memcmp(y->data, want, 8) && (y->flags & SK_TF_OWNED));
    CHECK(m->n_maps == 1 && m->maps[0].len == sizeof buf);
    printf("external data: W viewed in place (%s), U copied (unaligned), %d mapping\n",
           x && !(x->flags & SK_TF_OWNED) ? "yes" : "no", m->n_maps);
    sk_model_free(m);
}

/* the importer's rewrites: Softmax before opset 13, com.microsoft Gelu/FastGelu */
static void test_rewrites(void)
{
    Onnx__ModelProto *mp = model_new(11);
    Onnx__GraphProto *g = mp->graph;
    int64_t xd[3] = {2, 3, 4};
    PUSH(g->input, g->n_input, vinfo("X", 1, 3, xd, NULL));
    attr_i(node(g, "Softmax", "sm_mid", "X", "S1"), "axis", 1);   /* flattens [2, 12]: rewritten */
    attr_i(node(g, "Softmax", "sm_last", "X", "S2"), "axis", 2);  /* last axis: today's Softmax */
    node(g, "Softmax", "sm_dflt", "X", "S3");                     /* default axis 1: rewritten */
    PUSH(g->output, g->n_output, vinfo("S1", 1, -1, NULL, NULL));
    PUSH(g->output, g->n_output, vinfo("S2", 1, -1, NULL, NULL));
    PUSH(g->output, g->n_output, vinfo("S3", 1, -1, NULL, NULL));
    sk_model *m = expect_load(save(mp, "softmax11.onnx"));
    if (m) {
        int counts[SK_OP_COUNT] = {0};
        for (int i = 0; i < m->g.n_nodes; i++) counts[m->g.nodes[i].op]++;
        CHECK(m->g.n_nodes == 9 && counts[SK_OP_SOFTMAX] == 3 && counts[SK_OP_FLATTEN] == 2 &&
              counts[SK_OP_RESHAPE] == 2 && counts[SK_OP_SHAPE] == 2);
        for (int i = 0; i < m->g.n_nodes; i++) {
            const sk_node *n = &m->g.nodes[i];
            if (n->op == SK_OP_SOFTMAX) CHECK(sk_node_attr_i(n, "axis", 0) == -1);
            if (n->op == SK_OP_FLATTEN) CHECK(sk_node_attr_i(n, "axis", 0) == 1);
        }
        printf("opset-11 Softmax: 3 nodes became %d (2 rewritten to Shape/Flatten/Softmax/Reshape)\n", m->g.n_nodes);
        sk_model_free(m);
    }

    mp = model_basic(17);
    g = mp->graph;
    Onnx__OperatorSetIdProto *o = xalloc(sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = xstrdup("com.microsoft");
    o->has_version = 1;
    o->version = 1;
    PUSH(mp->opset_import, mp->n_opset_import, o);
    node(g, "FastGelu", "fg", "Y,B", "G1")->domain = xstrdup("com.microsoft");
    node(g, "Gelu", "ge", "G1", "G2")->domain = xstrdup("com.microsoft");
    Onnx__NodeProto *lstm = node(g, "LSTM", "lstm", "G2,W,W,,,,", "H");   /* shapes are nonsense; only import is tested */
    Onnx__AttributeProto *a = attr(lstm, "activations", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    const char *acts[3] = {"Sigmoid", "Tanh", "Relu"};
    for (int i = 0; i < 3; i++) {
        ProtobufCBinaryData s = {strlen(acts[i]), (uint8_t *)xstrdup(acts[i])};
        PUSH(a->strings, a->n_strings, s);
    }
    /* the same activations as ONNX's defaults are dropped */
    Onnx__NodeProto *gru = node(g, "GRU", "gru", "G2,W,W", "H2,");
    a = attr(gru, "activations", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    for (int i = 0; i < 2; i++) {
        ProtobufCBinaryData s = {strlen(acts[i]), (uint8_t *)xstrdup(acts[i])};
        PUSH(a->strings, a->n_strings, s);
    }
    free(g->output[0]->name);
    g->output[0]->name = xstrdup("H");
    m = expect_load(save(mp, "msgelu.onnx"));
    if (m) {
        const sk_graph *gg = &m->g;
        CHECK(gg->n_nodes == 7 && gg->nodes[2].op == SK_OP_ADD && gg->nodes[3].op == SK_OP_GELU &&
              gg->nodes[4].op == SK_OP_GELU && gg->nodes[5].op == SK_OP_LSTM && gg->nodes[6].op == SK_OP_GRU);
        if (gg->n_nodes == 7) {
            CHECK(!strcmp(sk_node_attr_s(&gg->nodes[3], "approximate", ""), "tanh"));
            CHECK(!strcmp(sk_node_attr_s(&gg->nodes[4], "approximate", ""), "none"));
            CHECK(gg->nodes[5].n_in == 3);   /* trailing empty inputs dropped */
            CHECK(!strcmp(sk_node_attr_s(&gg->nodes[5], "activations", ""), "Sigmoid,Tanh,Relu"));
            CHECK(!sk_node_attr(&gg->nodes[6], "activations") && gg->nodes[6].n_out == 1);
        }
        printf("com.microsoft FastGelu(x, bias) -> Add + Gelu(tanh); Gelu -> Gelu(none); STRINGS joined; "
               "default activations dropped\n");
        sk_model_free(m);
    }
}

/* ---- bad input ---- */
static void test_bad_files(void)
{
    size_t len;
    Onnx__ModelProto *mp = model_basic(17);
    uint8_t *good = pack(mp, &len);
    onnx__model_proto__free_unpacked(mp, NULL);

    const char *p = tmp_path("empty.onnx");
    write_bytes(p, "", 0);
    expect_fail(p, SK_ERR_FORMAT, "empty file (0 bytes), not an ONNX model", true);

    p = tmp_path("half.onnx");
    write_bytes(p, good, len / 2);
    expect_fail(p, SK_ERR_FORMAT, "not a valid ONNX protobuf", true);

    /* every prefix fails, none crashes */
    int prefix_ok = 0;
    for (size_t n = 0; n < len; n++) {
        sk_model *m = NULL;
        if (sk_onnx_load_mem(good, n, "prefix.onnx", &m) == SK_OK) { prefix_ok++; sk_model_free(m); }
    }
    CHECK(prefix_ok == 0);
    printf("  all %zu truncations of a %zu-byte model rejected (%d accepted)\n", len, len, prefix_ok);

    uint8_t junk[64];
    memset(junk, 0xff, sizeof junk);
    p = tmp_path("junk.onnx");
    write_bytes(p, junk, sizeof junk);
    expect_fail(p, SK_ERR_FORMAT, "not a valid ONNX protobuf", true);
    p = tmp_path("text.onnx");
    write_bytes(p, "{\"this is\": \"json, not onnx\"}\n", 30);
    expect_fail(p, SK_ERR_FORMAT, "", false);
    /* a lone varint field decodes as a ModelProto with no graph */
    uint8_t lone[2] = {0x08, 0x08};
    p = tmp_path("nograph.onnx");
    write_bytes(p, lone, 2);
    expect_fail(p, SK_ERR_FORMAT, "no opset imported for the default ONNX domain", true);
    expect_fail(tmp_path("missing.onnx"), SK_ERR_IO, "No such file", false);
    free(good);

    /* graphs nested 100000 deep in attributes (protobuf-c would recurse that deep) */
    size_t cap = 4 << 20, k = cap;
    uint8_t *deep = xalloc(cap);
    size_t inner = 0;
    for (int lvl = 0; lvl < 100000; lvl++) {
        /* GraphProto{node(1): NodeProto{attribute(5): AttributeProto{g(6): <inner>}}} built back to front */
        for (int f = 0; f < 3; f++) {
            static const uint8_t tags[3] = {0x32, 0x2a, 0x0a};   /* attr.g, node.attribute, graph.node */
            uint8_t v[10];
            int nv = 0;
            size_t x = inner;
            do { v[nv++] = (uint8_t)((x & 0x7f) | (x > 0x7f ? 0x80 : 0)); x >>= 7; } while (x);
            k -= (size_t)nv;
            memcpy(deep + k, v, (size_t)nv);
            deep[--k] = tags[f];
            inner = cap - k;
        }
    }
    p = tmp_path("deep.onnx");
    {
        uint8_t head[16];
        size_t h = 0, x = inner;
        head[h++] = 0x3a;   /* ModelProto.graph */
        do { head[h++] = (uint8_t)((x & 0x7f) | (x > 0x7f ? 0x80 : 0)); x >>= 7; } while (x);
        k -= h;
        memcpy(deep + k, head, h);
    }
    write_bytes(p, deep + k, cap - k);
    free(deep);
    expect_fail(p, SK_ERR_FORMAT, "messages nested more than 64 deep; not an ONNX model shrink reads", true);
}

static void test_bad_models(void)
{
    Onnx__ModelProto *mp;
    char want[256];

    mp = model_basic(17);   /* raw_data shorter than dims say */
    mp->graph->initializer[0]->raw_data.len -= 4;
    expect_fail(save(mp, "short.onnx"), SK_ERR_FORMAT, "initializer 'W': raw_data has 44 bytes, dims [3, 4] of f32 need 48",
                true);

    mp = model_basic(17);   /* typed field count mismatch */
    mp->graph->initializer[1]->n_float_data = 3;
    expect_fail(save(mp, "count.onnx"), SK_ERR_FORMAT, "initializer 'B': float_data has 3 values, its dims need 4", true);

    mp = model_basic(17);   /* dims overflowing int64 */
    mp->graph->initializer[0]->dims[0] = mp->graph->initializer[0]->dims[1] = (int64_t)1 << 40;
    expect_fail(save(mp, "overflow.onnx"), SK_ERR_FORMAT,
                "initializer 'W': dims [1099511627776, 1099511627776]: element count overflows", true);

    mp = model_basic(17);
    mp->graph->initializer[0]->dims[0] = (int64_t)1 << 41;
    expect_fail(save(mp, "bigdim.onnx"), SK_ERR_FORMAT, "initializer 'W': dim 0 is 2199023255552", false);

    mp = model_basic(17);
    mp->graph->initializer[0]->dims[1] = -4;
    expect_fail(save(mp, "negdim.onnx"), SK_ERR_FORMAT, "initializer 'W': dim 1 is -4 (dims [3, -4])", true);

    mp = model_basic(17);
    mp->graph->input[0]->type->tensor_type->shape->dim[1]->dim_value = -3;
    expect_fail(save(mp, "neginput.onnx"), SK_ERR_FORMAT, "graph input 'X': dim 1 is -3", true);

    mp = model_basic(17);   /* NaN and Inf weights */
    ((float *)mp->graph->initializer[0]->raw_data.data)[5] = NAN;
    expect_fail(save(mp, "nan.onnx"), SK_ERR_FORMAT, "initializer 'W': NaN at element 5", true);
    mp = model_basic(17);
    mp->graph->initializer[1]->float_data[2] = -INFINITY;
    expect_fail(save(mp, "inf.onnx"), SK_ERR_FORMAT, "initializer 'B': Inf at element 2", true);

    mp = model_basic(17);   /* an op shrink does not have */
    node(mp->graph, "Einsum", "Foo_12", "Y,Y", "E");
    expect_fail(save(mp, "einsum.onnx"), SK_ERR_UNSUPPORTED, "node 'Foo_12' (Einsum): op not supported (opset 17)", true);
    mp = model_basic(17);   /* an unnamed one is named by op and position */
    node(mp->graph, "NonMaxSuppression", NULL, "Y,Y", "E");
    expect_fail(save(mp, "nms.onnx"), SK_ERR_UNSUPPORTED,
                "node 'NonMaxSuppression_2' (NonMaxSuppression): op not supported (opset 17)", true);
    mp = model_basic(17);   /* shrink's own op names are not ONNX ops */
    node(mp->graph, "Attention", "att", "Y,Y,Y", "E");
    expect_fail(save(mp, "att.onnx"), SK_ERR_UNSUPPORTED, "node 'att' (Attention): op not supported (opset 17)", true);
    mp = model_basic(17);
    node(mp->graph, "Gelu", "msg", "Y", "E")->domain = xstrdup("com.microsoft");   /* domain not imported */
    expect_fail(save(mp, "msdomain.onnx"), SK_ERR_UNSUPPORTED,
                "node 'msg' (com.microsoft.Gelu): op not supported (domain 'com.microsoft')", true);

    for (int i = 0; i < 3; i++) {   /* opsets */
        int64_t v[3] = {9, 22, 10};
        char name[32];
        snprintf(name, sizeof name, "opset%lld.onnx", (long long)v[i]);
        snprintf(want, sizeof want, "opset %lld not supported (shrink reads default-domain opsets 11..21)",
                 (long long)v[i]);
        expect_fail(save(model_basic(v[i]), name), SK_ERR_UNSUPPORTED, want, true);
    }
    for (int v = 11; v <= 21; v++) {
        char name[32];
        snprintf(name, sizeof name, "opset%d.onnx", v);
        sk_model *m = NULL;
        CHECK(sk_onnx_load(save(model_basic(v), name), &m) == SK_OK);
        sk_model_free(m);
    }
    mp = model_basic(17);
    mp->ir_version = 99;
    expect_fail(save(mp, "ir99.onnx"), SK_ERR_UNSUPPORTED, "ONNX IR version 99 not supported", false);

    mp = model_basic(17);   /* a name nobody defines */
    free(mp->graph->node[1]->input[1]);
    mp->graph->node[1]->input[1] = xstrdup("nope");
    expect_fail(save(mp, "unknown.onnx"), SK_ERR_FORMAT,
                "node 'add0' (Add): input 1 'nope' is not a graph input, an initializer or an earlier node's output", true);
    mp = model_basic(17);   /* used before it is produced (nodes out of order) */
    Onnx__NodeProto *t = mp->graph->node[0];
    mp->graph->node[0] = mp->graph->node[1];
    mp->graph->node[1] = t;
    expect_fail(save(mp, "order.onnx"), SK_ERR_FORMAT, "node 'add0' (Add): input 0 'XW' is not a graph input", false);
    mp = model_basic(17);   /* a tensor defined twice */
    node(mp->graph, "Relu", "r", "X", "W");
    expect_fail(save(mp, "twice.onnx"), SK_ERR_FORMAT, "node 'r' (Relu): tensor 'W' is defined twice", true);
    mp = model_basic(17);
    free(mp->graph->output[0]->name);
    mp->graph->output[0]->name = xstrdup("ghost");
    expect_fail(save(mp, "ghost.onnx"), SK_ERR_FORMAT, "graph output 'ghost' is not produced by any node", true);
    mp = model_basic(17);   /* arity */
    node(mp->graph, "Add", "add3", "Y,Y,Y", "E");
    expect_fail(save(mp, "arity.onnx"), SK_ERR_UNSUPPORTED, "node 'add3' (Add): 3 inputs, shrink's Add takes 2..2", true);
    mp = model_basic(17);
    node(mp->graph, "Gather", "g", ",Y", "E");
    expect_fail(save(mp, "reqin.onnx"), SK_ERR_FORMAT, "node 'g' (Gather): required input 0 has no name", true);
    mp = model_basic(17);   /* a data type shrink does not have */
    mp->graph->initializer[1]->data_type = 8;
    expect_fail(save(mp, "string.onnx"), SK_ERR_UNSUPPORTED, "initializer 'B': data type STRING (8) not supported", true);
    mp = model_basic(17);   /* data in two places */
    tensor_raw(mp->graph->initializer[1], W_VALS, 16);
    expect_fail(save(mp, "twoplaces.onnx"), SK_ERR_FORMAT, "initializer 'B': data stored in more than one place", false);
    mp = model_basic(17);   /* an attribute type shrink does not carry */
    attr(mp->graph->node[0], "body", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    expect_fail(save(mp, "graphattr.onnx"), SK_ERR_UNSUPPORTED, "node 'mm0' (MatMul): attribute 'body' of type GRAPH not supported",
                true);
    mp = model_basic(17);   /* an int8 value out of range in int32_data */
    {
        int64_t d1[1] = {1};
        Onnx__TensorProto *q = tensor_new("q", 3, 1, d1);
        q->n_int32_data = 1; q->int32_data = xalloc(4); q->int32_data[0] = 300;
        PUSH(mp->graph->initializer, mp->graph->n_initializer, q);
    }
    expect_fail(save(mp, "i8range.onnx"), SK_ERR_FORMAT, "initializer 'q': int32_data[0] = 300 is out of range for i8", true);

    /* external data */
    float buf[12] = {0};
    write_bytes(tmp_path("w12.bin"), buf, sizeof buf);
    const char *cases[][4] = {
        {"w12.bin", "1000", NULL, "initializer 'W': external data 'w12.bin' offset 1000 + 48 bytes runs past its end (48 bytes)"},
        {"w12.bin", "4", NULL, "initializer 'W': external data 'w12.bin' offset 4 + 48 bytes runs past its end (48 bytes)"},
        {"w12.bin", "0", "40", "initializer 'W': external data length 40, but its dims and type need 48 bytes"},
        {"w12.bin", "-8", NULL, "initializer 'W': external data offset '-8' is not a byte count"},
        {"w12.bin", "99999999999999999999999", NULL, "initializer 'W': external data offset '99999999999999999999999' is not a byte count"},
        {"../w12.bin", NULL, NULL, "initializer 'W': external data location '../w12.bin' is not a path inside the model's folder"},
        {"/etc/passwd", NULL, NULL, "initializer 'W': external data location '/etc/passwd' is not a path inside the model's folder"},
        {"nothere.bin", NULL, NULL, "initializer 'W': external data: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mp = model_basic(17);
        Onnx__TensorProto *w = mp->graph->initializer[0];
        free(w->raw_data.data);
        w->has_raw_data = 0; w->raw_data.data = NULL; w->raw_data.len = 0;
        tensor_ext(w, cases[i][0], cases[i][1], cases[i][2]);
        char name[32];
        snprintf(name, sizeof name, "ext%zu.onnx", i);
        bool missing = !strcmp(cases[i][0], "nothere.bin");
        expect_fail(save(mp, name), missing ? SK_ERR_IO : SK_ERR_FORMAT, cases[i][3], !missing);
    }
}

/* Every allocation of a load, made to fail in turn: a clean SK_ERR_NOMEM each
 * time, nothing leaked (the SAN build's leak checker watches). */
static void test_alloc_failures(void)
{
    const char *p = tmp_path("ext.onnx");   /* written by test_external: external data, initializers */
    const char *q = tmp_path("typed.onnx"); /* Constant forms, ConstantOfShape */
    const char *r = tmp_path("softmax11.onnx");
    const char *files[3] = {p, q, r};
    for (int f = 0; f < 3; f++) {
        long n, bad = 0;
        for (n = 1; n < 100000; n++) {
            sk_model *m = NULL;
            sk_alloc_fail_after(n);
            sk_status st = sk_onnx_load(files[f], &m);
            sk_alloc_fail_after(0);
            if (st == SK_OK) { sk_model_free(m); break; }
            if (st != SK_ERR_NOMEM || m) {
                if (!bad++) printf("FAIL allocation %ld of %s: %s %s\n", n, files[f], sk_status_name(st), sk_errmsg());
            }
        }
        CHECK(bad == 0);
        printf("  %s: each of its %ld allocations failed in turn: %ld bad outcomes\n", files[f], n - 1, bad);
    }
}

/* ---- --summary: the imported graph as JSON ---- */
static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

static void json_float(double v)
{
    if (isnan(v)) printf("\"nan\"");
    else if (isinf(v)) printf(v > 0 ? "\"inf\"" : "\"-inf\"");
    else printf("%.9g", v);
}

/* CRC-32 as zlib computes it (so Python's zlib.crc32 checks the bytes). */
static uint32_t crc32(const void *p, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ ((const uint8_t *)p)[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void json_tensor(const sk_model *m, int id)
{
    const sk_tensor *t = &m->g.tensors[id];
    printf("{\"name\": ");
    json_str(t->name);
    printf(", \"dtype\": \"%s\", \"rank\": %d, \"dims\": [", sk_dtype_info(t->dtype)->name, t->rank);
    for (int i = 0; i < t->rank; i++) printf("%s%lld", i ? ", " : "", (long long)t->dims[i]);
    printf("], \"dim_names\": [");
    for (int i = 0; i < t->rank; i++) {
        printf("%s", i ? ", " : "");
        if (t->dim_names[i]) json_str(t->dim_names[i]);
        else printf("null");
    }
    printf("]");
    if (t->flags & SK_TF_CONST)
        printf(", \"nbytes\": %zu, \"crc32\": %lu, \"weight\": %s, \"owned\": %s", t->nbytes,
               (unsigned long)crc32(t->data, t->nbytes), t->flags & SK_TF_WEIGHT ? "true" : "false",
               t->flags & SK_TF_OWNED ? "true" : "false");
    printf("}");
}

static int summary(const char *path)
{
    sk_model *m;
    if (sk_onnx_load(path, &m)) { fprintf(stderr, "%s\n", sk_errmsg()); return 1; }
    const sk_graph *g = &m->g;
    const sk_arch *a = &m->arch;
    printf("{\"file\": ");
    json_str(path);
    printf(",\n \"arch\": {\"family\": \"%s\", \"task\": ", sk_family_name(a->family));
    json_str(a->task);
    printf(", \"n_layers\": %d, \"hidden\": %d, \"heads\": %d, \"ffn\": %d, \"vocab\": %d, \"max_pos\": %d, "
           "\"type_vocab\": %d, \"n_labels\": %d, \"eps\": ", a->n_layers, a->hidden, a->heads, a->ffn, a->vocab,
           a->max_pos, a->type_vocab, a->n_labels);
    json_float(a->eps);
    printf(", \"act\": ");
    json_str(a->act);
    printf(", \"labels\": [");
    for (int i = 0; a->labels && i < a->n_labels; i++) { printf("%s", i ? ", " : ""); json_str(a->labels[i]); }
    printf("]},\n \"tokenizer_dir\": ");
    if (m->tokenizer_dir) json_str(m->tokenizer_dir);
    else printf("null");
    printf(",\n \"params\": %lld, \"n_maps\": %d, \"n_tensors\": %d, \"n_nodes\": %d,\n \"ops\": {",
           (long long)sk_model_params(m, NULL), m->n_maps, g->n_tensors, g->n_nodes);
    int counts[SK_OP_COUNT] = {0}, first = 1;
    for (int i = 0; i < g->n_nodes; i++) counts[g->nodes[i].op]++;
    for (int i = 0; i < SK_OP_COUNT; i++)
        if (counts[i]) { printf("%s\"%s\": %d", first ? "" : ", ", sk_op_get((sk_op)i)->name, counts[i]); first = 0; }
    printf("},\n \"inputs\": [");
    for (int i = 0; i < g->n_inputs; i++) { printf("%s\n  ", i ? "," : ""); json_tensor(m, g->inputs[i]); }
    printf("],\n \"outputs\": [");
    for (int i = 0; i < g->n_outputs; i++) { printf("%s\n  ", i ? "," : ""); json_tensor(m, g->outputs[i]); }
    printf("],\n \"consts\": [");
    first = 1;
    for (int i = 0; i < g->n_tensors; i++) {
        if (!(g->tensors[i].flags & SK_TF_CONST)) continue;
        printf("%s\n  ", first ? "" : ",");
        json_tensor(m, i);
        first = 0;
    }
    printf("],\n \"nodes\": [");
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *n = &g->nodes[i];
        printf("%s\n  {\"op\": \"%s\", \"name\": ", i ? "," : "", sk_op_get(n->op)->name);
        json_str(n->name);
        for (int k = 0; k < 2; k++) {
            printf(k ? ", \"out\": [" : ", \"in\": [");
            for (int j = 0; j < (k ? n->n_out : n->n_in); j++) {
                int t = k ? n->out[j] : n->in[j];
                printf("%s", j ? ", " : "");
                if (t < 0) printf("null");
                else json_str(g->tensors[t].name);
            }
            printf("]");
        }
        printf(", \"attrs\": {");
        for (int j = 0; j < n->n_attrs; j++) {
            const sk_attr *at = &n->attrs[j];
            printf("%s", j ? ", " : "");
            json_str(at->name);
            printf(": ");
            switch (at->type) {
            case SK_ATTR_INT: printf("%lld", (long long)at->i); break;
            case SK_ATTR_FLOAT: json_float(at->f); break;
            case SK_ATTR_STRING: json_str(at->s); break;
            case SK_ATTR_INTS:
                printf("[");
                for (int q = 0; q < at->n; q++) printf("%s%lld", q ? ", " : "", (long long)at->ints[q]);
                printf("]");
                break;
            case SK_ATTR_FLOATS:
                printf("[");
                for (int q = 0; q < at->n; q++) { printf("%s", q ? ", " : ""); json_float(at->floats[q]); }
                printf("]");
                break;
            }
        }
        printf("}}");
    }
    printf("]}\n");
    sk_model_free(m);
    return 0;
}

static void cleanup(void)
{
    static const char *names[] = {
        "basic.onnx", "typed.onnx", "weights.bin", "ext.onnx", "softmax11.onnx", "msgelu.onnx", "empty.onnx",
        "half.onnx", "junk.onnx", "text.onnx", "nograph.onnx", "deep.onnx", "short.onnx", "count.onnx",
        "overflow.onnx", "bigdim.onnx", "negdim.onnx", "neginput.onnx", "nan.onnx", "inf.onnx", "einsum.onnx",
        "nms.onnx", "att.onnx", "msdomain.onnx", "opset9.onnx", "opset22.onnx", "opset10.onnx", "ir99.onnx",
        "unknown.onnx", "order.onnx", "twice.onnx", "ghost.onnx", "arity.onnx", "reqin.onnx", "string.onnx",
        "twoplaces.onnx", "graphattr.onnx", "i8range.onnx", "w12.bin",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tmp_path(names[i]));
    for (int v = 11; v <= 21; v++) {
        char name[32];
        snprintf(name, sizeof name, "opset%d.onnx", v);
        unlink(tmp_path(name));
    }
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "ext%d.onnx", i);
        unlink(tmp_path(name));
    }
    rmdir(tmpdir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--summary")) return summary(argv[2]);
    if (argc != 1) { fprintf(stderr, "usage: test_onnx [--summary FILE.onnx]\n"); return 2; }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_onnx.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    test_basic();
    test_typed_and_constants();
    test_external();
    test_rewrites();
    printf("bad files:\n");
    test_bad_files();
    printf("bad models:\n");
    test_bad_models();
    printf("allocation failures:\n");
    test_alloc_failures();
    cleanup();
    printf("%d checks, %d failed\n", checks, fails);
    return fails != 0;
}
