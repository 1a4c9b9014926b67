/* distill.c — `shrink distill`: train a smaller student from a teacher
 * (src/train/distill.c) and write it as a .skm.
 *
 * Ctrl-C sets a flag that the loop checks between steps: it writes a
 * checkpoint and returns, and the command exits 130 saying how to resume.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "formats.h"
#include "train/distill.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink distill --teacher MODEL --student SPEC|MODEL --data FILE -o OUT.skm [options]\n"
            "\n"
            "Distil a smaller student from a teacher (BERT classifier or GPT-2 LM), DistilBERT's way:\n"
            "loss = a_kd·KL(teacher/T ‖ student/T)·T² + a_ce·(label or next-token CE) + a_cos·(1 − cos) of the\n"
            "last hidden states + a_mse·MSE of them through a learned projection (when widths differ)\n"
            "+ a_att·MSE of the attention scores of mapped layers (TinyBERT).\n"
            "\n"
            "  --student SPEC     layers=N: every other teacher layer (weights copied); or\n"
            "                     layers=N,hidden=H,heads=A,ffn=F: fresh (seeded init) when a width differs;\n"
            "                     ,init=fresh or ,init=copy forces the start; or a MODEL file;\n"
            "                     or a small classifier over the teacher's tokens (seeded init):\n"
            "                       mlp[,emb=128,hidden=256,layers=1]         mean of embeddings → MLP\n"
            "                       rnn=lstm|gru[,emb=128,hidden=128,layers=1,dirs=1]  last state(s) → linear\n"
            "                       cnn[,emb=128,hidden=128,kernel=3,layers=1]  conv1d → mean → linear\n"
            "  --data FILE        JSONL {\"text\", \"label\"} (classifier; lines without a label are KD-only\n"
            "                     transfer data) or raw text (LM, windows of --max-len)\n"
            "  --val FILE         validation set, measured after each epoch (accuracy or perplexity)\n"
            "  --epochs N (3)  --batch B (16)  --lr X (5e-5)  --wd X (0.01)  --clip X (1.0, 0 = off)\n"
            "  --warmup F (0.1: fraction of steps)  --schedule linear|cosine|constant (linear)\n"
            "  --temperature T (2)  --alpha-kd X (0.5)  --alpha-ce X (0.5)  --alpha-cos X (0)  --alpha-mse X (0)\n"
            "  --alpha-att X (0)\n"
            "  --max-len N        tokens per example / window (classifier: the tokenizer's model_max_length as\n"
            "                     shrink eval, else 128; LM 64; at most max positions)\n"
            "  --seed S (42)      data order, fresh weights: one seed and one thread give the same bits\n"
            "  --checkpoint-every N  write OUT.ckpt (or --checkpoint PATH) every N steps\n"
            "  --resume CKPT      continue a run (same teacher, student, data and options)\n"
            "  --threads N  --force (replace OUT)  --quiet (no progress bar)\n"
            "\n"
            "Ctrl-C writes a checkpoint and exits 130.\n"
            "example: shrink distill --teacher samples/zoo/bert-fortunes --student layers=2 \\\n"
            "           --data train.jsonl --val samples/data/fortunes-val.jsonl --epochs 3 --batch 16 --lr 1e-4 \\\n"
            "           -o student.skm\n");
}

static bool parse_f(const char *s, float *v)
{
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end) return false;
    *v = (float)d;
    return true;
}

static bool parse_i(const char *s, long long *v)
{
    char *end;
    *v = strtoll(s, &end, 10);
    return end != s && !*end;
}

int cmd_distill(int argc, char **argv)
{
    const char *tpath = NULL, *spec = NULL, *data = NULL, *valp = NULL, *out = NULL, *ckpt = NULL;
    int max_len = 0;
    bool force = false, quiet = false;
    sk_distill_opts o;
    sk_distill_opts_default(&o);
    o.progress = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n = 0;
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (!strcmp(a, "--force")) { force = true; continue; }
        if (!strcmp(a, "--quiet")) { quiet = true; continue; }
        if (!v || a[0] != '-') return cli_usage("distill", "unexpected argument or missing value '%s'", a);
        i++;
#define F(name, dst) else if (!strcmp(a, name)) { if (!parse_f(v, &dst)) return cli_usage("distill", "%s: not a number '%s'", a, v); }
#define I(name, dst, lo) else if (!strcmp(a, name)) { \
            if (!parse_i(v, &n) || n < (lo) || n > 1000000000) return cli_usage("distill", "%s: bad value '%s'", a, v); \
            dst = n; \
        }
        if (!strcmp(a, "--teacher")) tpath = v;
        else if (!strcmp(a, "--student")) spec = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--val")) valp = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--resume")) o.resume = v;
        else if (!strcmp(a, "--schedule")) {
            if (!strcmp(v, "linear")) o.sched = SK_SCHED_LINEAR;
            else if (!strcmp(v, "cosine")) o.sched = SK_SCHED_COSINE;
            else if (!strcmp(v, "constant")) o.sched = SK_SCHED_CONSTANT;
            else return cli_usage("distill", "--schedule: expected linear, cosine or constant");
        }
        F("--lr", o.lr) F("--wd", o.wd) F("--clip", o.clip) F("--warmup", o.warmup) F("--temperature", o.temperature)
        F("--alpha-kd", o.alpha_kd) F("--alpha-ce", o.alpha_ce) F("--alpha-cos", o.alpha_cos) F("--alpha-mse", o.alpha_mse) F("--alpha-att", o.alpha_att)
        I("--epochs", o.epochs, 1) I("--batch", o.batch, 1) I("--threads", o.threads, 0) I("--max-len", max_len, 2)
        I("--seed", o.seed, 0) I("--checkpoint-every", o.checkpoint_every, 0) I("--stop-after", o.stop_after, 0)
        else return cli_usage("distill", "unknown option '%s'", a);
#undef F
#undef I
    }
    if (!tpath) return cli_usage("distill", "missing --teacher MODEL");
    if (!spec) return cli_usage("distill", "missing --student SPEC|MODEL");
    if (!data) return cli_usage("distill", "missing --data FILE");
    if (!out) return cli_usage("distill", "missing -o OUT.skm");
    if (!(o.warmup >= 0 && o.warmup < 1)) return cli_usage("distill", "--warmup is a fraction in [0, 1)");
    if (!force && sk_file_exists(out)) return cli_fail(sk_err(SK_ERR_IO, "%s exists (use --force to replace it)", out));
    o.progress = !quiet;
    o.log = stderr;
    char *ck = NULL;
    if (!ckpt) {
        size_t l = strlen(out);
        if (!(ck = malloc(l + 6))) return cli_fail(SK_ERR_NOMEM);
        snprintf(ck, l + 6, "%s.ckpt", out);
        ckpt = ck;
    }
    o.checkpoint = ckpt;

    sk_model *t = NULL, *s = NULL;
    sk_dataset train = {0}, val = {0};
    sk_status st = cli_load_model(tpath, &t);
    if (!st) {
        size_t kl = strcspn(spec, ",");   /* "mlp" and "cnn" need no value */
        if (strchr(spec, '=') || ((kl == 3) && (!strncmp(spec, "mlp", 3) || !strncmp(spec, "cnn", 3)))) {
            sk_student_spec sp;
            if (!(st = sk_student_parse(spec, &sp))) st = sk_student_build(t, &sp, o.seed, &s);
        } else {
            st = cli_load_model(spec, &s);
        }
    }
    if (!st) st = sk_dataset_load(t, data, max_len, &train);
    if (!st && valp) st = sk_dataset_load(t, valp, max_len, &val);
    if (st) goto fail;
    fprintf(stderr, "distill: teacher %s (%d layers, hidden %d), student %d layers, hidden %d; %d training examples "
            "(%lld tokens)%s\n", tpath, t->arch.n_layers, t->arch.hidden, s->arch.n_layers, s->arch.hidden, train.n,
            (long long)train.tokens, o.resume ? ", resuming" : "");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    o.stop = &interrupted;
    sk_distill_result r;
    st = sk_distill(t, s, &train, valp ? &val : NULL, &o, &r);
    signal(SIGINT, SIG_DFL);
    if (st) goto fail;
    if (r.interrupted) {
        fprintf(stderr, "distill: stopped at step %lld of %lld; checkpoint %s (continue with --resume %s)\n",
                (long long)r.steps, (long long)r.total_steps, ckpt, ckpt);
        sk_model_free(t);
        sk_model_free(s);
        sk_dataset_free(&train);
        sk_dataset_free(&val);
        free(ck);
        return 130;
    }
    char prov[512];
    snprintf(prov, sizeof prov,
             "{\"teacher\":\"%s\",\"student\":\"%s\",\"epochs\":%d,\"batch\":%d,\"lr\":%g,\"temperature\":%g,"
             "\"alpha_kd\":%g,\"alpha_ce\":%g,\"alpha_cos\":%g,\"alpha_mse\":%g,\"alpha_att\":%g,\"seed\":%llu,"
             "\"steps\":%lld}",
             tpath, spec, o.epochs, o.batch, (double)o.lr, (double)o.temperature, (double)o.alpha_kd,
             (double)o.alpha_ce, (double)o.alpha_cos, (double)o.alpha_mse, (double)o.alpha_att, (unsigned long long)o.seed,
             (long long)r.steps);
    sk_skm_opts so = {.force = force};
    if ((st = sk_model_add_prov(s, "distill", prov)) || (st = sk_skm_save(s, out, &so))) goto fail;
    printf("distilled %s: %lld steps in %.1f s (%.2f steps/s, %.0f tokens/s), final loss %.6f", out,
           (long long)r.steps, r.seconds, r.steps_per_s, r.tokens_per_s, r.loss);
    if (valp) printf(", val %s %.4f (teacher %.4f)", r.metric, r.val, r.teacher_val);
    printf("\n");
    sk_model_free(t);
    sk_model_free(s);
    sk_dataset_free(&train);
    sk_dataset_free(&val);
    free(ck);
    return 0;
fail:
    sk_model_free(t);
    sk_model_free(s);
    sk_dataset_free(&train);
    sk_dataset_free(&val);
    free(ck);
    return cli_fail(st);
}
