/* eval.c — `shrink eval MODEL --data FILE`: accuracy or perplexity. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "eval/eval.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink eval MODEL --data FILE [--n-ctx N] [--limit N] [--threads N] [--json]\n"
            "\n"
            "Measure MODEL in shrink's runtime:\n"
            "  FILE.jsonl  classification accuracy; lines {\"text\": ..., \"label\": k} (tokenized with the\n"
            "              model's tokenizer, one example at a time) or {\"input\": [numbers], \"label\": k}\n"
            "  other FILE  perplexity on raw text: windows of n_ctx tokens, second half of each scored\n"
            "              (llama.cpp's convention)\n"
            "\n"
            "  --n-ctx N    perplexity window (default 128, or the model's max positions if smaller)\n"
            "  --max-len N  classification: truncate to N tokens (default: the tokenizer's model_max_length,\n"
            "               else the model's max positions)\n"
            "  --limit N    only the first N examples / windows\n"
            "  --threads N  threads (default: all cores, or SHRINK_THREADS)\n"
            "  --json       print one JSON object\n"
            "\n"
            "example: shrink eval samples/zoo/bert-fortunes --data samples/data/fortunes-test.jsonl\n");
}

int cmd_eval(int argc, char **argv)
{
    const char *path = NULL, *data = NULL;
    bool json = false;
    sk_eval_opts o = {.progress = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (!strcmp(a, "--data") && has) data = argv[++i];
        else if (!strcmp(a, "--n-ctx") && has) o.n_ctx = atoi(argv[++i]);
        else if (!strcmp(a, "--max-len") && has) o.max_len = atoi(argv[++i]);
        else if (!strcmp(a, "--limit") && has) o.limit = atol(argv[++i]);
        else if (!strcmp(a, "--threads") && has) o.threads = atoi(argv[++i]);
        else if (!strcmp(a, "--json")) json = true;
        else if (a[0] == '-') return cli_usage("eval", "unknown option or missing value '%s'", a);
        else if (!path) path = a;
        else return cli_usage("eval", "unexpected argument '%s'", a);
    }
    if (!path) return cli_usage("eval", "missing MODEL");
    if (!data) return cli_usage("eval", "missing --data FILE");
    if (o.n_ctx < 0 || o.limit < 0 || o.max_len < 0) return cli_usage("eval", "negative value");
    sk_model *m;
    sk_status st = sk_model_load(path, &m);
    if (st) return cli_fail(st);
    sk_eval_result r;
    st = sk_eval_auto(m, data, &o, &r);
    sk_model_free(m);
    if (st) return cli_fail(st);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", path);
        cJSON_AddStringToObject(j, "data", data);
        cJSON_AddStringToObject(j, "metric", r.metric);
        cJSON_AddNumberToObject(j, "value", r.value);
        cJSON_AddNumberToObject(j, "n", (double)r.n);
        if (r.n_ctx) { cJSON_AddNumberToObject(j, "n_ctx", r.n_ctx); cJSON_AddNumberToObject(j, "windows", (double)r.n_windows); }
        cJSON_AddNumberToObject(j, "seconds", r.seconds);
        char *s = cJSON_PrintUnformatted(j);
        puts(s);
        free(s);
        cJSON_Delete(j);
    } else if (r.n_ctx) {
        printf("perplexity %.4f  (n_ctx %d, %ld windows, %ld scored tokens, %s, %.1fs)\n", r.value, r.n_ctx, r.n_windows,
               r.n, data, r.seconds);
    } else {
        printf("accuracy %.4f  (%ld examples, %s, %.1fs)\n", r.value, r.n, data, r.seconds);
    }
    sk_free(r.pred);
    return 0;
}
