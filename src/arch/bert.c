/* bert.c — the BERT template (BertModel, BertForSequenceClassification).
 *
 * Builds the encoder from fused ops, following HF's modeling_bert:
 *   embeddings   word[input_ids] + token_type[token_type_ids] + position[arange(S)] → LAYERNORM
 *   each layer   q, k, v = LINEAR(h)            (nn.Linear: W [out, in], wt = 1)
 *                a  = ATTENTION(q, k, v, attention_mask)
 *                h1 = SKIP_LAYERNORM(LINEAR(a), h)
 *                h  = SKIP_LAYERNORM(LINEAR(LINEAR(h1, act)), h1)
 *   pooler       tanh(LINEAR(h[:, 0]))
 *   classifier   LINEAR(pooled) → logits
 * Position ids are a slice of a constant arange [max_pos] by the sequence
 * length (Shape → Slice), so any S ≤ max_pos works.  Dropout is absent (we
 * only do inference).  Weights come from the callback (arch.h).
 */
#include <stdio.h>
#include <string.h>
#include "arch/arch.h"

sk_status sk_arch_bert_build(sk_model *m, const sk_arch *a, sk_arch_weight_fn w, void *ctx)
{
    sk_status st = sk_arch_check(a);
    if (st) return st;
    if (a->family != SK_FAM_BERT) return sk_err(SK_ERR_INVALID, "bert template: arch family is %s", sk_family_name(a->family));
    if (m->g.n_tensors || m->g.n_nodes) return sk_err(SK_ERR_INVALID, "bert template: graph is not empty");
    sk_ab b = {.m = m, .wfn = w, .wctx = ctx};
    const bool cls = !strcmp(a->task, "seq-classification");
    const char *p = cls ? "bert." : "";   /* HF saves BertModel without the prefix */
    const int64_t H = a->hidden, F = a->ffn, V = a->vocab, P = a->max_pos, T = a->type_vocab;
    const char *act = sk_arch_linear_act(a->act);
    const int64_t dH[1] = {H}, dF[1] = {F}, dHH[2] = {H, H}, dFH[2] = {F, H}, dHF[2] = {H, F};
    const int64_t dact[3] = {-1, -1, H}, d1[1] = {1};
    char n[160];

    int ids = sk_ab_input2(&b, "input_ids", "batch", "sequence");
    int mask = sk_ab_input2(&b, "attention_mask", "batch", "sequence");
    int tt = sk_ab_input2(&b, "token_type_ids", "batch", "sequence");

    /* ---- embeddings ---- */
    int wemb = sk_ab_weight(&b, false, 2, (int64_t[]){V, H}, "%sembeddings.word_embeddings.weight", p);
    int pemb = sk_ab_weight(&b, false, 2, (int64_t[]){P, H}, "%sembeddings.position_embeddings.weight", p);
    int temb = sk_ab_weight(&b, false, 2, (int64_t[]){T, H}, "%sembeddings.token_type_embeddings.weight", p);
    int eg = sk_ab_weight(&b, false, 1, dH, "%sembeddings.LayerNorm.weight", p);
    int eb = sk_ab_weight(&b, false, 1, dH, "%sembeddings.LayerNorm.bias", p);

    int nd = -1;
    int we = sk_ab_node(&b, SK_OP_GATHER, "embeddings.word_embeddings", (int[]){wemb, ids}, 2, SK_DT_F32, 3, dact, &nd);
    sk_ab_set_i(&b, nd, "axis", 0);
    int te = sk_ab_node(&b, SK_OP_GATHER, "embeddings.token_type_embeddings", (int[]){temb, tt}, 2, SK_DT_F32, 3,
                        dact, &nd);
    sk_ab_set_i(&b, nd, "axis", 0);

    /* position ids = arange[0 : S], S = shape(input_ids)[1:2] */
    int c0 = sk_ab_const_i64(&b, "const.i64.0", 1, d1, (int64_t[]){0});
    int c1 = sk_ab_const_i64(&b, "const.i64.1", 1, d1, (int64_t[]){1});
    int c2 = sk_ab_const_i64(&b, "const.i64.2", 1, d1, (int64_t[]){2});
    int64_t *ar = b.st ? NULL : sk_malloc((size_t)P * sizeof *ar);
    if (!b.st && !ar) b.st = SK_ERR_NOMEM;
    for (int64_t i = 0; ar && i < P; i++) ar[i] = i;
    int arange = sk_ab_const_i64(&b, "embeddings.position_ids", 1, (int64_t[]){P}, ar);
    sk_free(ar);
    int shp = sk_ab_node(&b, SK_OP_SHAPE, "embeddings.shape", &ids, 1, SK_DT_I64, 1, (int64_t[]){2}, NULL);
    int slen = sk_ab_node(&b, SK_OP_SLICE, "embeddings.seq_len", (int[]){shp, c1, c2, c0}, 4, SK_DT_I64, 1, d1, NULL);
    int pos = sk_ab_node(&b, SK_OP_SLICE, "embeddings.position_ids.slice", (int[]){arange, c0, slen, c0}, 4,
                         SK_DT_I64, 1, (int64_t[]){-1}, NULL);
    int pe = sk_ab_node(&b, SK_OP_GATHER, "embeddings.position_embeddings", (int[]){pemb, pos}, 2, SK_DT_F32, 2,
                        (int64_t[]){-1, H}, &nd);
    sk_ab_set_i(&b, nd, "axis", 0);
    int e = sk_ab_add(&b, "embeddings.add_token_type", we, te);
    e = sk_ab_add(&b, "embeddings.add_position", e, pe);
    int h = sk_ab_layernorm(&b, "embeddings.LayerNorm", e, eg, eb, a->eps);

    /* ---- encoder ---- */
    for (int i = 0; i < a->n_layers && !b.st; i++) {
        const char *L = "encoder.layer";
        const int64_t A = sk_arch_layer_width(a, i);   /* heads kept × head size */
        const int64_t dA[1] = {A}, dAH[2] = {A, H}, dHA[2] = {H, A}, dattn[3] = {-1, -1, A};
#define WT(dims, what) sk_ab_weight(&b, false, sizeof dims / sizeof dims[0], dims, "%s%s.%d." what, p, L, i)
        int wq = WT(dAH, "attention.self.query.weight"), bq = WT(dA, "attention.self.query.bias");
        int wk = WT(dAH, "attention.self.key.weight"), bk = WT(dA, "attention.self.key.bias");
        int wv = WT(dAH, "attention.self.value.weight"), bv = WT(dA, "attention.self.value.bias");
        int wo = WT(dHA, "attention.output.dense.weight"), bo = WT(dH, "attention.output.dense.bias");
        int g1 = WT(dH, "attention.output.LayerNorm.weight"), b1 = WT(dH, "attention.output.LayerNorm.bias");
        int wi = WT(dFH, "intermediate.dense.weight"), bi = WT(dF, "intermediate.dense.bias");
        int w2 = WT(dHF, "output.dense.weight"), b2 = WT(dH, "output.dense.bias");
        int g2 = WT(dH, "output.LayerNorm.weight"), be2 = WT(dH, "output.LayerNorm.bias");
#undef WT
#define NM(what) (snprintf(n, sizeof n, "%s.%d." what, L, i), n)
        int q = sk_ab_linear(&b, NM("attention.self.query"), h, wq, bq, 1, A, NULL);
        int k = sk_ab_linear(&b, NM("attention.self.key"), h, wk, bk, 1, A, NULL);
        int v = sk_ab_linear(&b, NM("attention.self.value"), h, wv, bv, 1, A, NULL);
        int at = sk_ab_node(&b, SK_OP_ATTENTION, NM("attention.self"), (int[]){q, k, v, mask}, 4, SK_DT_F32, 3, dattn,
                            &nd);
        sk_ab_set_i(&b, nd, "num_heads", sk_arch_layer_heads(a, i));
        sk_ab_set_i(&b, nd, "causal", 0);
        int ao = sk_ab_linear(&b, NM("attention.output.dense"), at, wo, bo, 1, H, NULL);
        int h1 = sk_ab_node(&b, SK_OP_SKIP_LAYERNORM, NM("attention.output.LayerNorm"), (int[]){ao, h, g1, b1}, 4,
                            SK_DT_F32, 3, dact, &nd);
        sk_ab_set_f(&b, nd, "epsilon", a->eps);
        int it = sk_ab_linear(&b, NM("intermediate.dense"), h1, wi, bi, 1, F, act);
        int o = sk_ab_linear(&b, NM("output.dense"), it, w2, b2, 1, H, NULL);
        h = sk_ab_node(&b, SK_OP_SKIP_LAYERNORM, NM("output.LayerNorm"), (int[]){o, h1, g2, be2}, 4, SK_DT_F32, 3,
                       dact, &nd);
        sk_ab_set_f(&b, nd, "epsilon", a->eps);
#undef NM
    }

    /* ---- pooler (optional in a bare BertModel: add_pooling_layer=False) and classifier ---- */
    int wp = sk_ab_weight(&b, !cls, 2, dHH, "%spooler.dense.weight", p);
    int bp = wp < 0 ? -1 : sk_ab_weight(&b, false, 1, dH, "%spooler.dense.bias", p);
    int pooled = -1;
    if (wp >= 0) {
        int c00 = sk_ab_const_i64(&b, "const.i64.scalar0", 0, NULL, (int64_t[]){0});
        int first = sk_ab_node(&b, SK_OP_GATHER, "pooler.first_token", (int[]){h, c00}, 2, SK_DT_F32, 2,
                               (int64_t[]){-1, H}, &nd);
        sk_ab_set_i(&b, nd, "axis", 1);
        pooled = sk_ab_linear(&b, "pooler.dense", first, wp, bp, 1, H, "tanh");
    }
    if (cls) {
        int64_t NL = a->n_labels;
        int wc = sk_ab_weight(&b, false, 2, (int64_t[]){NL, H}, "classifier.weight");
        int bc = sk_ab_weight(&b, false, 1, (int64_t[]){NL}, "classifier.bias");
        int logits = sk_ab_linear(&b, "classifier", pooled, wc, bc, 1, NL, NULL);
        sk_ab_output(&b, logits, "logits", (const char *const[]){"batch", NULL});
    } else {
        sk_ab_output(&b, h, "last_hidden_state", (const char *const[]){"batch", "sequence", NULL});
        if (pooled >= 0) sk_ab_output(&b, pooled, "pooler_output", (const char *const[]){"batch", NULL});
    }
    return b.st;
}
