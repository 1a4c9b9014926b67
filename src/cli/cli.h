/* cli.h — the subcommands of the shrink program.
 *
 * Each subcommand is one file src/cli/<name>.c with one entry point
 * int cmd_<name>(int argc, char **argv) (argv[0] is the subcommand's name),
 * listed in main.c.  Exit codes: 0 ok, 1 error (one line on stderr),
 * 2 usage, 3 failed gate.  Only src/cli/ may call exit().
 */
#ifndef SK_CLI_H
#define SK_CLI_H

#include <stdbool.h>
#include "shrink.h"
#include "formats.h"

/* Print "shrink: <msg>" for st (message from sk_errmsg) and return the exit code. */
int cli_fail(sk_status st);
/* Print a usage error and return 2. */
int cli_usage(const char *cmd, const char *fmt, ...);
/* True if arg is -h or --help. */
bool cli_is_help(const char *arg);

int cmd_version(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_ir(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_passes(int argc, char **argv);
int cmd_distill(int argc, char **argv);
int cmd_compress(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_sweep(int argc, char **argv);

/* argv[0] of the process (main.c): how to run ourselves again when
 * /proc/self/exe is not there. */
extern const char *cli_argv0;

/* Load MODEL for a command: a .skir file through the text IR parser, anything
 * else through sk_model_load.  *out is the caller's. (ir.c) */
sk_status cli_load_model(const char *path, sk_model **out);

/* `--pass NAME[=JSON]` as a pipeline step; *name is allocated (sk_free it)
 * and step->pass points to it. */
struct sk_pipe_step;
sk_status cli_pass_step(const char *arg, struct sk_pipe_step *step, char **name);

/* A pass-running command's --json summary: add the run's timings and notes
 * to j, print it on one line, free it. */
struct cJSON;
struct sk_passmgr_result;
void cli_print_run_json(struct cJSON *j, const struct sk_passmgr_result *r, double write_seconds);

/* Writing a model (output.c): the format comes from OUT's name — .skm, .onnx,
 * .skir (text IR), .safetensors or a folder (Hugging Face layout). */
typedef struct cli_write_opts {
    bool force;
    int zstd_level;             /* .skm */
    sk_onnx_save_opts onnx;     /* .onnx (its force is taken from above) */
} cli_write_opts;
bool cli_can_write(const char *path);
sk_status cli_write_model(const sk_model *m, const char *path, const cli_write_opts *o);
/* Bytes of every constant tensor; bytes of a file or of a checkpoint folder (-1 if absent). */
size_t cli_const_bytes(const sk_model *m);
long long cli_path_bytes(const char *path);
void cli_human_bytes(double b, char *buf, size_t cap);   /* "12.66 MB"; "?" for b < 0 */

/* Run the passes of list ("fuse", "fold,fuse", "fuse={\"qkv_concat\":true},fold": NAME or
 * NAME=JSON, comma separated) over m through the pass manager.  Notes go to
 * stderr unless quiet; r (may be NULL) gets them (sk_passmgr_result_free).
 * Usage errors in list are SK_ERR_USAGE. (inspect.c) */
struct sk_passmgr_result;
sk_status cli_run_passes(sk_model *m, const char *list, bool quiet, struct sk_passmgr_result *r);

#endif
