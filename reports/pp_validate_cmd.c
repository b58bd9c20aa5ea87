/*
 * pp_validate_cmd.c -- `pippy validate`'s matrix lists and the argument
 * vectors of the commands it runs (pp_validate_cmd.h).
 */
#include "reports/pp_validate_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pp_validate_split(const char *text, pp_validate_list *l) {
    l->n = 0;
    snprintf(l->buf, sizeof l->buf, "%s", text ? text : "");
    char *save = NULL;
    for (char *t = strtok_r(l->buf, ",", &save); t && l->n < 64; t = strtok_r(NULL, ",", &save)) l->item[l->n++] = t;
}

int pp_validate_counts(const char *mlist, long long pp, int *ms, int *nm, pp_err *err) {
    *nm = 0;
    if (!mlist) {
        for (int k = 1; k <= 8; k *= 2) ms[(*nm)++] = (int)(k * pp);
        return 0;
    }
    pp_validate_list l;
    pp_validate_split(mlist, &l);
    for (int i = 0; i < l.n && *nm < PP_VALIDATE_MAX_M; i++) {
        const char *s = l.item[i];
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!*s || *end || errno)
            return pp_err_set(err, PP_ERR_INVALID, "--microbatches: '%s' is not an integer", s);
        if (v < 1 || v > 4096)
            return pp_err_set(err, PP_ERR_INVALID, "--microbatches: %lld is out of range [%lld, %lld]", v, 1LL, 4096LL);
        ms[(*nm)++] = (int)v;
    }
    return 0;
}

pp_validate_row *pp_validate_rows_new(const char *const *names, int ns, const int *ms, int nm) {
    pp_validate_row *rows = calloc((size_t)(ns * nm), sizeof *rows);
    if (!rows) return NULL;
    for (int si = 0; si < ns; si++)
        for (int mi = 0; mi < nm; mi++) {
            pp_validate_row *r = &rows[si * nm + mi];
            snprintf(r->sched, sizeof r->sched, "%s", names[si]);
            r->m = ms[mi];
        }
    return rows;
}

void pp_validate_cmds_init(pp_validate_cmds *c, const char *pippy, const char *outdir, const char *model,
                           long long micro_batch, long long seq, long long pp, long long steps, const char *db) {
    memset(c, 0, sizeof *c);
    snprintf(c->log, sizeof c->log, "%s/validate.log", outdir);
    c->micro_batch = micro_batch;
    snprintf(c->mbs, sizeof c->mbs, "%lld", micro_batch);
    snprintf(c->seqs, sizeof c->seqs, "%lld", seq);
    snprintf(c->pps, sizeof c->pps, "%lld", pp);
    snprintf(c->steps, sizeof c->steps, "%lld", steps);
    char *prof[] = {(char *)pippy, "profile", "--model", (char *)model, "--micro-batch", c->mbs, "--seq", c->seqs,
                    "--ranks", c->pps, "--db", (char *)db, NULL};
    memcpy(c->profile, prof, sizeof prof);
    char *pl[] = {(char *)pippy, "plan", "--model", (char *)model, "--cluster", "local", "--batch", c->batch,
                  "--seq", c->seqs, "--pp", c->pps, "--microbatches", c->mstr, "--schedule", NULL, "--db", (char *)db,
                  "-o", c->plan_path, NULL};
    memcpy(c->plan, pl, sizeof pl);
    char *rn[] = {(char *)pippy, "run", "--plan", c->plan_path, "--steps", c->steps, "--db", (char *)db,
                  "--log-every", "1000", NULL};
    memcpy(c->run, rn, sizeof rn);
}

void pp_validate_cmds_config(pp_validate_cmds *c, const char *outdir, const char *sched, int m) {
    snprintf(c->plan_path, sizeof c->plan_path, "%s/plan-%s-m%d.json", outdir, sched, m);
    snprintf(c->batch, sizeof c->batch, "%lld", c->micro_batch * m);
    snprintf(c->mstr, sizeof c->mstr, "%d", m);
    c->plan[15] = (char *)sched;
}
