/* bench.c — `shrink bench MODEL`: latency percentiles, tokens/s, peak RSS. */
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
            "usage: shrink bench MODEL [--seq N] [--batch N] [--iters N] [--warmup N] [--gen N] [--threads N] [--json]\n"
            "\n"
            "Measure MODEL's latency in shrink's runtime on random inputs of the given shape.\n"
            "\n"
            "  --seq N      sequence length (default 128)\n"
            "  --batch N    batch size (default 1)\n"
            "  --iters N    timed runs (default 20; 3 with --gen)\n"
            "  --warmup N   untimed runs first (default 3)\n"
            "  --gen N      GPT-2: generate N tokens after a prompt of --seq tokens and report tokens/s\n"
            "  --threads N  threads (default: all cores, or SHRINK_THREADS)\n"
            "  --json       print one JSON object\n"
            "\n"
            "example: shrink bench samples/zoo/bert-fortunes --seq 128 --batch 1\n");
}

int cmd_bench(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    sk_bench_opts o = {.batch = 1, .seq = 128, .warmup = 3};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *iv = NULL;
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (!strcmp(a, "--seq")) iv = &o.seq;
        else if (!strcmp(a, "--batch")) iv = &o.batch;
        else if (!strcmp(a, "--iters")) iv = &o.iters;
        else if (!strcmp(a, "--warmup")) iv = &o.warmup;
        else if (!strcmp(a, "--gen")) iv = &o.gen;
        else if (!strcmp(a, "--threads")) iv = &o.threads;
        else if (!strcmp(a, "--json")) { json = true; continue; }
        else if (a[0] == '-') return cli_usage("bench", "unknown option '%s'", a);
        else if (!path) { path = a; continue; }
        else return cli_usage("bench", "unexpected argument '%s'", a);
        if (i + 1 >= argc) return cli_usage("bench", "%s needs a value", a);
        char *end;
        long v = strtol(argv[++i], &end, 10);
        if (*end || v < 0 || v > 1000000) return cli_usage("bench", "%s wants a non-negative integer, got '%s'", a, argv[i]);
        *iv = (int)v;
    }
    if (!path) return cli_usage("bench", "missing MODEL");
    if (o.seq < 1 || o.batch < 1) return cli_usage("bench", "--seq and --batch must be at least 1");
    sk_model *m;
    sk_status st = sk_model_load(path, &m);
    if (st) return cli_fail(st);
    sk_bench_result r;
    st = sk_bench(m, &o, &r);
    sk_model_free(m);
    if (st) return cli_fail(st);
    int threads = o.threads ? o.threads : sk_default_threads();
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", path);
        cJSON_AddNumberToObject(j, "batch", o.batch);
        cJSON_AddNumberToObject(j, "seq", o.seq);
        cJSON_AddNumberToObject(j, "threads", threads);
        cJSON_AddNumberToObject(j, "iters", r.iters);
        cJSON_AddNumberToObject(j, "p50_ms", r.p50_ms);
        cJSON_AddNumberToObject(j, "p90_ms", r.p90_ms);
        cJSON_AddNumberToObject(j, "p99_ms", r.p99_ms);
        cJSON_AddNumberToObject(j, "mean_ms", r.mean_ms);
        if (o.gen) { cJSON_AddNumberToObject(j, "gen", o.gen); cJSON_AddNumberToObject(j, "tokens_per_s", r.tokens_per_s); }
        cJSON_AddNumberToObject(j, "peak_rss_kb", (double)r.peak_rss_kb);
        char *s = cJSON_PrintUnformatted(j);
        puts(s);
        free(s);
        cJSON_Delete(j);
    } else {
        printf("model      %s\nshape      batch %d, seq %d, %d threads\n", path, o.batch, o.seq, threads);
        if (o.gen) printf("generation %d tokens: %.1f tokens/s (best of %d)\n", o.gen, r.tokens_per_s, r.iters);
        printf("latency    p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  (%d runs)\npeak RSS   %.1f MiB\n", r.p50_ms, r.p90_ms,
               r.p99_ms, r.iters, r.peak_rss_kb / 1024.0);
    }
    return 0;
}
