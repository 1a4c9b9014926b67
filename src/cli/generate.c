/* generate.c — `shrink generate MODEL --prompt TEXT`: GPT-2 text generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "eval/eval.h"
#include "util/util.h"
#include "text/text.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink generate MODEL --prompt TEXT [-n N] [--top-k K] [--temperature T] [--seed S] [--threads N]\n"
            "\n"
            "Continue TEXT with a GPT-2 model (greedy unless --top-k > 1 and --temperature > 0).\n"
            "\n"
            "  -n N             new tokens (default 50)\n"
            "  --top-k K        sample among the K most likely tokens (default 1: greedy)\n"
            "  --temperature T  softmax temperature for sampling (default 1.0)\n"
            "  --seed S         random seed for sampling (default 1)\n"
            "\n"
            "example: shrink generate samples/zoo/gpt2-fortunes --prompt \"The computer\" -n 40 --top-k 40 --seed 7\n");
}

typedef struct { const sk_tokenizer *tok; } printer;

static void print_token(void *ctx, int32_t id)
{
    const printer *p = ctx;
    size_t len;   /* raw bytes: a character split across tokens prints whole once both are out */
    const char *s = sk_tok_id_to_bytes(p->tok, id, &len);
    if (s) { fwrite(s, 1, len, stdout); fflush(stdout); }
}

int cmd_generate(int argc, char **argv)
{
    const char *path = NULL, *prompt = NULL;
    sk_gen_opts o = {.n_new = 50, .top_k = 1, .temperature = 1.0f, .seed = 1, .eos = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(stdout); return 0; }
        bool has = i + 1 < argc;
        if (!strcmp(a, "--prompt") && has) prompt = argv[++i];
        else if (!strcmp(a, "-n") && has) o.n_new = atoi(argv[++i]);
        else if (!strcmp(a, "--top-k") && has) o.top_k = atoi(argv[++i]);
        else if (!strcmp(a, "--temperature") && has) o.temperature = (float)atof(argv[++i]);
        else if (!strcmp(a, "--seed") && has) o.seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--threads") && has) o.threads = atoi(argv[++i]);
        else if (a[0] == '-') return cli_usage("generate", "unknown option or missing value '%s'", a);
        else if (!path) path = a;
        else return cli_usage("generate", "unexpected argument '%s'", a);
    }
    if (!path) return cli_usage("generate", "missing MODEL");
    if (!prompt) return cli_usage("generate", "missing --prompt");
    if (o.n_new < 0) return cli_usage("generate", "-n must be >= 0");
    sk_model *m = NULL;
    sk_tokenizer *tok = NULL;
    int32_t *ids = NULL, *out = NULL;
    int n, n_out, rc = 0;
    sk_status st = sk_model_load(path, &m);
    if (st) return cli_fail(st);
    if (!sk_model_has_tokenizer(m)) { st = sk_err(SK_ERR_INVALID, "%s: no tokenizer (vocab.json + merges.txt) beside the model", path); goto fail; }
    if ((st = sk_model_tokenizer(m, &tok))) goto fail;
    if ((st = sk_tok_encode(tok, prompt, false, 0, &ids, &n))) goto fail;
    printer p = {tok};
    o.on_token = print_token;
    o.ctx = &p;
    fputs(prompt, stdout);
    if ((st = sk_generate(m, ids, n, &o, &out, &n_out))) goto fail;
    putchar('\n');
    goto done;
fail:
    rc = cli_fail(st);
done:
    free(ids);
    free(out);
    sk_tok_free(tok);
    sk_model_free(m);
    return rc;
}
