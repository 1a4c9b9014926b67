/* test_ir_text.c — the text IR (src/ir/text.c): every .skir file in tests/ir
 * round-trips (print → parse → print identical, tensor data bit-exact), random
 * values of every dtype survive bit-exactly, bad input gives the expected
 * file:line:col message, allocation failures are clean, and randomly mutated
 * files give a model or an error, never a crash.  Runs from the repo root.
 * SHRINK_FUZZ_ITERS sets the mutations per golden file (default 400).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"
#include "util/util.h"

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); fails++; } } while (0)

/* Print m to a new string (free()), NULL on failure. */
static char *print_str(const sk_model *m, bool full)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f) return NULL;
    sk_status st = sk_ir_print(m, f, full);
    fclose(f);
    if (st) { free(s); return NULL; }
    return s;
}

/* Same tensors (by name), same data bytes, same flags that matter. */
static int same_tensors(const sk_model *a, const sk_model *b)
{
    int bad = 0;
    if (a->g.n_tensors != b->g.n_tensors || a->g.n_nodes != b->g.n_nodes) return 1;
    for (int i = 0; i < a->g.n_tensors; i++) {
        const sk_tensor *x = &a->g.tensors[i];
        int j = sk_graph_find_tensor(&b->g, x->name);
        if (j < 0) { bad++; continue; }
        const sk_tensor *y = &b->g.tensors[j];
        unsigned keep = SK_TF_CONST | SK_TF_WEIGHT | SK_TF_INPUT | SK_TF_OUTPUT;
        if (x->dtype != y->dtype || x->rank != y->rank || (x->flags & keep) != (y->flags & keep) ||
            x->nbytes != y->nbytes || (x->rank > 0 && memcmp(x->dims, y->dims, (size_t)x->rank * sizeof x->dims[0])) ||
            (x->nbytes && memcmp(x->data, y->data, x->nbytes)) || !x->quant != !y->quant)
            bad++;
    }
    return bad;
}

/* print → parse → print: identical text, identical data.  Returns 0 if ok. */
static int round_trip(const sk_model *m, const char *name, bool verbose)
{
    char *t1 = print_str(m, true), *t2 = NULL;
    sk_model *m2 = NULL;
    int bad = 0;
    if (!t1) { printf("FAIL %s: print failed: %s\n", name, sk_errmsg()); return 1; }
    if (sk_ir_parse(t1, name, &m2)) {
        printf("FAIL %s: re-parse of the printed text failed: %s\n", name, sk_errmsg());
        if (verbose) printf("%s", t1);
        free(t1);
        return 1;
    }
    t2 = print_str(m2, true);
    if (!t2 || strcmp(t1, t2)) {
        printf("FAIL %s: the second print differs from the first\n", name);
        if (verbose) printf("--- first\n%s--- second\n%s", t1, t2 ? t2 : "(null)");
        bad++;
    }
    int d = same_tensors(m, m2);
    if (d) { printf("FAIL %s: %d tensors differ after the round trip\n", name, d); bad++; }
    free(t1);
    free(t2);
    sk_model_free(m2);
    return bad;
}

static char *read_text(const char *path)
{
    char *s;
    size_t n;
    return sk_read_file(path, &s, &n) ? NULL : s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The golden files, sorted; returns the count. */
static int golden_files(char ***out)
{
    DIR *d = opendir("tests/ir");
    int n = 0;
    char **v = NULL;
    *out = NULL;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".skir")) continue;
        v = realloc(v, (size_t)(n + 1) * sizeof *v);
        v[n++] = sk_path_join("tests/ir", e->d_name);
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static void test_golden(char **files, int n)
{
    CHECK(n >= 3);
    for (int i = 0; i < n; i++) {
        sk_model *m;
        if (sk_ir_parse_file(files[i], &m)) { printf("FAIL %s: %s\n", files[i], sk_errmsg()); fails++; continue; }
        CHECK(sk_graph_verify(&m->g) == SK_OK);
        CHECK(m->source && !strcmp(m->source, files[i]));
        int bad = round_trip(m, files[i], true);
        fails += bad;
        /* without full values, small models print the same; larger ones elide */
        char *full = print_str(m, true), *brief = print_str(m, false);
        bool elided = brief && strstr(brief, " bytes>") != NULL;
        CHECK(full && brief && (elided || !strcmp(full, brief)));
        printf("%-28s %3d tensors %3d nodes %5lld params  round trip %s%s\n", files[i], m->g.n_tensors, m->g.n_nodes,
               (long long)sk_model_params(m, NULL), bad ? "FAILED" : "ok", elided ? " (brief print elides data)" : "");
        free(full);
        free(brief);
        sk_model_free(m);
    }
}

/* Known figures of the hand-written files (computed by hand in their comments). */
static void test_golden_figures(void)
{
    sk_model *m;
    size_t by[SK_DT_COUNT];
    if (sk_ir_parse_file("tests/ir/mlp.skir", &m) == SK_OK) {
        CHECK(sk_model_params(m, by) == 23 && by[SK_DT_F32] == 92);
        CHECK(m->arch.family == SK_FAM_MLP && m->arch.n_labels == 2);
        CHECK(m->g.n_nodes == 3 && m->g.nodes[0].op == SK_OP_LINEAR && !strcmp(m->g.nodes[0].name, "fc1"));
        CHECK(!strcmp(sk_node_attr_s(&m->g.nodes[0], "act", ""), "relu"));
        int x = sk_graph_find_tensor(&m->g, "x");
        CHECK(x >= 0 && m->g.tensors[x].dims[0] == -1 && !strcmp(m->g.tensors[x].dim_names[0], "batch"));
        int w1 = sk_graph_find_tensor(&m->g, "w1");
        CHECK(w1 >= 0 && ((float *)m->g.tensors[w1].data)[11] == -1.2f);
        sk_model_free(m);
    } else { printf("FAIL mlp.skir: %s\n", sk_errmsg()); fails++; }
    if (sk_ir_parse_file("tests/ir/bert_layer.skir", &m) == SK_OK) {
        CHECK(sk_model_params(m, NULL) == 214);
        CHECK(m->arch.n_labels == 2 && m->arch.labels && !strcmp(m->arch.labels[1], "positive"));
        CHECK(m->arch.eps == 1e-12f && !strcmp(m->arch.task, "seq-classification"));
        sk_model_free(m);
    } else { printf("FAIL bert_layer.skir: %s\n", sk_errmsg()); fails++; }
    if (sk_ir_parse_file("tests/ir/syntax.skir", &m) == SK_OK) {
        const sk_graph *g = &m->g;
        int qw = sk_graph_find_tensor(g, "qw"), qs = sk_graph_find_tensor(g, "qs");
        CHECK(qw >= 0 && g->tensors[qw].quant && g->tensors[qw].quant->scales == qs && g->tensors[qw].quant->bits == 4);
        CHECK(qw >= 0 && ((unsigned char *)g->tensors[qw].data)[7] == 0xef);
        int mk = sk_graph_find_tensor(g, "mask:0");
        CHECK(mk >= 0 && !strcmp(g->tensors[mk].dim_names[1], "seq len"));
        const sk_node *dr = NULL;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == SK_OP_DROPOUT) dr = &g->nodes[i];
        CHECK(dr && dr->n_out == 2 && dr->out[1] == -1);
        if (dr) {
            const sk_attr *a = sk_node_attr(dr, "scales");
            CHECK(a && a->type == SK_ATTR_FLOATS && a->n == 4 && signbit(a->floats[2]) && a->floats[3] == 1e-10f);
            a = sk_node_attr(dr, "none_f");
            CHECK(a && a->type == SK_ATTR_FLOATS && a->n == 0);
            a = sk_node_attr(dr, "none_i");
            CHECK(a && a->type == SK_ATTR_INTS && a->n == 0);
            a = sk_node_attr(dr, "mixed");
            CHECK(a && a->type == SK_ATTR_FLOATS && a->floats[0] == 1.0f);
            CHECK(!strcmp(sk_node_attr_s(dr, "mode", ""), "train \"x\"\n\ttab\x01"));
            CHECK(sk_node_attr_f(dr, "ratio", 0) == 0.1f);
        }
        CHECK(m->n_prov == 2 && !strcmp(m->prov[1].pass, "quantize int4"));
        CHECK(m->tokenizer_dir && !strcmp(m->tokenizer_dir, "samples/tok dir"));
        sk_model_free(m);
    } else { printf("FAIL syntax.skir: %s\n", sk_errmsg()); fails++; }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random bit patterns of every plain dtype (no NaN: its payload is not kept). */
static void test_bit_exact(void)
{
    const int n = 4096;
    sk_model *m = sk_model_new();
    long values = 0;
    for (int dt = SK_DT_F32; dt < SK_DT_COUNT; dt++) {
        size_t es = sk_dtype_info((sk_dtype)dt)->block_bytes;
        unsigned char *d = sk_malloc((size_t)n * es);
        for (int i = 0; i < n; i++) {
            uint64_t r = rnd();
            unsigned char *p = d + (size_t)i * es;
            memcpy(p, &r, es);
            if (dt == SK_DT_BOOL) p[0] &= 1;
            if (dt == SK_DT_F32) {
                float f; memcpy(&f, p, 4);
                if (isnan(f)) { f = (float)i; memcpy(p, &f, 4); }
                if (i < 8) { const float sp[8] = {0.0f, -0.0f, INFINITY, -INFINITY, 1e-45f, 3.4028235e38f, 1.17549435e-38f, 0.1f}; memcpy(p, &sp[i], 4); }
            }
            if (dt == SK_DT_F64) { double f; memcpy(&f, p, 8); if (isnan(f)) { f = i; memcpy(p, &f, 8); } }
            if (dt == SK_DT_F16) { uint16_t h; memcpy(&h, p, 2); if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) h &= 0xfc00; memcpy(p, &h, 2); }
            if (dt == SK_DT_BF16) { uint16_t h; memcpy(&h, p, 2); if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) h &= 0xff80; memcpy(p, &h, 2); }
        }
        int64_t dims[2] = {n / 64, 64};
        char name[32];
        snprintf(name, sizeof name, "t_%s", sk_dtype_info((sk_dtype)dt)->name);
        int id = sk_graph_add_const(&m->g, name, (sk_dtype)dt, 2, dims, d, true);
        CHECK(id >= 0);
        m->g.tensors[id].flags |= SK_TF_WEIGHT;
        values += n;
    }
    CHECK(sk_graph_verify(&m->g) == SK_OK);
    int bad = round_trip(m, "bit-exact", false);
    fails += bad;
    printf("bit-exact: %ld random values of %d dtypes (incl. ±0, ±inf, subnormals) %s\n", values,
           SK_DT_COUNT - SK_DT_F32, bad ? "DIFFER" : "survive print → parse exactly");
    /* a canonical NaN reads back as a NaN */
    sk_model *q;
    CHECK(sk_ir_parse("const %n: f32[2] = [nan, -nan]\n", "nan.skir", &q) == SK_OK);
    if (q) { float *f = q->g.tensors[0].data; CHECK(isnan(f[0]) && isnan(f[1])); }
    sk_model_free(q);
    sk_model_free(m);
}

/* Empty and duplicate names get unique aliases that then round-trip. */
static void test_aliases(void)
{
    sk_model *m = sk_model_new();
    sk_graph *g = &m->g;
    int64_t d[1] = {2};
    int a = sk_graph_add_tensor(g, "", SK_DT_F32, 1, d);
    int b = sk_graph_add_tensor(g, "x", SK_DT_F32, 1, d);
    int c = sk_graph_add_tensor(g, "x", SK_DT_F32, 1, d);
    int e = sk_graph_add_tensor(g, "x_2", SK_DT_F32, 1, d);   /* collides with c's alias */
    int f = sk_graph_add_tensor(g, "", SK_DT_F32, 1, d);
    sk_graph_add_input(g, a);
    int ab[2] = {a, a};
    sk_graph_add_node(g, SK_OP_ADD, "", ab, 2, &b, 1);
    sk_graph_add_node(g, SK_OP_RELU, "n 1", &b, 1, &c, 1);
    sk_graph_add_node(g, SK_OP_NEG, "", &c, 1, &e, 1);
    sk_graph_add_node(g, SK_OP_EXP, "", &e, 1, &f, 1);
    sk_graph_add_output(g, f);
    CHECK(sk_graph_verify(g) == SK_OK);
    char *t = print_str(m, true), *t2 = NULL;
    printf("aliases:\n%s", t);
    CHECK(t && strstr(t, "%x_2_: f32[2] = Relu(%x) @\"n 1\"") && strstr(t, "input %_0"));
    sk_model *m2 = NULL;
    CHECK(t && sk_ir_parse(t, "aliases.skir", &m2) == SK_OK);
    if (m2) {   /* the aliases are now the names: the second print is the same */
        t2 = print_str(m2, true);
        CHECK(t2 && !strcmp(t, t2));
        fails += round_trip(m2, "aliases", true);
    }
    sk_model_free(m2);
    free(t);
    free(t2);
    /* a graph that does not verify still prints (the parser may then refuse it) */
    g->nodes[1].in[0] = 99;
    t = print_str(m, true);
    CHECK(t && strstr(t, "bad-id-99"));
    free(t);
    sk_model_free(m);
}

/* Odd values a pass or an importer may leave in the IR still print as text
 * that parses back to the same text. */
static void test_odd_ir(void)
{
    sk_model *m = sk_model_new();
    sk_graph *g = &m->g;
    int64_t d2[2] = {-5, 3}, d1[1] = {4};
    m->arch.hidden = -3;
    m->arch.n_labels = -1;
    m->arch.eps = NAN;
    snprintf(m->arch.task, sizeof m->arch.task, "nan");
    sk_model_add_prov(m, "", "{\n}");
    int x = sk_graph_add_tensor(g, "inf", SK_DT_UNDEF, 2, d2);
    g->tensors[x].dim_names[1] = sk_strdup("ignored on a static dim");
    g->tensors[x].dim_names[0] = sk_strdup("");
    sk_graph_add_input(g, x);
    unsigned char *q = sk_malloc(3);
    memcpy(q, "\x01\x02\x03", 3);
    int w = sk_graph_add_const(g, "w", SK_DT_U8, 1, d1, q, true);
    g->tensors[w].nbytes = 3;   /* packed: not one byte per element */
    g->tensors[w].quant = sk_malloc(sizeof(sk_quant));
    *g->tensors[w].quant = (sk_quant){.bits = 3, .group = -1, .axis = -1, .symmetric = true, .scales = x, .zeros = -1};
    int y = sk_graph_add_tensor(g, "y", SK_DT_F32, -1, NULL);
    int ins[2] = {x, w};
    int n = sk_graph_add_node(g, SK_OP_MATMUL, "a \"node\"", ins, 2, &y, 1);
    sk_node_set_s(&g->nodes[n], "a b", "\xc3\xa9\x7f");
    sk_node_set_f(&g->nodes[n], "nan", -INFINITY);
    sk_node_set_floats(&g->nodes[n], "f", NULL, 0);
    int ins3[3] = {x, w, w};
    sk_graph_add_node(g, SK_OP_LSTM, "", ins3, 3, NULL, 0);
    sk_graph_add_output(g, y);
    CHECK(sk_graph_verify(g) == SK_OK);
    char *t1 = print_str(m, false), *t2 = NULL;
    sk_model *m2 = NULL;
    CHECK(t1 && sk_ir_parse(t1, "odd.skir", &m2) == SK_OK);
    if (!m2) printf("%s\n%s", sk_errmsg(), t1 ? t1 : "");
    if (m2) {
        t2 = print_str(m2, false);
        CHECK(t2 && !strcmp(t1, t2));
        if (t2 && strcmp(t1, t2)) printf("--- first\n%s--- second\n%s", t1, t2);
        const sk_quant *qq = m2->g.tensors[sk_graph_find_tensor(&m2->g, "w")].quant;
        CHECK(qq && qq->axis == -1 && qq->group == -1 && qq->bits == 3 && qq->scales == sk_graph_find_tensor(&m2->g, "inf"));
        CHECK(m2->arch.hidden == -3 && isnan(m2->arch.eps) && !strcmp(m2->arch.task, "nan"));
    }
    printf("odd IR values: %s", t1 ? t1 : "(print failed)\n");
    free(t1);
    free(t2);
    sk_model_free(m2);
    sk_model_free(m);
}

typedef struct { const char *text, *want; } err_case;

static void test_errors(void)
{
    static const err_case cases[] = {
        {"input %x: f32[2]\n%y = Foo(%x)\noutput %y\n", "err.skir:2:6: unknown op 'Foo'"},
        {"input %x: f32[2]\n%y = Relu(%z)\noutput %y\n", "err.skir:2:11: undefined tensor %z"},
        {"input %x: f32[2]\noutput %q\n", "err.skir:2:8: undefined tensor %q"},
        {"input %x: f33[2]\n", "err.skir:1:11: unknown dtype 'f33' (one of f32, f16"},
        {"input %x: f32[2]\n%y = Add(%x)\noutput %y\n", "err.skir:2:6: node '' (Add): 1 inputs, expected 2..2"},
        {"input %x: f32[2]\n%y, %z = Relu(%x) @r\n", "node 'r' (Relu): 2 outputs, expected 1..1"},
        {"tensor %d: f32[2]\noutput %d\n", "err.skir: graph output 'd' is never produced"},
        {"tensor %d: f32[2]\n%y = Relu(%d) @r\n", "err.skir: node 'r' (Relu): input 0 'd' is used before it is produced"},
        {"input %x: f32[2] junk\n", "err.skir:1:18: expected end of line after an input, found 'junk'"},
        {"input %x: f32[2]\n%y = Relu(%x) {a=1} @n extra\n", "err.skir:2:24: expected end of line after a node, found 'extra'"},
        {"input %x: f32[2]\n%y = Relu(%x) {mode=\"abc}\n", "err.skir:2:21: unterminated string"},
        {"input %x: f32[2]\n%y = Add(%x %x)\n", "err.skir:2:13: expected ')' after inputs of Add, found '%x'"},
        {"input %x: f32[2]\n%y = Add(%x,\n %x\n", "err.skir:4:1: expected ')' after inputs of Add, found end of file"},
        {"const %w: f32[4294967296, 4294967296] = []\n", "err.skir:1:14: shape of %w overflows (more than 2^63 elements)"},
        {"input %x: f32[4611686018427387904]\n", "err.skir:1:14: shape of %x overflows (4611686018427387904 elements of f32)"},
        {"input %x: f32[99999999999999999999]\n", "err.skir:1:15: integer '99999999999999999999' out of range for a dimension"},
        {"input %x: f32[-1]\n", "err.skir:1:15: a dimension must be in 0.."},
        {"input %x: f32[1,1,1,1,1,1,1,1,1]\n", "err.skir:1:31: rank exceeds 8"},
        {"const %w: f32[20] = <80 bytes>\n", "err.skir:1:21: the values of %w were left out"},
        {"const %w: f32[3] = [1, 2]\n", "err.skir:1:7: %w needs 3 values for its shape, found 2"},
        {"const %w: f32[3] = [1, 2, 3, 4]\n", "err.skir:1:30: too many values for %w (its shape holds 3)"},
        {"const %w: f32[n] = [1]\n", "constant %w needs a static shape"},
        {"const %w = [1]\n", "constant %w needs a dtype and a shape"},
        {"const %c: i8[1] = [128]\n", "err.skir:1:20: 128 out of range for i8"},
        {"const %c: f16[1] = [70000]\n", "'70000' out of range for f16"},
        {"const %c: f32[1] = [1e39]\n", "'1e39' out of range for f32"},
        {"const %c: i64[1] = [1.5]\n", "expected an integer for an integer element, found '1.5'"},
        {"const %c: u8[2] = x\"0g\"\n", "bad hex digit"},
        {"const %c: u8[2] = x\"001\"\n", "odd number of hex digits"},
        {"const %c: u8[2] = x\"00\"\n", "%c: 1 bytes of data, its shape needs 2"},
        {"const %c: u8[2] = x\"00\n", "unterminated x\"...\" data"},
        {"input %x: f32[2]\ninput %x: f32[2]\n", "err.skir:2:7: %x is already defined (line 1)"},
        {"input %x: f32[2]\n%x = Relu(%x)\n", "err.skir:2:1: %x is already defined (line 1)"},
        {"input %x: f32[2] $\n", "err.skir:1:18: unexpected character '$'"},
        {"input %x: f32[2]\n%y = Relu(%x) {a=1, a=2}\n", "duplicate attribute 'a'"},
        {"input %x: f32[2]\n%y = Relu(%x) {a=relu}\n", "expected an attribute value, found 'relu' (strings are quoted)"},
        {"input %x: f32[2]\n%y = Relu(%x) {a=[1, \"s\"]}\n", "expected a number in the list of 'a', found a string"},
        {"model family=bert colour=red\n", "err.skir:1:19: unknown model field 'colour'"},
        {"model family=bert\nmodel layers=2\n", "err.skir:2:1: a second 'model' line"},
        {"model family=llama\n", "unknown family 'llama'"},
        {"model task=\"a very long task name that does not fit\"\n", "'task' is longer than 31 bytes"},
        {"weight %w: u8[1] quant{bits=4, scales=%nope} = [1]\n", "undefined tensor %nope in the quant of %w"},
        {"input %x: f32[2]\n%y = Relu(%x) {s=\"a\\qb\"}\n", "unknown escape in string"},
        {"input %\n", "err.skir:1:7: expected a name after '%'"},
        {"%y = Relu(%\"a\nb\")\n", "unterminated string"},
        {"= Relu()\n", "err.skir:1:1: expected a statement"},
        {"input %x: f32[2]\n%y Relu(%x)\n", "err.skir:2:4: expected '=' after the outputs of a node, found 'Relu'"},
    };
    int n = (int)(sizeof cases / sizeof cases[0]), ok = 0;
    for (int i = 0; i < n; i++) {
        sk_model *m = (sk_model *)1;
        sk_status st = sk_ir_parse(cases[i].text, "err.skir", &m);
        bool good = st != SK_OK && m == NULL && strstr(sk_errmsg(), cases[i].want) && !strchr(sk_errmsg(), '\n');
        if (!good) {
            printf("FAIL error case %d: got \"%s\"\n     want \"%s\"\n", i, st ? sk_errmsg() : "(parsed)", cases[i].want);
            fails++;
        } else ok++;
        if (!st) sk_model_free(m);
    }
    printf("error messages: %d/%d as expected, e.g. \"%s\"\n", ok, n, cases[11].want);
    /* these are fine */
    sk_model *m;
    CHECK(sk_ir_parse("", "empty.skir", &m) == SK_OK && m->g.n_tensors == 0);
    sk_model_free(m);
    CHECK(sk_ir_parse("# only a comment", NULL, &m) == SK_OK && m->source == NULL);
    sk_model_free(m);
    const char *lstm = "input %x: f32[1, 1, 1]\nconst %w: f32[1, 4, 1] = [1, 2, 3, 4]\nconst %r: f32[1, 4, 1] = [1, 2, 3, 4]\n"
                       "LSTM(%x, %w, %r) {hidden_size=1}\n_, %h = LSTM(%x, %w, %r, _, _)\noutput %h";
    CHECK(sk_ir_parse(lstm, "lstm.skir", &m) == SK_OK);
    if (m) {
        CHECK(m->g.n_nodes == 2 && m->g.nodes[0].n_out == 0 && m->g.nodes[1].in[4] == -1);
        fails += round_trip(m, "lstm", true);
    }
    sk_model_free(m);
    CHECK(sk_ir_parse_file("tests/ir/no-such-file.skir", &m) == SK_ERR_IO && m == NULL);
    /* found by fuzz_ir_parse: default quant fields must print as something the parser reads */
    CHECK(sk_ir_parse("input%w: u8[4] quant{}\noutput %w", "q.skir", &m) == SK_OK);
    if (m) fails += round_trip(m, "empty quant", true);
    sk_model_free(m);
}

/* Every allocation of a parse and a print may fail: an error, never a crash or a leak. */
static void test_alloc_failures(const char *text)
{
    int k, nomem = 0;
    for (k = 1; k < 100000; k++) {
        sk_model *m;
        sk_alloc_fail_after(k);
        sk_status st = sk_ir_parse(text, "oom.skir", &m);
        sk_alloc_fail_after(0);
        if (st == SK_OK) {
            /* now fail the printer's allocations */
            for (int j = 1; j < 50; j++) {
                FILE *f = fopen("/dev/null", "w");
                sk_alloc_fail_after(j);
                sk_status ps = sk_ir_print(m, f, true);
                sk_alloc_fail_after(0);
                fclose(f);
                if (ps == SK_OK) break;
                CHECK(ps == SK_ERR_NOMEM);
            }
            sk_model_free(m);
            break;
        }
        CHECK(m == NULL);
        if (st == SK_ERR_NOMEM) nomem++;
        else { printf("FAIL alloc failure %d gave %s: %s\n", k, sk_status_name(st), sk_errmsg()); fails++; }
    }
    printf("allocation failures: each of the %d allocations of a parse failed in turn, %d clean NOMEM errors\n", k - 1,
           nomem);
}

/* ---- mutation fuzzing ---- */
static const char *dict[] = {
    "%", "%x", "%\"", "@", "(", ")", "[", "]", "{", "}", ",", "=", ":", "\"", "\\", "\n", "_", "<", ">", "?", "#",
    "x\"", "0", "-1", "1e309", "nan", "-inf", "99999999999999999999", "4294967296", "f32", "i64", "u8", "bool",
    "f16", "undef", "input ", "output ", "const ", "weight ", "tensor ", "model ", "prov ", "quant{", "Add(", "Split",
    "LSTM", "Linear", "f32[]", "[1, 2.5]", " ", "\t", "\\x00", "\\x", "\xff", "\x01", ".", "0.5", "1e-45",
};

static char *mutate(const char *src)
{
    size_t n = strlen(src), cap = n * 2 + 256;
    char *s = malloc(cap);
    memcpy(s, src, n + 1);
    int k = 1 + (int)(rnd() % 4);
    for (int j = 0; j < k; j++) {
        size_t at = n ? rnd() % (n + 1) : 0;
        switch (rnd() % 6) {
        case 0:   /* overwrite a byte */
            if (at < n) s[at] = (char)(rnd() % 255 + 1);
            break;
        case 1: { /* delete a span */
            size_t len = 1 + rnd() % 16;
            if (at + len > n) len = n - at;
            memmove(s + at, s + at + len, n - at - len + 1);
            n -= len;
            break;
        }
        case 2: case 3: { /* insert a token */
            const char *t = dict[rnd() % (sizeof dict / sizeof dict[0])];
            size_t len = strlen(t);
            if (n + len + 1 > cap) break;
            memmove(s + at + len, s + at, n - at + 1);
            memcpy(s + at, t, len);
            n += len;
            break;
        }
        case 4: { /* duplicate a span */
            size_t len = 1 + rnd() % 64;
            if (at + len > n) len = n - at;
            if (n + len + 1 > cap) break;
            memmove(s + at + len, s + at, n - at + 1);
            n += len;
            break;
        }
        default: /* truncate */
            if (rnd() % 4 == 0) { s[at] = 0; n = at; }
            break;
        }
    }
    return s;
}

static void test_fuzz(char **files, int nfiles)
{
    long iters = 400, parsed = 0, errors = 0, total = 0;
    const char *e = getenv("SHRINK_FUZZ_ITERS");
    if (e) iters = atol(e);
    for (int i = 0; i < nfiles; i++) {
        char *src = read_text(files[i]);
        if (!src) continue;
        for (long it = 0; it < iters; it++) {
            char *s = mutate(src);
            sk_model *m;
            total++;
            if (sk_ir_parse(s, "fuzz.skir", &m) == SK_OK) {
                parsed++;
                int bad = round_trip(m, "fuzz.skir", false);
                if (bad) { printf("FAIL mutated input that round-trips badly:\n%s\n", s); fails++; }
                sk_model_free(m);
            } else {
                errors++;
                const char *msg = sk_errmsg();
                if (strncmp(msg, "fuzz.skir:", 10) || strchr(msg, '\n')) {
                    printf("FAIL error without file:line or on several lines: \"%s\"\n", msg);
                    fails++;
                }
            }
            free(s);
        }
        sk_free(src);
    }
    printf("mutation fuzz: %ld mutated files, %ld parsed (and round-tripped), %ld errors, no crash\n", total, parsed,
           errors);
}

int main(void)
{
    char **files;
    int n = golden_files(&files);
    test_golden(files, n);
    test_golden_figures();
    test_bit_exact();
    test_aliases();
    test_odd_ir();
    test_errors();
    char *syn = read_text("tests/ir/syntax.skir");
    CHECK(syn != NULL);
    if (syn) test_alloc_failures(syn);
    sk_free(syn);
    test_fuzz(files, n);
    for (int i = 0; i < n; i++) sk_free(files[i]);
    free(files);
    printf("%s\n", fails ? "FAILED" : "all ok");
    return fails ? 1 : 0;
}
