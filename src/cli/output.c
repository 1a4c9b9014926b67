/* output.c — what the commands that transform a model share: `--pass
 * NAME[=JSON]` arguments, the writer chosen by OUT's name, and the sizes
 * printed in summaries. */
#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/cli.h"
#include "pipeline/pipeline.h"
#include "util/util.h"

sk_status cli_pass_step(const char *arg, sk_pipe_step *step, char **name)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (!(*name = sk_malloc(len + 1))) return SK_ERR_NOMEM;
    memcpy(*name, arg, len);
    (*name)[len] = 0;
    *step = (sk_pipe_step){*name, eq ? eq + 1 : NULL};
    return SK_OK;
}

static sk_status write_skm(const sk_model *m, const char *path, const cli_write_opts *o)
{
    sk_skm_opts so = {.zstd_level = o->zstd_level, .force = o->force};
    return sk_skm_save(m, path, &so);
}

static sk_status write_onnx(const sk_model *m, const char *path, const cli_write_opts *o)
{
    sk_onnx_save_opts so = o->onnx;
    so.force = o->force;
    return sk_onnx_save(m, path, &so);
}

static sk_status write_hf(const sk_model *m, const char *path, const cli_write_opts *o)
{
    sk_st_save_opts so = {.force = o->force};
    return sk_st_save(m, path, &so);
}

static sk_status write_skir(const sk_model *m, const char *path, const cli_write_opts *o)
{
    sk_afile af;
    sk_status st = sk_afile_open(&af, path, o->force);
    if (st) return st;
    if ((st = sk_ir_print(m, af.f, true))) { sk_afile_abort(&af); return st; }
    return sk_afile_commit(&af);
}

/* Writers by OUT's extension; "/" is a folder in Hugging Face layout. */
static const struct {
    const char *ext;
    sk_status (*write)(const sk_model *m, const char *path, const cli_write_opts *o);
} writers[] = {
    {".skm", write_skm}, {".onnx", write_onnx}, {".safetensors", write_hf}, {"/", write_hf}, {".skir", write_skir},
};
#define N_WRITERS (sizeof writers / sizeof writers[0])

static int writer_of(const char *path)
{
    size_t n = strlen(path);
    const char *ext = n && (path[n - 1] == '/' || sk_is_dir(path)) ? "/" : sk_path_ext(path);
    for (size_t i = 0; i < N_WRITERS; i++)
        if (!strcmp(writers[i].ext, ext)) return (int)i;
    return -1;
}

bool cli_can_write(const char *path) { return writer_of(path) >= 0; }

sk_status cli_write_model(const sk_model *m, const char *path, const cli_write_opts *o)
{
    int w = writer_of(path);
    if (w < 0)
        return sk_err(SK_ERR_USAGE, "cannot tell the output format from '%s' (expected .skm, .onnx, .skir, "
                      ".safetensors, or a folder ending in '/')", path);
    return writers[w].write(m, path, o);
}

size_t cli_const_bytes(const sk_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->g.n_tensors; i++)
        if (m->g.tensors[i].flags & SK_TF_CONST) n += m->g.tensors[i].nbytes;
    return n;
}

long long cli_path_bytes(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) return (long long)st.st_size;
    DIR *d = opendir(path);
    if (!d) return -1;
    long long total = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *x = sk_path_ext(e->d_name);   /* other frameworks' weights beside a checkpoint don't count */
        if (!strcmp(x, ".onnx") || !strcmp(x, ".data") || !strcmp(x, ".bin") || !strcmp(x, ".pt") ||
            !strcmp(x, ".h5") || !strcmp(x, ".msgpack"))
            continue;
        char *p = sk_path_join(path, e->d_name);
        if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode)) total += (long long)st.st_size;
        sk_free(p);
    }
    closedir(d);
    return total;
}

void cli_human_bytes(double b, char *buf, size_t cap)
{
    if (b < 0) snprintf(buf, cap, "?");
    else if (b >= 1e9) snprintf(buf, cap, "%.2f GB", b / 1e9);
    else if (b >= 1e6) snprintf(buf, cap, "%.2f MB", b / 1e6);
    else if (b >= 1e3) snprintf(buf, cap, "%.1f kB", b / 1e3);
    else snprintf(buf, cap, "%.0f B", b);
}

void cli_print_run_json(cJSON *j, const sk_passmgr_result *r, double write_seconds)
{
    cJSON_AddNumberToObject(j, "seconds", r->seconds);
    cJSON_AddNumberToObject(j, "calib_seconds", r->calib_seconds);
    cJSON_AddNumberToObject(j, "write_seconds", write_seconds);
    cJSON *nt = cJSON_AddArrayToObject(j, "notes");
    for (int i = 0; i < r->n_notes; i++) cJSON_AddItemToArray(nt, cJSON_CreateString(r->notes[i]));
    char *s = cJSON_PrintUnformatted(j);
    puts(s ? s : "{}");
    free(s);
    cJSON_Delete(j);
}
