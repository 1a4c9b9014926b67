/* ir.c — `shrink ir dump MODEL` and `shrink ir check FILE.skir`: the text IR
 * (src/ir/text.c, docs/ir.md) from the command line, and cli_load_model, which
 * every command that takes a MODEL may use to accept .skir files as well.
 */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "ir/ir.h"
#include "util/util.h"

sk_status cli_load_model(const char *path, sk_model **out)
{
    return sk_model_load(path, out);   /* sk_model_load reads .skir too */
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink ir dump MODEL [--full] [-o FILE] [--force]\n"
            "       shrink ir check FILE.skir\n"
            "\n"
            "The text form of shrink's IR (syntax: docs/ir.md).\n"
            "\n"
            "  dump    print MODEL (.onnx, .skm, .safetensors, a Hugging Face folder, or .skir)\n"
            "          as text IR.  Constants over 16 values print as '<N bytes>' unless --full.\n"
            "    --full       print every value, exactly: the output then parses back to the same model\n"
            "    -o FILE      write to FILE (atomically) instead of stdout\n"
            "    --force      overwrite FILE if it exists\n"
            "  check   parse and verify FILE.skir; print \"ok\" or the first error (file:line:col)\n"
            "\n"
            "examples: shrink ir dump samples/zoo/mlp-digits/model.onnx\n"
            "          shrink ir dump tests/ir/mlp.skir --full -o /tmp/mlp.skir && shrink ir check /tmp/mlp.skir\n");
}

static int ir_dump(int argc, char **argv)
{
    const char *path = NULL, *outp = NULL;
    bool full = false, force = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (!strcmp(a, "--full")) full = true;
        else if (!strcmp(a, "--force")) force = true;
        else if (!strcmp(a, "-o")) {
            if (i + 1 >= argc) return cli_usage("ir dump", "-o needs a file name");
            outp = argv[++i];
        } else if (a[0] == '-' && a[1]) return cli_usage("ir dump", "unknown option '%s'", a);
        else if (!path) path = a;
        else return cli_usage("ir dump", "unexpected argument '%s'", a);
    }
    if (!path) return cli_usage("ir dump", "missing MODEL");
    sk_model *m;
    sk_status st = cli_load_model(path, &m);
    if (st) return cli_fail(st);
    if (!outp) {
        st = sk_ir_print(m, stdout, full);
        if (!st && fflush(stdout)) st = sk_err(SK_ERR_IO, "writing to stdout failed");
    } else {
        sk_afile af;
        if (!(st = sk_afile_open(&af, outp, force))) {
            st = sk_ir_print(m, af.f, full);
            if (st) { sk_err_prefix(st, "%s", outp); sk_afile_abort(&af); }
            else st = sk_afile_commit(&af);
        }
    }
    sk_model_free(m);
    return st ? cli_fail(st) : 0;
}

static int ir_check(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) { usage(stdout); return 0; }
        if (argv[i][0] == '-' && argv[i][1]) return cli_usage("ir check", "unknown option '%s'", argv[i]);
        if (path) return cli_usage("ir check", "unexpected argument '%s'", argv[i]);
        path = argv[i];
    }
    if (!path) return cli_usage("ir check", "missing FILE.skir");
    sk_model *m;
    sk_status st = sk_ir_parse_file(path, &m);
    if (st) return cli_fail(st);
    sk_model_free(m);
    printf("ok\n");
    return 0;
}

int cmd_ir(int argc, char **argv)
{
    if (argc < 2) return cli_usage("ir", "missing a subcommand (dump or check)");
    if (cli_is_help(argv[1])) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "dump")) return ir_dump(argc - 1, argv + 1);
    if (!strcmp(argv[1], "check")) return ir_check(argc - 1, argv + 1);
    return cli_usage("ir", "unknown subcommand '%s' (dump or check)", argv[1]);
}
