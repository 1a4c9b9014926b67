/* convert.c — `shrink convert IN OUT [--zstd LEVEL] [--force]`: the same model
 * in another container.
 *
 * IN is anything a command can load (ONNX, a Hugging Face folder, .safetensors,
 * .skm, .skir); OUT's extension picks the writer from the table below, where
 * a format is one row.  Nothing is changed on the way: the model written is
 * the IR that was loaded.  OUT is written atomically, and an existing OUT is
 * refused (before IN is even read) unless --force.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "formats.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink convert IN OUT [--zstd LEVEL] [--force]\n"
            "                             [--opset N] [--int8-form qdq|dynamic] [--external-data]\n"
            "\n"
            "Write the model IN (.onnx, .skm, .safetensors, a Hugging Face folder, or .skir) as OUT,\n"
            "in the format OUT's extension names:\n"
            "  .skm           shrink's own artifact (docs/formats.md): graph, weights, metadata,\n"
            "                 provenance and the tokenizer's files in one checksummed file\n"
            "  .onnx          ONNX that onnxruntime runs: fused ops as standard ONNX, int8 weights\n"
            "                 through DequantizeLinear (or MatMulInteger), int4 as MatMulNBits\n"
            "  .safetensors   a Hugging Face checkpoint: OUT with config.json and the tokenizer's files\n"
            "                 beside it (BERT / GPT-2 models, fp32; pruned heads as config pruned_heads)\n"
            "  DIR/           the same as a folder: DIR/model.safetensors, DIR/config.json, ...\n"
            "\n"
            "  --zstd LEVEL   compress each payload with zstd at LEVEL (1..22) where that makes it\n"
            "                 smaller.  Default 0: stored raw, so the model loads in place by mmap\n"
            "                 with no copy; fp32 weights shrink only ~7%% under zstd.\n"
            "  --force        overwrite OUT if it exists\n"
            "  --opset N      .onnx: default-domain opset, 17..21 (default 17; 20+ writes Gelu as one op)\n"
            "  --int8-form F  .onnx: W8A8 layers as qdq (weights dequantized, activations f32; default)\n"
            "                 or dynamic (DynamicQuantizeLinear + MatMulInteger, onnxruntime's\n"
            "                 quantize_dynamic form)\n"
            "  --external-data  .onnx: weights to OUT.data beside OUT (automatic past 1.8 GB)\n"
            "\n"
            "Prints one line: the sizes of IN and OUT, their ratio and the time taken.\n"
            "\n"
            "example: shrink convert samples/zoo/bert-fortunes build/bert.skm --zstd 3\n");
}

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    cli_write_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (!strcmp(a, "--force")) o.force = true;
        else if (!strcmp(a, "--zstd") && i + 1 < argc) {
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end || v < 0 || v > 22)
                return cli_usage("convert", "--zstd wants a level 0..22, got '%s'", argv[i]);
            o.zstd_level = (int)v;
        } else if (!strcmp(a, "--opset") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end || v < 17 || v > 21)
                return cli_usage("convert", "--opset wants 17..21, got '%s'", argv[i]);
            o.onnx.opset = (int)v;
        } else if (!strcmp(a, "--int8-form") && i + 1 < argc) {
            i++;
            if (!strcmp(argv[i], "qdq")) o.onnx.int8_form = 0;
            else if (!strcmp(argv[i], "dynamic")) o.onnx.int8_form = 1;
            else return cli_usage("convert", "--int8-form wants qdq or dynamic, got '%s'", argv[i]);
        } else if (!strcmp(a, "--external-data")) o.onnx.external_data = 1;
        else if (a[0] == '-' && a[1]) return cli_usage("convert", "unknown option or missing value '%s'", a);
        else if (!in) in = a;
        else if (!out) out = a;
        else return cli_usage("convert", "unexpected argument '%s'", a);
    }
    if (!in || !out) return cli_usage("convert", "expected IN and OUT");
    if (!cli_can_write(out))
        return cli_usage("convert", "cannot tell the output format from '%s' (expected a .skm, .onnx, .skir or "
                         ".safetensors file, or a folder ending in '/')", out);
    if (!o.force && sk_file_exists(out) && !sk_is_dir(out))
        return cli_fail(sk_err(SK_ERR_IO, "%s: already exists (use --force to overwrite)", out));

    double t0 = sk_now();
    sk_model *m = NULL;
    sk_status st = cli_load_model(in, &m);
    if (!st) st = cli_write_model(m, out, &o);
    sk_model_free(m);
    if (st) return cli_fail(st);
    double dt = sk_now() - t0;
    long long a = cli_path_bytes(in), b = cli_path_bytes(out);
    char as[32], bs[32];
    cli_human_bytes((double)a, as, sizeof as);
    cli_human_bytes((double)b, bs, sizeof bs);
    printf("%s (%s) -> %s (%s): out/in %.3f, %.2f s\n", in, as, out, bs, a > 0 && b >= 0 ? (double)b / (double)a : 0.0, dt);
    return 0;
}
