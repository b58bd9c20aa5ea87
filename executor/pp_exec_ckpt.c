/*
 * pp_exec_ckpt.c -- checkpoints of a pipelined run (see pp_exec.h).
 *
 * Layout of dir:
 *   latest                    "pippy-checkpoint 1\nplan <hash>\nstep <K>\nstages <S>\n"
 *   stage-<S>.step-<K>.ckpt   one per stage, written by replica 0
 *
 * A stage file is a 96-byte header, then the stage's parameters, AdamW
 * first and second moments, n floats each (native byte order: a checkpoint
 * resumes on the machine kind that wrote it):
 *   char magic[8] "PPCKPT01"; char plan[64] (hex); int32 stage, step,
 *   optimizer steps, 0; int64 n (floats per array)
 * Every file goes through pp_io_write_atomic_parts (temp, fsync, rename).
 * "latest" is written after a barrier that follows every stage file, so it
 * never names a step whose files are not all down; the files of older
 * steps are removed after it.
 */
#include "executor/pp_exec_impl.h"

#include "core/pp_io.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ckpt_header {
    char magic[8];
    char plan[64];
    int32_t stage, step, optim_step, zero;
    int64_t n;
} ckpt_header;

static void stage_path(char *buf, size_t n, const char *dir, int s, int step) {
    snprintf(buf, n, "%s/stage-%d.step-%d.ckpt", dir, s, step);
}

/* Removes this rank's stage files of other steps than keep. */
static void remove_old(const pp_exec *x, const char *dir, int keep) {
    DIR *dd = opendir(dir);
    if (!dd) return;
    struct dirent *de;
    while ((de = readdir(dd))) {
        int s, k;
        char tail[8];
        if (sscanf(de->d_name, "stage-%d.step-%d.ck%3s", &s, &k, tail) != 3 || strcmp(tail, "pt")) continue;
        if (s < 0 || s >= x->S || !x->st[s].e || k == keep) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(dd);
}

int pp_exec_save(pp_exec *x, const char *dir, int steps_done, const char *plan_hash, pp_err *err) {
    int rc = 0;
    if (x->me == 0 && mkdir(dir, 0755) != 0 && errno != EEXIST)
        rc = pp_err_set(err, PP_ERR_IO, "%s: cannot create the checkpoint folder: %s", dir, strerror(errno));
    int fails[1] = {rc != 0};
    if (pp_comm_allreduce_max_i32(x->world, fails, 1, err)) return -1;
    if (fails[0]) return rc ? -1 : pp_err_set(err, PP_ERR_IO, "%s: rank 0 could not create the checkpoint folder", dir);
    if (x->d == 0)
        for (int s = 0; s < x->S && !rc; s++) {
            pp_exec_stage *st = &x->st[s];
            if (!st->e) continue;
            long long n;
            float *p = pp_engine_params_flat(st->e, &n);
            ckpt_header h;
            memset(&h, 0, sizeof h);
            memcpy(h.magic, "PPCKPT01", 8);
            memcpy(h.plan, plan_hash, 64);
            h.stage = s;
            h.step = steps_done;
            h.optim_step = st->opt.step;
            h.n = n;
            const void *parts[4] = {&h, p, st->opt.m, st->opt.v};
            size_t lens[4] = {sizeof h, (size_t)n * 4, (size_t)n * 4, (size_t)n * 4};
            float *host = NULL; /* a device backend's state, downloaded */
            if (!pp_backend_is_host(x->be)) {
                if (!(host = pp_malloc((unsigned long long)n * 12 + 4, err))) {
                    rc = -1;
                    break;
                }
                pp_backend_download(x->be, host, p, (size_t)n * 4);
                pp_backend_download(x->be, host + n, st->opt.m, (size_t)n * 4);
                pp_backend_download(x->be, host + 2 * n, st->opt.v, (size_t)n * 4);
                parts[1] = host;
                parts[2] = host + n;
                parts[3] = host + 2 * n;
            }
            char path[4096];
            stage_path(path, sizeof path, dir, s, steps_done);
            rc = pp_io_write_atomic_parts(path, parts, lens, 4, err);
            free(host);
        }
    fails[0] = rc != 0;
    if (pp_comm_allreduce_max_i32(x->world, fails, 1, err)) return -1;
    if (fails[0]) return rc ? -1 : pp_err_set(err, PP_ERR_IO, "another rank could not write its checkpoint in %s", dir);
    if (x->me == 0) {
        char text[256], path[4096];
        int len = snprintf(text, sizeof text, "pippy-checkpoint 1\nplan %s\nstep %d\nstages %d\n", plan_hash, steps_done,
                           x->S);
        snprintf(path, sizeof path, "%s/latest", dir);
        rc = pp_io_write_atomic(path, text, (size_t)len, err);
    }
    fails[0] = rc != 0;
    if (pp_comm_allreduce_max_i32(x->world, fails, 1, err)) return -1;
    if (fails[0]) return rc ? -1 : pp_err_set(err, PP_ERR_IO, "rank 0 could not write %s/latest", dir);
    if (x->d == 0) remove_old(x, dir, steps_done);
    return 0;
}

static int load_stage(pp_exec *x, const char *dir, int s, int step, const char *plan_hash, pp_err *err) {
    pp_exec_stage *st = &x->st[s];
    char path[4096];
    stage_path(path, sizeof path, dir, s, step);
    FILE *f = fopen(path, "rb");
    if (!f) return pp_err_set(err, PP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long long n;
    float *p = pp_engine_params_flat(st->e, &n);
    ckpt_header h;
    float *host = NULL; /* a device backend's state goes through the host */
    int rc = -1;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, "PPCKPT01", 8)) {
        pp_err_set(err, PP_ERR_PARSE, "%s: not a pippy stage checkpoint", path);
        goto done;
    }
    if (memcmp(h.plan, plan_hash, 64)) {
        pp_err_set(err, PP_ERR_INVALID, "%s: written for plan %.12s, this run's plan is %.12s", path, h.plan, plan_hash);
        goto done;
    }
    if (h.stage != s || h.step != step || h.n != n || h.optim_step < 0) {
        pp_err_set(err, PP_ERR_PARSE, "%s: header says stage %d step %d with %lld floats; expected stage %d step %d with %lld",
                   path, h.stage, h.step, (long long)h.n, s, step, n);
        goto done;
    }
    float *dst[3] = {p, st->opt.m, st->opt.v};
    if (!pp_backend_is_host(x->be) && !(host = pp_malloc((unsigned long long)n * 12 + 4, err))) goto done;
    for (int k = 0; k < 3; k++) {
        float *into = host ? host + (size_t)k * (size_t)n : dst[k];
        if (fread(into, 4, (size_t)n, f) != (size_t)n) {
            pp_err_set(err, PP_ERR_PARSE, "%s: truncated (expected %lld floats x 3 after the header)", path, n);
            goto done;
        }
    }
    if (fgetc(f) != EOF) {
        pp_err_set(err, PP_ERR_PARSE, "%s: longer than its header says", path);
        goto done;
    }
    for (int k = 0; host && k < 3; k++) pp_backend_upload(x->be, dst[k], host + (size_t)k * (size_t)n, (size_t)n * 4);
    st->opt.step = h.optim_step;
    rc = 0;
done:
    free(host);
    fclose(f);
    return rc;
}

int pp_exec_load(pp_exec *x, const char *dir, const char *plan_hash, int *steps_done, pp_err *err) {
    *steps_done = -1;
    char path[4096], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/latest", dir);
    int rc = 0, step = -1, stages = -1;
    if (access(path, F_OK) == 0) {
        char hash[80] = "";
        if (pp_io_read_file(path, &text, &len, err)) rc = -1;
        else if (sscanf(text, "pippy-checkpoint 1\nplan %79s\nstep %d\nstages %d", hash, &step, &stages) != 3 || step < 0)
            rc = pp_err_set(err, PP_ERR_PARSE, "%s: not a pippy checkpoint index", path);
        else if (strcmp(hash, plan_hash))
            rc = pp_err_set(err, PP_ERR_INVALID, "%s: the checkpoint is of plan %.12s, this run's plan is %.12s", path,
                            hash, plan_hash);
        else if (stages != x->S)
            rc = pp_err_set(err, PP_ERR_INVALID, "%s: %d stages, the plan has %d", path, stages, x->S);
        free(text);
        for (int s = 0; s < x->S && !rc && step >= 0; s++)
            if (x->st[s].e) rc = load_stage(x, dir, s, step, plan_hash, err);
    }
    int fails[2] = {rc != 0, step};
    if (pp_comm_allreduce_max_i32(x->world, fails, 2, err)) return -1;
    if (fails[0]) return rc ? -1 : pp_err_set(err, PP_ERR_IO, "another rank could not load the checkpoint in %s", dir);
    *steps_done = step;
    return 0;
}
