/*
 * pp_exec_ckpt.c -- checkpoints of a pipelined run (see pp_exec.h).
 *
 * Layout of dir (format 2):
 *   latest                    "pippy-checkpoint 2\nplan <hash>\nstep <K>\nstages <S>\nsha256 <hex>\n",
 *                             the SHA-256 (64 hex digits) of the text before "sha256"
 *   stage-<S>.step-<K>.ckpt   one per stage, written by replica 0
 *
 * A stage file is a 128-byte header, then the stage's parameters, AdamW
 * first and second moments, n floats each (native byte order: a checkpoint
 * resumes on the machine kind that wrote it):
 *   char magic[8] "PPCKPT02"; char plan[64] (hex); int32 stage, step,
 *   optimizer steps, 0; int64 n (floats per array); uint8 sha256[32]
 * where sha256 is the SHA-256 (core/pp_hash.h) of the header with that
 * field zeroed followed by the three arrays, so any changed byte of the file
 * is found on loading and the file named. Format 1 ("PPCKPT01", a 96-byte
 * header without the checksum; "pippy-checkpoint 1") is refused.
 *
 * Every file goes through pp_io_write_atomic_parts (temp, fsync, rename).
 * "latest" is written after a barrier that follows every stage file, so it
 * never names a step whose files are not all down; after it, each writer
 * removes the stage files of the checkpoint the new one replaces (the one
 * this executor wrote last, resumed from, or was allowed to overwrite) and
 * no others. Every failure is agreed: all ranks get the failing rank's
 * message.
 */
#include "executor/pp_exec_impl.h"

#include "core/pp_hash.h"
#include "core/pp_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
    unsigned char sha256[32];
} ckpt_header;

_Static_assert(sizeof(ckpt_header) == 128, "the stage file header is 128 bytes");

#define CKPT_MAGIC "PPCKPT02"
#define CKPT_MAGIC_V1 "PPCKPT01"

static void stage_path(char *buf, size_t n, const char *dir, int s, int step) {
    snprintf(buf, n, "%s/stage-%d.step-%d.ckpt", dir, s, step);
}

/* 1 when name is "stage-S.step-K.ckpt" (S, K set). */
static int stage_name(const char *name, int *s, int *k) {
    int used = 0;
    if (sscanf(name, "stage-%d.step-%d.ckpt%n", s, k, &used) != 2 || used == 0 || name[used]) return 0;
    return *s >= 0 && *k >= 0;
}

/* Every rank learns whether any rank failed; the lowest failing rank's
 * message becomes every rank's err (prefixed with its rank when that is not
 * rank 0), and the failure counts as failed together. Returns 0 when none
 * failed, else -1. */
static int agree(pp_exec *x, int failed, pp_err *err) {
    int v[1] = {failed ? x->world_n - x->me : 0};
    pp_err tmp = {0};
    if (pp_comm_allreduce_max_i32(x->world, v, 1, &tmp)) {
        if (err) *err = tmp;
        return -1;
    }
    if (!v[0]) return 0;
    int root = x->world_n - v[0];
    struct {
        int32_t code;
        char msg[PP_ERR_MSG_MAX];
    } m;
    memset(&m, 0, sizeof m);
    if (x->me == root && err) {
        m.code = (int32_t)err->code;
        memcpy(m.msg, err->msg, sizeof m.msg);
        m.msg[sizeof m.msg - 1] = '\0';
    }
    if (pp_comm_bcast(x->world, &m, sizeof m, root, &tmp)) {
        if (err) *err = tmp;
        return -1;
    }
    x->failed_together = 1;
    if (root == 0) return pp_err_set(err, (pp_status)m.code, "%s", m.msg);
    return pp_err_set(err, (pp_status)m.code, "rank %d: %s", root, m.msg);
}

/* What dir holds, for messages: "latest (plan P, step K), stage-0.step-3.ckpt,
 * ... (N stage files) and M other files", "nothing" when empty. Sets
 * *has_latest and *n_stage. */
static void describe(const char *dir, char *buf, size_t n, int *has_latest, int *n_stage) {
    *has_latest = 0;
    *n_stage = 0;
    buf[0] = '\0';
    DIR *dd = opendir(dir);
    if (!dd) {
        snprintf(buf, n, "a folder that cannot be read (%s)", strerror(errno));
        return;
    }
    char names[512] = "";
    int n_other = 0, listed = 0;
    struct dirent *de;
    while ((de = readdir(dd))) {
        int s, k;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (!strcmp(de->d_name, "latest")) {
            *has_latest = 1;
        } else if (stage_name(de->d_name, &s, &k)) {
            if (listed++ < 4) {
                size_t u = strlen(names);
                snprintf(names + u, sizeof names - u, "%s%s", u ? ", " : "", de->d_name);
            }
            (*n_stage)++;
        } else {
            n_other++;
        }
    }
    closedir(dd);
    size_t u = 0;
    if (*has_latest) {
        char p[4096], *text = NULL, hash[80] = "?";
        size_t len;
        int ver = 0, step = -1;
        snprintf(p, sizeof p, "%s/latest", dir);
        if (pp_io_read_file(p, &text, &len, NULL) == 0 &&
            sscanf(text, "pippy-checkpoint %d\nplan %79s\nstep %d", &ver, hash, &step) == 3)
            u += (size_t)snprintf(buf + u, n - u, "latest (format %d, plan %.12s, step %d)", ver, hash, step);
        else
            u += (size_t)snprintf(buf + u, n - u, "a 'latest' that is not a pippy checkpoint index");
        free(text);
    }
    if (*n_stage && u < n)
        u += (size_t)snprintf(buf + u, n - u, "%s%d stage file%s (%s%s)", u ? ", " : "", *n_stage,
                              *n_stage == 1 ? "" : "s", names, *n_stage > 4 ? ", ..." : "");
    if (n_other && u < n)
        u += (size_t)snprintf(buf + u, n - u, "%s%d other file%s", u ? " and " : "", n_other, n_other == 1 ? "" : "s");
    if (!u) snprintf(buf, n, "nothing");
}

/* Creates dir when create and it is missing; checks that it is a folder
 * in which this process can create a file (a probe, removed at once). */
static int check_folder(pp_exec *x, const char *dir, int create, pp_err *err) {
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno != ENOENT || !create)
            return pp_err_set(err, PP_ERR_IO, "%s: cannot use the checkpoint folder: %s", dir, strerror(errno));
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return pp_err_set(err, PP_ERR_IO, "%s: cannot create the checkpoint folder: %s", dir, strerror(errno));
        if (stat(dir, &sb) != 0)
            return pp_err_set(err, PP_ERR_IO, "%s: cannot use the checkpoint folder: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) return pp_err_set(err, PP_ERR_IO, "%s: the checkpoint folder is not a folder", dir);
    char p[4096];
    snprintf(p, sizeof p, "%s/.pippy-probe.%d.%ld", dir, x->me, (long)getpid());
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return pp_err_set(err, PP_ERR_IO, "%s: cannot write in the checkpoint folder: %s", dir, strerror(errno));
    ssize_t w = write(fd, "x", 1);
    int e = errno, c = close(fd);
    unlink(p);
    if (w != 1 || c != 0)
        return pp_err_set(err, PP_ERR_IO, "%s: cannot write in the checkpoint folder: %s", dir,
                          strerror(w != 1 ? e : errno));
    return 0;
}

/* Removes this rank's stage files of step `old` (the checkpoint that the
 * one of step keep replaces); nothing when old < 0 or old == keep. */
static void remove_replaced(const pp_exec *x, const char *dir, int old, int keep) {
    if (old < 0 || old == keep) return;
    for (int s = 0; s < x->S; s++) {
        if (!x->st[s].e) continue;
        char p[4096];
        stage_path(p, sizeof p, dir, s, old);
        unlink(p);
    }
}

/* SHA-256 of a stage file: its header with the checksum zeroed, then the arrays. */
static void stage_digest(const ckpt_header *h, const void *const *arrays, size_t bytes, unsigned char out[32]) {
    ckpt_header z = *h;
    memset(z.sha256, 0, sizeof z.sha256);
    pp_sha256_ctx c;
    pp_sha256_init(&c);
    pp_sha256_update(&c, &z, sizeof z);
    for (int k = 0; k < 3; k++) pp_sha256_update(&c, arrays[k], bytes);
    pp_sha256_final(&c, out);
}

int pp_exec_save(pp_exec *x, const char *dir, int steps_done, const char *plan_hash, pp_err *err) {
    int rc = 0;
    if (x->d == 0 && mkdir(dir, 0755) != 0 && errno != EEXIST)
        rc = pp_err_set(err, PP_ERR_IO, "%s: cannot create the checkpoint folder: %s", dir, strerror(errno));
    if (agree(x, rc != 0, err)) return -1;
    if (x->d == 0)
        for (int s = 0; s < x->S && !rc; s++) {
            pp_exec_stage *st = &x->st[s];
            if (!st->e) continue;
            long long n;
            float *p = pp_engine_params_flat(st->e, &n);
            ckpt_header h;
            memset(&h, 0, sizeof h);
            memcpy(h.magic, CKPT_MAGIC, 8);
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
            stage_digest(&h, parts + 1, (size_t)n * 4, h.sha256);
            char path[4096];
            stage_path(path, sizeof path, dir, s, steps_done);
            rc = pp_io_write_atomic_parts(path, parts, lens, 4, err);
            free(host);
        }
    if (agree(x, rc != 0, err)) return -1;
    if (x->me == 0) {
        char text[320], hex[65], path[4096];
        int len = snprintf(text, sizeof text, "pippy-checkpoint 2\nplan %s\nstep %d\nstages %d\n", plan_hash,
                           steps_done, x->S);
        pp_sha256_hex(text, (size_t)len, hex);
        len += snprintf(text + len, sizeof text - (size_t)len, "sha256 %s\n", hex);
        snprintf(path, sizeof path, "%s/latest", dir);
        rc = pp_io_write_atomic(path, text, (size_t)len, err);
    }
    if (agree(x, rc != 0, err)) return -1;
    if (x->d == 0) remove_replaced(x, dir, x->ckpt_step, steps_done);
    x->ckpt_step = steps_done;
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
    if (fread(&h, sizeof h, 1, f) != 1 || (memcmp(h.magic, CKPT_MAGIC, 8) && memcmp(h.magic, CKPT_MAGIC_V1, 8))) {
        pp_err_set(err, PP_ERR_PARSE, "%s: not a pippy stage checkpoint", path);
        goto done;
    }
    if (!memcmp(h.magic, CKPT_MAGIC_V1, 8)) {
        pp_err_set(err, PP_ERR_UNSUPPORTED,
                   "%s: checkpoint format 1 (written by an older pippy, without checksums); this pippy resumes format "
                   "2 only",
                   path);
        goto done;
    }
    if (h.n != n) {
        pp_err_set(err, PP_ERR_PARSE, "%s: header says %lld floats per array; stage %d has %lld", path, (long long)h.n,
                   s, n);
        goto done;
    }
    float *dst[3] = {p, st->opt.m, st->opt.v};
    if (!pp_backend_is_host(x->be) && !(host = pp_malloc((unsigned long long)n * 12 + 4, err))) goto done;
    const void *got[3];
    for (int k = 0; k < 3; k++) {
        float *into = host ? host + (size_t)k * (size_t)n : dst[k];
        got[k] = into;
        if (fread(into, 4, (size_t)n, f) != (size_t)n) {
            pp_err_set(err, PP_ERR_PARSE, "%s: truncated (expected %lld floats x 3 after the header)", path, n);
            goto done;
        }
    }
    if (fgetc(f) != EOF) {
        pp_err_set(err, PP_ERR_PARSE, "%s: longer than its header says", path);
        goto done;
    }
    unsigned char sum[32];
    stage_digest(&h, got, (size_t)n * 4, sum);
    if (memcmp(sum, h.sha256, 32)) {
        char a[65], b[65];
        pp_sha256_to_hex(sum, a);
        pp_sha256_to_hex(h.sha256, b);
        pp_err_set(err, PP_ERR_INVALID,
                   "%s: checksum mismatch: the file is damaged (its contents hash to %.16s..., its header says "
                   "%.16s...); refusing to resume from it",
                   path, a, b);
        goto done;
    }
    if (memcmp(h.plan, plan_hash, 64)) {
        pp_err_set(err, PP_ERR_INVALID, "%s: written for plan %.12s, this run's plan is %.12s", path, h.plan, plan_hash);
        goto done;
    }
    if (h.stage != s || h.step != step || h.optim_step < 0) {
        pp_err_set(err, PP_ERR_PARSE, "%s: header says stage %d step %d; expected stage %d step %d", path, h.stage,
                   h.step, s, step);
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

/* Reads and verifies dir/latest. */
static int read_latest(const char *path, char hash[80], int *step, int *stages, pp_err *err) {
    char *text = NULL;
    size_t len = 0;
    if (pp_io_read_file(path, &text, &len, err)) return -1;
    int rc = 0, ver = 0;
    char *sum = strstr(text, "\nsha256 ");
    char got[65], want[80] = "";
    if (sscanf(text, "pippy-checkpoint %d\n", &ver) != 1) {
        rc = pp_err_set(err, PP_ERR_PARSE, "%s: not a pippy checkpoint index", path);
    } else if (ver == 1) {
        rc = pp_err_set(err, PP_ERR_UNSUPPORTED,
                        "%s: checkpoint format 1 (written by an older pippy, without checksums); this pippy resumes "
                        "format 2 only",
                        path);
    } else if (ver != 2 || !sum || sscanf(sum, "\nsha256 %79s", want) != 1) {
        rc = pp_err_set(err, PP_ERR_PARSE, "%s: not a pippy checkpoint index of format 2", path);
    } else {
        pp_sha256_hex(text, (size_t)(sum - text) + 1, got);
        if (strcmp(got, want))
            rc = pp_err_set(err, PP_ERR_INVALID, "%s: checksum mismatch: the file is damaged; refusing to resume from it",
                            path);
        else if (sscanf(text, "pippy-checkpoint 2\nplan %79s\nstep %d\nstages %d", hash, step, stages) != 3 || *step < 0)
            rc = pp_err_set(err, PP_ERR_PARSE, "%s: not a pippy checkpoint index", path);
    }
    free(text);
    return rc;
}

int pp_exec_load(pp_exec *x, const char *dir, const char *plan_hash, int *steps_done, pp_err *err) {
    *steps_done = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/latest", dir);
    int rc = 0, step = -1, stages = -1;
    if (access(path, F_OK) == 0) {
        char hash[80] = "";
        if (read_latest(path, hash, &step, &stages, err)) rc = -1;
        else if (strcmp(hash, plan_hash))
            rc = pp_err_set(err, PP_ERR_INVALID, "%s: the checkpoint is of plan %.12s, this run's plan is %.12s", path,
                            hash, plan_hash);
        else if (stages != x->S)
            rc = pp_err_set(err, PP_ERR_INVALID, "%s: %d stages, the plan has %d", path, stages, x->S);
        for (int s = 0; s < x->S && !rc && step >= 0; s++)
            if (x->st[s].e) rc = load_stage(x, dir, s, step, plan_hash, err);
    }
    if (agree(x, rc != 0, err)) return -1;
    int v[1] = {step};
    if (pp_comm_allreduce_max_i32(x->world, v, 1, err)) return -1;
    *steps_done = v[0];
    if (v[0] >= 0) x->ckpt_step = v[0];
    return 0;
}

int pp_exec_ckpt_open(pp_exec *x, const char *dir, pp_exec_ckpt_mode mode, const char *plan_hash, int *steps_done,
                      pp_err *err) {
    *steps_done = 0;
    int rc = 0, has_latest, n_stage;
    char what[768];
    struct stat sb;
    if (x->d == 0) {
        if (mode == PP_EXEC_CKPT_RESUME && stat(dir, &sb) != 0 && errno == ENOENT)
            rc = pp_err_set(err, PP_ERR_INVALID, "%s: no checkpoint to resume: the folder does not exist", dir);
        else
            rc = check_folder(x, dir, mode != PP_EXEC_CKPT_RESUME, err);
        if (!rc && mode == PP_EXEC_CKPT_NEW) {
            describe(dir, what, sizeof what, &has_latest, &n_stage);
            if (has_latest || n_stage)
                rc = pp_err_set(err, PP_ERR_INVALID, "%s already holds a checkpoint this run did not write: %s", dir,
                                what);
        }
        if (!rc && mode == PP_EXEC_CKPT_OVERWRITE) {
            /* The stage files of the step "latest" names (any plan, any
             * format) are replaced by this run's first save. */
            char p[4096], *text = NULL, hash[80];
            size_t len;
            int ver, step;
            snprintf(p, sizeof p, "%s/latest", dir);
            if (pp_io_read_file(p, &text, &len, NULL) == 0 &&
                sscanf(text, "pippy-checkpoint %d\nplan %79s\nstep %d", &ver, hash, &step) == 3 && step >= 0)
                x->ckpt_step = step;
            free(text);
        }
    }
    if (agree(x, rc != 0, err)) return -1;
    if (mode != PP_EXEC_CKPT_RESUME) return 0;
    int k;
    if (pp_exec_load(x, dir, plan_hash, &k, err)) return -1;
    if (k < 0) {
        rc = 0;
        if (x->me == 0) {
            describe(dir, what, sizeof what, &has_latest, &n_stage);
            rc = pp_err_set(err, PP_ERR_INVALID, "%s: no checkpoint to resume (no 'latest'): the folder holds %s", dir,
                            what);
        }
        agree(x, rc != 0, err);
        return -1;
    }
    *steps_done = k;
    return 0;
}
