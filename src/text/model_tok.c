/* model_tok.c — the tokenizer that belongs to a model.
 *
 * A model loaded from a .skm carries its tokenizer files inside it
 * (m->files); one imported from ONNX or a Hugging Face folder points at the
 * folder that holds them (m->tokenizer_dir).  Commands that turn text into
 * ids ask here instead of choosing between the two themselves.
 */
#include "ir/ir.h"
#include "text/text.h"
#include "util/util.h"

bool sk_model_has_tokenizer(const sk_model *m)
{
    return m->n_files > 0 || m->tokenizer_dir;
}

sk_status sk_model_tokenizer(const sk_model *m, sk_tokenizer **out)
{
    *out = NULL;
    const char *where = m->source ? m->source : "model";
    if (m->n_files > 0) {
        sk_tok_file *f = sk_malloc((size_t)m->n_files * sizeof *f);
        if (!f) return SK_ERR_NOMEM;
        for (int i = 0; i < m->n_files; i++) f[i] = (sk_tok_file){m->files[i].name, m->files[i].data, m->files[i].len};
        sk_status st = sk_tok_load_mem(where, f, m->n_files, out);
        sk_free(f);
        return st;
    }
    if (m->tokenizer_dir) return sk_tok_load_dir(m->tokenizer_dir, out);
    return sk_err(SK_ERR_INVALID, "%s: no tokenizer (vocab.txt, or vocab.json + merges.txt) beside the model "
                  "or embedded in it", where);
}

int sk_model_max_len(const sk_model *m, const sk_tokenizer *t)
{
    int tl = t ? sk_tok_max_length(t) : 0, mp = m->arch.max_pos > 0 ? m->arch.max_pos : 0;
    if (tl > 0 && (mp == 0 || tl < mp)) return tl;
    return mp;
}
