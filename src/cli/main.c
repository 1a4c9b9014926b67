/* main.c — the shrink program: dispatch to a subcommand.  */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "util/util.h"

typedef struct { const char *name; int (*fn)(int, char **); const char *help; } command;

static const command commands[] = {
    {"run", cmd_run, "run a model on .npy inputs or text; write or print its outputs"},
    {"eval", cmd_eval, "accuracy (labelled JSONL) or perplexity (raw text) in shrink's runtime"},
    {"bench", cmd_bench, "latency percentiles, tokens/s and peak memory of a model"},
    {"generate", cmd_generate, "continue a prompt with a GPT-2 model (KV cache, greedy or top-k)"},
    {"inspect", cmd_inspect, "architecture, parameters, bytes by dtype, op histogram, inputs and outputs"},
    {"ir", cmd_ir, "print a model as text IR (ir dump), or check a .skir file (ir check)"},
    {"convert", cmd_convert, "between .onnx, .safetensors (+ config.json) and .skm, chosen by extension"},
    {"quantize", cmd_quantize, "int8 (W8A8, SmoothQuant) or int4 (RTN, GPTQ, AWQ) quantization of linear layers"},
    {"prune", cmd_prune, "unstructured / N:M sparsity (magnitude, Wanda, SparseGPT) or head and FFN pruning"},
    {"distill", cmd_distill, "train a smaller student from a teacher (KD + CE + cosine / MSE, AdamW, checkpoints)"},
    {"compress", cmd_compress, "run a recipe's passes, measure before and after, write OUT only if the budgets hold"},
    {"sweep", cmd_sweep, "run many recipes over one model (shrink compress each, N at a time), one table"},
    {"report", cmd_report, "one trade-off table (md, csv, json, html) and plots from compress reports"},
    {"passes", cmd_passes, "list the passes (built-in and --plugin) with their parameters"},
    {"version", cmd_version, "print the version and the CPU features in use"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

const char *cli_argv0 = "shrink";

int cli_fail(sk_status st)
{
    const char *m = sk_errmsg();
    fprintf(stderr, "shrink: %s\n", m[0] ? m : sk_status_name(st));
    if (st == SK_ERR_USAGE) return 2;
    if (st == SK_ERR_GATE) return 3;
    return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "shrink %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'shrink %s --help')\n", cmd);
    return 2;
}

bool cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

int cmd_version(int argc, char **argv)
{
    (void)argc; (void)argv;
    const sk_cpu *c = sk_cpu_get();
    printf("shrink %s\ncpu: %s\nisa: %s%s%s%s\nthreads: %d\n", SK_VERSION, c->brand,
           c->avx512vnni ? "avx512-vnni " : "", c->avx512f ? "avx512f " : "", c->avx2 ? "avx2 " : "", "scalar",
           sk_default_threads());
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: shrink COMMAND [options]   (shrink COMMAND --help for each)\n\n"
               "shrink compresses BERT / GPT-2 checkpoints into small, fast, validated CPU models.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc > 0) cli_argv0 = argv[0];
    if (argc < 2) { usage(stderr); return 2; }
    if (cli_is_help(argv[1])) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "shrink: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
