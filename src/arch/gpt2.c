/* gpt2.c — the GPT-2 template (GPT2Model, GPT2LMHeadModel).
 *
 * Builds the decoder from fused ops, following HF's modeling_gpt2:
 *   embeddings   wte[input_ids] + wpe[position_ids]
 *   each block   a = LAYERNORM(h) (ln_1);  q, k, v = SPLIT(LINEAR(a) (c_attn), 3 × H)
 *                h = h + LINEAR(ATTENTION(q, k, v, attention_mask, causal))   (c_proj)
 *                h = h + LINEAR(LINEAR(LAYERNORM(h) (ln_2), act) (c_fc))        (mlp.c_proj)
 *   final        LAYERNORM (ln_f); lm: logits = LINEAR(h, wte), the head tied to wte
 * HF stores these linears as Conv1D, W [in, out]: LINEAR with wt = 0 reads
 * them as they are, nothing is transposed or copied.  The fused c_attn
 * weight's q/k/v column blocks are not contiguous, so its output is split.
 * position_ids is an input: the session fills past + arange(S) when unbound,
 * which is what a KV-cache run needs.
 */
#include <stdio.h>
#include <string.h>
#include "arch/arch.h"

sk_status sk_arch_gpt2_build(sk_model *m, const sk_arch *a, sk_arch_weight_fn w, void *ctx)
{
    sk_status st = sk_arch_check(a);
    if (st) return st;
    if (a->family != SK_FAM_GPT2) return sk_err(SK_ERR_INVALID, "gpt2 template: arch family is %s", sk_family_name(a->family));
    if (m->g.n_tensors || m->g.n_nodes) return sk_err(SK_ERR_INVALID, "gpt2 template: graph is not empty");
    sk_ab b = {.m = m, .wfn = w, .wctx = ctx};
    const bool lm = !strcmp(a->task, "lm");
    const char *p = lm ? "transformer." : "";   /* HF saves GPT2Model without the prefix */
    const int64_t H = a->hidden, F = a->ffn, V = a->vocab, P = a->max_pos;
    const char *act = sk_arch_linear_act(a->act);
    const int64_t dH[1] = {H}, dF[1] = {F};
    const int64_t dHF[2] = {H, F}, dFH[2] = {F, H}, dact[3] = {-1, -1, H};
    char n[160];

    int ids = sk_ab_input2(&b, "input_ids", "batch", "sequence");
    int mask = sk_ab_input2(&b, "attention_mask", "batch", "past_sequence+sequence");
    int pos = sk_ab_input2(&b, "position_ids", "batch", "sequence");

    int wte = sk_ab_weight(&b, false, 2, (int64_t[]){V, H}, "%swte.weight", p);
    int wpe = sk_ab_weight(&b, false, 2, (int64_t[]){P, H}, "%swpe.weight", p);
    int nd = -1;
    int te = sk_ab_node(&b, SK_OP_GATHER, "wte", (int[]){wte, ids}, 2, SK_DT_F32, 3, dact, &nd);
    sk_ab_set_i(&b, nd, "axis", 0);
    int pe = sk_ab_node(&b, SK_OP_GATHER, "wpe", (int[]){wpe, pos}, 2, SK_DT_F32, 3, dact, &nd);
    sk_ab_set_i(&b, nd, "axis", 0);
    int h = sk_ab_add(&b, "embeddings", te, pe);
    int split = sk_ab_const_i64(&b, "const.split_qkv", 1, (int64_t[]){3}, (int64_t[]){H, H, H});

    for (int i = 0; i < a->n_layers && !b.st; i++) {
        const int64_t A = sk_arch_layer_width(a, i);   /* heads kept × head size */
        const int64_t d3A[1] = {3 * A}, dH3A[2] = {H, 3 * A}, dAH[2] = {A, H}, dattn[3] = {-1, -1, A};
        int split_l = split;
        if (A != H) {   /* pruned heads: this layer's own split sizes */
            snprintf(n, sizeof n, "h.%d.attn.split_sizes", i);
            split_l = sk_ab_const_i64(&b, n, 1, (int64_t[]){3}, (int64_t[]){A, A, A});
        }
#define WT(dims, what) sk_ab_weight(&b, false, sizeof dims / sizeof dims[0], dims, "%sh.%d." what, p, i)
        int g1 = WT(dH, "ln_1.weight"), b1 = WT(dH, "ln_1.bias");
        int wqkv = WT(dH3A, "attn.c_attn.weight"), bqkv = WT(d3A, "attn.c_attn.bias");
        int wo = WT(dAH, "attn.c_proj.weight"), bo = WT(dH, "attn.c_proj.bias");
        int g2 = WT(dH, "ln_2.weight"), b2 = WT(dH, "ln_2.bias");
        int wfc = WT(dHF, "mlp.c_fc.weight"), bfc = WT(dF, "mlp.c_fc.bias");
        int wpr = WT(dFH, "mlp.c_proj.weight"), bpr = WT(dH, "mlp.c_proj.bias");
#undef WT
#define NM(what) (snprintf(n, sizeof n, "h.%d." what, i), n)
        int x = sk_ab_layernorm(&b, NM("ln_1"), h, g1, b1, a->eps);
        int qkv = sk_ab_linear(&b, NM("attn.c_attn"), x, wqkv, bqkv, 0, 3 * A, NULL);
        int qkvs[3] = {-1, -1, -1};
        if (!b.st) {   /* SPLIT has three outputs: built by hand */
            static const char *part[3] = {"q", "k", "v"};
            for (int j = 0; j < 3 && !b.st; j++) {
                snprintf(n, sizeof n, "h.%d.attn.%s", i, part[j]);
                if ((qkvs[j] = sk_graph_add_tensor(&m->g, n, SK_DT_F32, 3, dattn)) < 0) b.st = SK_ERR_NOMEM;
            }
            nd = b.st ? -1 : sk_graph_add_node(&m->g, SK_OP_SPLIT, NM("attn.split"), (int[]){qkv, split_l}, 2, qkvs, 3);
            if (nd < 0) b.st = SK_ERR_NOMEM;
            sk_ab_set_i(&b, nd, "axis", -1);
        }
        int at = sk_ab_node(&b, SK_OP_ATTENTION, NM("attn"), (int[]){qkvs[0], qkvs[1], qkvs[2], mask}, 4, SK_DT_F32,
                            3, dattn, &nd);
        sk_ab_set_i(&b, nd, "num_heads", sk_arch_layer_heads(a, i));
        sk_ab_set_i(&b, nd, "causal", 1);
        int ao = sk_ab_linear(&b, NM("attn.c_proj"), at, wo, bo, 0, H, NULL);
        h = sk_ab_add(&b, NM("attn.residual"), ao, h);
        x = sk_ab_layernorm(&b, NM("ln_2"), h, g2, b2, a->eps);
        int f = sk_ab_linear(&b, NM("mlp.c_fc"), x, wfc, bfc, 0, F, act);
        int o = sk_ab_linear(&b, NM("mlp.c_proj"), f, wpr, bpr, 0, H, NULL);
        h = sk_ab_add(&b, NM("mlp.residual"), o, h);
#undef NM
    }
    int gf = sk_ab_weight(&b, false, 1, dH, "%sln_f.weight", p);
    int bf = sk_ab_weight(&b, false, 1, dH, "%sln_f.bias", p);
    h = sk_ab_layernorm(&b, "ln_f", h, gf, bf, a->eps);
    if (lm) {
        /* an untied head (tie_word_embeddings=false) is saved as lm_head.weight */
        int head = sk_ab_weight(&b, true, 2, (int64_t[]){V, H}, "lm_head.weight");
        int logits = sk_ab_linear(&b, "lm_head", h, head >= 0 ? head : wte, -1, 1, V, NULL);
        sk_ab_output(&b, logits, "logits", (const char *const[]){"batch", "sequence", NULL});
    } else {
        sk_ab_output(&b, h, "last_hidden_state", (const char *const[]){"batch", "sequence", NULL});
    }
    return b.st;
}
