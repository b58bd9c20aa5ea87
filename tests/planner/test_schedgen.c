/*
 * test_schedgen.c -- the schedule generators (planner/pp_schedgen.h): names,
 * placement, admissibility and its messages, and for every schedule over a
 * grid of (p, m, v) the structure of the table (counts, order, placement),
 * the peak in-flight against the closed forms, freedom from deadlock and the
 * idle time under unit durations (checked by a small event simulation of the
 * execution model of core/pp_sched.h, written here), PyTorch's rules
 * (pp_sched_validate) and deadlock check (pp_sched_check_deadlock), a few
 * tables spelled out cell by cell, DualPipeV against the table PyTorch
 * generated, and the speed of a large 1F1B table.
 */
#include "core/pp_sched.h"
#include "planner/pp_schedgen.h"

#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DUALPIPEV_CSV PP_SHARED_DIR "/compat/pytorch-schedules/dualpipev_4rank_10mb.csv"

static const int k_ps[] = {1, 2, 3, 4, 8};
static const int k_ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 32};
#define N_PS (int)(sizeof k_ps / sizeof k_ps[0])
#define N_MS (int)(sizeof k_ms / sizeof k_ms[0])

static int is_split(pp_schedule_kind k) {
    return k == PP_SCHEDULE_ZBH1 || k == PP_SCHEDULE_ZBH2 || k == PP_SCHEDULE_ZBV;
}

/* The v values the grid tries for a kind (terminated by 0). */
static const int *grid_vs(pp_schedule_kind k) {
    static const int one[] = {1, 0}, two[] = {2, 0}, il[] = {2, 3, 4, 0}, bfs[] = {1, 2, 3, 0};
    switch (k) {
    case PP_SCHEDULE_INTERLEAVED: return il;
    case PP_SCHEDULE_LOOPED_BFS: return bfs;
    case PP_SCHEDULE_ZBV:
    case PP_SCHEDULE_DUALPIPEV: return two;
    default: return one;
    }
}

static void gen_ok(pp_schedule_kind k, int p, int m, int v, pp_sched *s) {
    pp_err err = {0};
    int rc = pp_schedule_generate(k, p, m, v, s, &err);
    ck_assert_msg(rc == 0, "%s p=%d m=%d v=%d: %s", pp_schedule_name(k), p, m, v, err.msg);
}

/* ---- the table as CSV text ---- */

static char *csv_of(const pp_sched *s) {
    pp_err err = {0};
    char *out = NULL;
    size_t len = 0;
    ck_assert_msg(pp_sched_write_csv(s, PP_NAMING_CURRENT, &out, &len, &err) == 0, "write: %s", err.msg);
    return out;
}

static void expect_csv(pp_schedule_kind k, int p, int m, int v, const char *want) {
    pp_sched s;
    gen_ok(k, p, m, v, &s);
    char *got = csv_of(&s);
    ck_assert_msg(strcmp(got, want) == 0, "%s p=%d m=%d v=%d:\ngot:\n%swant:\n%s", pp_schedule_name(k), p, m, v,
                  got, want);
    free(got);
    pp_sched_free(&s);
}

/* ---- a small event simulation of the execution model ----
 *
 * Each rank runs its row in order. F of stage s > 0 needs F of s - 1 done;
 * I or B of stage s needs F of s and, below the last stage, I or B of s + 1
 * done; W needs I of its stage. Both parts of an OVERLAP_F_B need their
 * inputs and end together. An action starts when its rank is free and its
 * inputs are ready, and takes its duration (B = I + W, OVERLAP = F + B).
 * With any durations, a table whose ranks cannot all finish deadlocks. */

typedef struct sim_dur {
    double f, i, w;
} sim_dur;

typedef struct sim_out {
    double makespan;
    double first[8], last[8], busy[8]; /* first 8 ranks */
} sim_out;

static double *g_endf, *g_endb, *g_endi; /* per stage * m + mb; < 0 = not done */

static int part_ready(int type, int stage, int mb, int n_stages, int m, double *t) {
    double ready = *t;
    int x = stage * m + mb;
    switch (type) {
    case PP_ACT_F:
        if (stage > 0) {
            if (g_endf[x - m] < 0) return 0;
            if (g_endf[x - m] > ready) ready = g_endf[x - m];
        }
        break;
    case PP_ACT_I:
    case PP_ACT_B:
        if (g_endf[x] < 0) return 0;
        if (g_endf[x] > ready) ready = g_endf[x];
        if (stage < n_stages - 1) {
            if (g_endb[x + m] < 0) return 0;
            if (g_endb[x + m] > ready) ready = g_endb[x + m];
        }
        break;
    case PP_ACT_W:
        if (g_endi[x] < 0) return 0;
        if (g_endi[x] > ready) ready = g_endi[x];
        break;
    default: return 0;
    }
    *t = ready;
    return 1;
}

static double part_dur(int type, const sim_dur *d) {
    return type == PP_ACT_F ? d->f : type == PP_ACT_I ? d->i : type == PP_ACT_W ? d->w : d->i + d->w;
}

static void part_done(int type, int stage, int mb, int m, double end) {
    int x = stage * m + mb;
    if (type == PP_ACT_F) g_endf[x] = end;
    if (type == PP_ACT_I || type == PP_ACT_B) g_endb[x] = end;
    if (type == PP_ACT_I) g_endi[x] = end;
}

/* Returns 0 when every rank finishes (out filled), -1 on deadlock (msg says
 * where the ranks stopped). */
static int simulate(const pp_sched *s, int n_stages, int m, const sim_dur *d, sim_out *out, char *msg, size_t n) {
    size_t cells = (size_t)n_stages * (size_t)m;
    g_endf = malloc(cells * sizeof *g_endf);
    g_endb = malloc(cells * sizeof *g_endb);
    g_endi = malloc(cells * sizeof *g_endi);
    int *idx = calloc((size_t)s->n_ranks, sizeof *idx);
    double *t = calloc((size_t)s->n_ranks, sizeof *t);
    ck_assert(g_endf && g_endb && g_endi && idx && t);
    for (size_t c = 0; c < cells; c++) g_endf[c] = g_endb[c] = g_endi[c] = -1;
    memset(out, 0, sizeof *out);
    for (int r = 0; r < 8; r++) out->first[r] = -1;
    int progress = 1;
    while (progress) {
        progress = 0;
        for (int r = 0; r < s->n_ranks; r++) {
            const pp_sched_rank *row = &s->ranks[r];
            while (idx[r] < row->n) {
                const pp_action *a = &row->acts[idx[r]];
                double start = t[r], dur;
                if (a->type == PP_ACT_NONE) {
                    idx[r]++;
                    continue;
                }
                if (a->type == PP_ACT_OVERLAP_F_B) {
                    if (!part_ready(a->sub[0].type, a->sub[0].stage, a->sub[0].mb, n_stages, m, &start) ||
                        !part_ready(a->sub[1].type, a->sub[1].stage, a->sub[1].mb, n_stages, m, &start))
                        break;
                    dur = part_dur(a->sub[0].type, d) + part_dur(a->sub[1].type, d);
                    part_done(a->sub[0].type, a->sub[0].stage, a->sub[0].mb, m, start + dur);
                    part_done(a->sub[1].type, a->sub[1].stage, a->sub[1].mb, m, start + dur);
                } else {
                    if (!part_ready(a->type, a->stage, a->mb, n_stages, m, &start)) break;
                    dur = part_dur(a->type, d);
                    part_done(a->type, a->stage, a->mb, m, start + dur);
                }
                if (r < 8) {
                    if (out->first[r] < 0) out->first[r] = start;
                    out->busy[r] += dur;
                    out->last[r] = start + dur;
                }
                t[r] = start + dur;
                if (t[r] > out->makespan) out->makespan = t[r];
                idx[r]++;
                progress = 1;
            }
        }
    }
    int rc = 0;
    size_t o = 0;
    msg[0] = '\0';
    for (int r = 0; r < s->n_ranks; r++) {
        if (idx[r] < s->ranks[r].n) {
            char cell[64];
            pp_action_format(&s->ranks[r].acts[idx[r]], PP_NAMING_CURRENT, cell, sizeof cell);
            if (o < n) o += (size_t)snprintf(msg + o, n - o, "rank %d stuck at action %d (%s); ", r, idx[r], cell);
            rc = -1;
        }
    }
    free(g_endf);
    free(g_endb);
    free(g_endi);
    free(idx);
    free(t);
    return rc;
}

/* ---- structural checks of one generated table ---- */

typedef struct seen {
    int *rank, *pos; /* [type 0..3 = F I W B][stage * m + mb]; pos -1 = absent */
} seen;

static int slot(int type) {
    return type == PP_ACT_F ? 0 : type == PP_ACT_I ? 1 : type == PP_ACT_W ? 2 : type == PP_ACT_B ? 3 : -1;
}

static void see(seen *sn, const char *ctx, int r, int i, int type, int stage, int mb, int n_stages, int m,
                pp_schedule_kind k, int p, int v) {
    ck_assert_msg(slot(type) >= 0, "%s: rank %d action %d: type %d is not F, I, W or B", ctx, r, i, type);
    ck_assert_msg(stage >= 0 && stage < n_stages, "%s: rank %d action %d: stage %d out of [0, %d)", ctx, r, i, stage,
                  n_stages);
    ck_assert_msg(mb >= 0 && mb < m, "%s: rank %d action %d: microbatch %d out of [0, %d)", ctx, r, i, mb, m);
    ck_assert_msg(pp_schedule_stage_rank(k, p, v, stage) == r, "%s: stage %d on rank %d, expected rank %d", ctx,
                  stage, r, pp_schedule_stage_rank(k, p, v, stage));
    size_t x = (size_t)slot(type) * (size_t)n_stages * (size_t)m + (size_t)stage * (size_t)m + (size_t)mb;
    ck_assert_msg(sn->pos[x] < 0, "%s: rank %d action %d: type %d of stage %d microbatch %d seen twice", ctx, r, i,
                  type, stage, mb);
    sn->pos[x] = i;
    sn->rank[x] = r;
}

/* Counts, order, placement, peak in-flight and the absence of deadlock. */
static void check_table(pp_schedule_kind k, int p, int m, int v, const pp_sched *s) {
    char ctx[96];
    snprintf(ctx, sizeof ctx, "%s p=%d m=%d v=%d", pp_schedule_name(k), p, m, v);
    int spr = pp_schedule_stages_per_rank(k, v);
    int n_stages = p * spr;
    ck_assert_msg(s->n_ranks == p, "%s: %d rows", ctx, s->n_ranks);
    ck_assert_msg(pp_sched_n_stages(s) == n_stages, "%s: %d stages, expected %d", ctx, pp_sched_n_stages(s),
                  n_stages);
    ck_assert_msg(pp_sched_n_microbatches(s) == m, "%s: %d microbatches", ctx, pp_sched_n_microbatches(s));
    ck_assert_msg(pp_sched_form_of(s) == PP_SCHED_COMPUTE_ONLY, "%s: not compute-only", ctx);

    size_t cells = (size_t)4 * (size_t)n_stages * (size_t)m;
    seen sn = {malloc(cells * sizeof(int)), malloc(cells * sizeof(int))};
    ck_assert(sn.rank && sn.pos);
    for (size_t c = 0; c < cells; c++) sn.pos[c] = sn.rank[c] = -1;
    int n_overlap = 0;
    for (int r = 0; r < p; r++) {
        const pp_sched_rank *row = &s->ranks[r];
        int inflight = 0, peak = 0;
        for (int i = 0; i < row->n; i++) {
            const pp_action *a = &row->acts[i];
            ck_assert_msg(a->type != PP_ACT_NONE, "%s: rank %d action %d is idle", ctx, r, i);
            if (a->type == PP_ACT_OVERLAP_F_B) {
                ck_assert_msg(k == PP_SCHEDULE_DUALPIPEV, "%s: rank %d action %d overlaps", ctx, r, i);
                ck_assert_msg(a->sub[0].type == PP_ACT_F && a->sub[1].type == PP_ACT_B,
                              "%s: rank %d action %d: overlap is not (F;B)", ctx, r, i);
                n_overlap++;
                for (int h = 0; h < 2; h++)
                    see(&sn, ctx, r, i, a->sub[h].type, a->sub[h].stage, a->sub[h].mb, n_stages, m, k, p, v);
                continue; /* +1 and -1: in-flight unchanged */
            }
            see(&sn, ctx, r, i, a->type, a->stage, a->mb, n_stages, m, k, p, v);
            if (a->type == PP_ACT_F) inflight++;
            if (a->type == PP_ACT_W || a->type == PP_ACT_B) inflight--;
            if (inflight > peak) peak = inflight;
        }
        ck_assert_msg(inflight == 0, "%s: rank %d ends with %d in flight", ctx, r, inflight);
        int want = pp_schedule_peak_inflight(k, p, m, v, r);
        ck_assert_msg(want >= 0, "%s: no closed-form peak for rank %d", ctx, r);
        ck_assert_msg(peak == want, "%s: rank %d peak in-flight %d, closed form %d", ctx, r, peak, want);
    }
    if (k == PP_SCHEDULE_DUALPIPEV) ck_assert_msg(n_overlap > 0, "%s: no OVERLAP_F_B cell", ctx);

    size_t per = (size_t)n_stages * (size_t)m;
    for (int st = 0; st < n_stages; st++) {
        for (int j = 0; j < m; j++) {
            size_t x = (size_t)st * (size_t)m + (size_t)j;
            int f = sn.pos[x], in = sn.pos[per + x], w = sn.pos[2 * per + x], b = sn.pos[3 * per + x];
            ck_assert_msg(f >= 0, "%s: no F of stage %d microbatch %d", ctx, st, j);
            if (is_split(k)) {
                ck_assert_msg(b < 0, "%s: B of stage %d microbatch %d in a split schedule", ctx, st, j);
            } else if (k != PP_SCHEDULE_DUALPIPEV) {
                ck_assert_msg(in < 0 && w < 0, "%s: I/W of stage %d microbatch %d in a B schedule", ctx, st, j);
            }
            if (b >= 0) {
                ck_assert_msg(in < 0 && w < 0, "%s: stage %d microbatch %d has B and I/W", ctx, st, j);
                ck_assert_msg(f < b, "%s: stage %d microbatch %d: B before F", ctx, st, j);
            } else {
                ck_assert_msg(in >= 0 && w >= 0, "%s: stage %d microbatch %d lacks a backward (I %d, W %d)", ctx, st,
                              j, in, w);
                ck_assert_msg(f < in, "%s: stage %d microbatch %d: I before F", ctx, st, j);
                ck_assert_msg(in < w, "%s: stage %d microbatch %d: W before I", ctx, st, j);
            }
        }
    }
    free(sn.rank);
    free(sn.pos);

    char msg[512];
    sim_out so;
    sim_dur zero = {0, 0, 0};
    ck_assert_msg(simulate(s, n_stages, m, &zero, &so, msg, sizeof msg) == 0, "%s: deadlock: %s", ctx, msg);

    pp_err err = {0};
    ck_assert_msg(pp_sched_validate(s, m, &err) == 0, "%s: pp_sched_validate: %s", ctx, err.msg);
    ck_assert_msg(pp_sched_check_deadlock(s, &err) == 0, "%s: pp_sched_check_deadlock: %s", ctx, err.msg);
}

/* The checks above can fail: a table whose ranks wait on each other. */
START_TEST(test_sim_catches_deadlock) {
    pp_err err = {0};
    pp_sched s;
    const char *text = "0F0,0F1,0B1,0B0\n1F0,1B1,1F1,1B0\n"; /* 1B1 before 1F1 on rank 1 */
    ck_assert_msg(pp_sched_parse_csv(text, strlen(text), "d.csv", PP_NAMING_CURRENT, &s, NULL, &err) == 0, "%s",
                  err.msg);
    char msg[512];
    sim_out o;
    sim_dur zero = {0, 0, 0};
    ck_assert_int_eq(simulate(&s, 2, 2, &zero, &o, msg, sizeof msg), -1);
    ck_assert_msg(strstr(msg, "rank 1 stuck at action 1 (1B1)"), "%s", msg);
    ck_assert_int_eq(pp_sched_check_deadlock(&s, &err), -1);
    pp_sched_free(&s);
}
END_TEST

/* ---- names ---- */

START_TEST(test_names) {
    const char *want[PP_SCHEDULE__COUNT] = {"gpipe", "1f1b", "interleaved", "looped-bfs",
                                            "zbh1",  "zbh2", "zbv",         "dualpipev"};
    for (int k = 0; k < PP_SCHEDULE__COUNT; k++) {
        ck_assert_str_eq(pp_schedule_name((pp_schedule_kind)k), want[k]);
        pp_schedule_kind got = PP_SCHEDULE__COUNT;
        pp_err err = {0};
        ck_assert_msg(pp_schedule_parse(want[k], &got, &err) == 0, "%s: %s", want[k], err.msg);
        ck_assert_int_eq(got, k);
    }
    ck_assert_str_eq(pp_schedule_name(PP_SCHEDULE__COUNT), "?");
    ck_assert_str_eq(pp_schedule_name((pp_schedule_kind)-1), "?");

    static const struct {
        const char *name;
        pp_schedule_kind k;
    } aliases[] = {
        {"GPipe", PP_SCHEDULE_GPIPE},           {"1F1B", PP_SCHEDULE_1F1B},
        {"LoopedBFS", PP_SCHEDULE_LOOPED_BFS},  {"looped_bfs", PP_SCHEDULE_LOOPED_BFS},
        {"Interleaved1F1B", PP_SCHEDULE_INTERLEAVED}, {"ZBVZeroBubble", PP_SCHEDULE_ZBV},
        {"DualPipeV", PP_SCHEDULE_DUALPIPEV},   {"ZB-H2", PP_SCHEDULE_ZBH2},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        pp_schedule_kind got = PP_SCHEDULE__COUNT;
        pp_err err = {0};
        ck_assert_msg(pp_schedule_parse(aliases[i].name, &got, &err) == 0, "%s: %s", aliases[i].name, err.msg);
        ck_assert_msg(got == aliases[i].k, "%s parsed as %s", aliases[i].name, pp_schedule_name(got));
    }

    const char *bad[] = {"", "zbh3", "1f1b1", "gpipe ", "-",
                         "interleavedinterleavedinterleavedinterleavedinterleavedx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pp_schedule_kind got = PP_SCHEDULE_ZBV;
        pp_err err = {0};
        ck_assert_msg(pp_schedule_parse(bad[i], &got, &err) == -1, "'%s' parsed", bad[i]);
        ck_assert_int_eq(got, PP_SCHEDULE_ZBV);
        ck_assert_msg(strstr(err.msg, "unknown schedule") && strstr(err.msg, "looped-bfs") &&
                          strstr(err.msg, "dualpipev"),
                      "'%s': %s", bad[i], err.msg);
    }
    pp_schedule_kind got;
    pp_err err = {0};
    ck_assert_int_eq(pp_schedule_parse(NULL, &got, &err), -1);
}
END_TEST

START_TEST(test_placement) {
    ck_assert_int_eq(pp_schedule_stages_per_rank(PP_SCHEDULE_GPIPE, 5), 1);
    ck_assert_int_eq(pp_schedule_stages_per_rank(PP_SCHEDULE_ZBH2, 5), 1);
    ck_assert_int_eq(pp_schedule_stages_per_rank(PP_SCHEDULE_INTERLEAVED, 3), 3);
    ck_assert_int_eq(pp_schedule_stages_per_rank(PP_SCHEDULE_LOOPED_BFS, 4), 4);
    ck_assert_int_eq(pp_schedule_stages_per_rank(PP_SCHEDULE_ZBV, 1), 2);
    ck_assert_int_eq(pp_schedule_stages_per_rank(PP_SCHEDULE_DUALPIPEV, 2), 2);
    ck_assert_int_eq(pp_schedule_stages_per_rank(PP_SCHEDULE__COUNT, 2), -1);

    /* looped: stage s on rank s % p */
    int il[] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
    for (int s = 0; s < 12; s++) ck_assert_int_eq(pp_schedule_stage_rank(PP_SCHEDULE_INTERLEAVED, 4, 3, s), il[s]);
    /* V: rank r holds r and 2p - 1 - r */
    int vv[] = {0, 1, 2, 3, 3, 2, 1, 0};
    for (int s = 0; s < 8; s++) {
        ck_assert_int_eq(pp_schedule_stage_rank(PP_SCHEDULE_ZBV, 4, 2, s), vv[s]);
        ck_assert_int_eq(pp_schedule_stage_rank(PP_SCHEDULE_DUALPIPEV, 4, 1, s), vv[s]);
    }
    for (int s = 0; s < 4; s++) ck_assert_int_eq(pp_schedule_stage_rank(PP_SCHEDULE_1F1B, 4, 1, s), s);
    ck_assert_int_eq(pp_schedule_stage_rank(PP_SCHEDULE_1F1B, 4, 1, 4), -1);
    ck_assert_int_eq(pp_schedule_stage_rank(PP_SCHEDULE_ZBV, 4, 2, 8), -1);
    ck_assert_int_eq(pp_schedule_stage_rank(PP_SCHEDULE_ZBV, 4, 2, -1), -1);
    ck_assert_int_eq(pp_schedule_stage_rank(PP_SCHEDULE_GPIPE, 0, 1, 0), -1);
}
END_TEST

/* ---- admissibility ---- */

static void refused(pp_schedule_kind k, int p, int m, int v, const char *const *want) {
    pp_err err = {0};
    ck_assert_msg(pp_schedule_check(k, p, m, v, &err) == -1, "%s p=%d m=%d v=%d admitted", pp_schedule_name(k), p, m,
                  v);
    for (int i = 0; want[i]; i++)
        ck_assert_msg(strstr(err.msg, want[i]), "%s p=%d m=%d v=%d: \"%s\" lacks \"%s\"", pp_schedule_name(k), p, m,
                      v, err.msg, want[i]);
    /* generate refuses the same way and leaves *out alone */
    pp_sched s;
    memset(&s, 0x5a, sizeof s);
    pp_sched before = s;
    pp_err err2 = {0};
    ck_assert_int_eq(pp_schedule_generate(k, p, m, v, &s, &err2), -1);
    ck_assert_str_eq(err2.msg, err.msg);
    ck_assert_msg(memcmp(&s, &before, sizeof s) == 0, "generate touched *out on failure");
    ck_assert_int_eq(pp_schedule_peak_inflight(k, p, m, v, 0), -1);
}

#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(test_check) {
    for (int k = 0; k < PP_SCHEDULE__COUNT; k++) {
        int v = k == PP_SCHEDULE_INTERLEAVED ? 2 : 1;
        refused((pp_schedule_kind)k, 0, 8, v, WANT("p >= 1", "p = 0"));
        refused((pp_schedule_kind)k, -3, 8, v, WANT("p >= 1", "p = -3"));
        refused((pp_schedule_kind)k, 4, 0, v, WANT("m >= 1", "m = 0"));
    }
    refused(PP_SCHEDULE_INTERLEAVED, 4, 10, 2, WANT("multiple of p = 4", "m = 10", "m = 8 or 12 would work"));
    refused(PP_SCHEDULE_INTERLEAVED, 4, 3, 2, WANT("multiple of p = 4", "m = 4 would work"));
    refused(PP_SCHEDULE_INTERLEAVED, 3, 7, 2, WANT("multiple of p = 3", "m = 6 or 9 would work"));
    refused(PP_SCHEDULE_INTERLEAVED, 4, 8, 1, WANT("v >= 2", "use 1f1b"));
    refused(PP_SCHEDULE_INTERLEAVED, 4, 8, 0, WANT("v >= 2", "v = 0"));
    refused(PP_SCHEDULE_LOOPED_BFS, 4, 8, 0, WANT("v >= 1", "v = 0"));
    refused(PP_SCHEDULE_ZBV, 4, 8, 3, WANT("exactly 2 stages per rank", "v = 3", "v = 2"));
    refused(PP_SCHEDULE_DUALPIPEV, 4, 8, 4, WANT("exactly 2 stages per rank", "v = 4"));
    refused(PP_SCHEDULE_DUALPIPEV, 4, 7, 2, WANT("m >= 2p = 8", "m = 7", "m = 8 or more would work", "zbv"));
    refused(PP_SCHEDULE_DUALPIPEV, 1, 1, 2, WANT("m >= 2p = 2"));
    refused(PP_SCHEDULE_1F1B, 2, 2000000000, 1, WANT("too many actions"));
    refused(PP_SCHEDULE_LOOPED_BFS, 1 << 20, 4, 1 << 12, WANT("too many stages"));
    refused((pp_schedule_kind)PP_SCHEDULE__COUNT, 4, 8, 1, WANT("unknown schedule kind"));

    pp_err err = {0};
    ck_assert_int_eq(pp_schedule_check(PP_SCHEDULE_GPIPE, 4, 3, 7, &err), 0); /* v ignored */
    ck_assert_int_eq(pp_schedule_check(PP_SCHEDULE_1F1B, 8, 1, 1, &err), 0);  /* m < p degenerates */
    ck_assert_int_eq(pp_schedule_check(PP_SCHEDULE_INTERLEAVED, 4, 12, 3, &err), 0);
    ck_assert_int_eq(pp_schedule_check(PP_SCHEDULE_ZBV, 4, 1, 1, &err), 0);
    ck_assert_int_eq(pp_schedule_check(PP_SCHEDULE_DUALPIPEV, 4, 8, 2, &err), 0);
    ck_assert_int_eq(pp_schedule_peak_inflight(PP_SCHEDULE_1F1B, 4, 8, 1, 4), -1);
    ck_assert_int_eq(pp_schedule_peak_inflight(PP_SCHEDULE_1F1B, 4, 8, 1, -1), -1);
}
END_TEST

/* ---- tables spelled out ---- */

START_TEST(test_exact_tables) {
    expect_csv(PP_SCHEDULE_GPIPE, 2, 3, 1,
               "0F0,0F1,0F2,0B0,0B1,0B2\n"
               "1F0,1F1,1F2,1B0,1B1,1B2\n");
    expect_csv(PP_SCHEDULE_1F1B, 3, 4, 1,
               "0F0,0F1,0F2,0B0,0F3,0B1,0B2,0B3\n"
               "1F0,1F1,1B0,1F2,1B1,1F3,1B2,1B3\n"
               "2F0,2B0,2F1,2B1,2F2,2B2,2F3,2B3\n");
    expect_csv(PP_SCHEDULE_1F1B, 3, 1, 1, "0F0,0B0\n1F0,1B0\n2F0,2B0\n");
    /* Megatron: rank 0 warm-up min(2 + 2, 8) = 4, rank 1 min(0 + 2, 8) = 2 */
    expect_csv(PP_SCHEDULE_INTERLEAVED, 2, 4, 2,
               "0F0,0F1,2F0,2F1,0F2,2B0,0F3,2B1,2F2,0B0,2F3,0B1,2B2,2B3,0B2,0B3\n"
               "1F0,1F1,3F0,3B0,3F1,3B1,1F2,1B0,1F3,1B1,3F2,3B2,3F3,3B3,1B2,1B3\n");
    expect_csv(PP_SCHEDULE_LOOPED_BFS, 2, 2, 2,
               "0F0,0F1,2F0,2F1,2B1,2B0,0B1,0B0\n"
               "1F0,1F1,3F0,3F1,3B1,3B0,1B1,1B0\n");
    /* zbh1: warm-up p - r, W delayed by r I's */
    expect_csv(PP_SCHEDULE_ZBH1, 3, 4, 1,
               "0F0,0F1,0F2,0I0,0W0,0F3,0I1,0W1,0I2,0W2,0I3,0W3\n"
               "1F0,1F1,1I0,1F2,1I1,1W0,1F3,1I2,1W1,1I3,1W2,1W3\n"
               "2F0,2I0,2F1,2I1,2F2,2I2,2W0,2F3,2I3,2W1,2W2,2W3\n");
    /* zbh2: warm-up min(2(p - r) - 1, m), W delayed by min(2r, m - warm-up) */
    expect_csv(PP_SCHEDULE_ZBH2, 2, 5, 1,
               "0F0,0F1,0F2,0I0,0W0,0F3,0I1,0W1,0F4,0I2,0W2,0I3,0W3,0I4,0W4\n"
               "1F0,1I0,1F1,1I1,1F2,1I2,1W0,1F3,1I3,1W1,1F4,1I4,1W2,1W3,1W4\n");
    expect_csv(PP_SCHEDULE_ZBH2, 3, 4, 1,
               "0F0,0F1,0F2,0F3,0I0,0W0,0I1,0W1,0I2,0W2,0I3,0W3\n"
               "1F0,1F1,1F2,1I0,1F3,1I1,1W0,1I2,1W1,1I3,1W2,1W3\n"
               "2F0,2I0,2F1,2I1,2F2,2I2,2F3,2I3,2W0,2W1,2W2,2W3\n");
    /* PyTorch's ZBV with the padding microbatch (m < 2p - 1) dropped */
    expect_csv(PP_SCHEDULE_ZBV, 2, 3, 2,
               "0F0,0F1,0F2,3F0,3I0,3W0,3F1,3I1,3W1,0I0,0W0,3F2,3I2,3W2,0I1,0W1,0I2,0W2\n"
               "1F0,2F0,1F1,2F1,2I0,2W0,1F2,1I0,1W0,2F2,2I1,2W1,1I1,2I2,1I2,1W1,2W2,1W2\n");
}
END_TEST

START_TEST(test_dualpipev_matches_pytorch) {
    pp_err err = {0};
    pp_sched want, got;
    pp_sched_naming found;
    ck_assert_msg(pp_sched_load_csv(DUALPIPEV_CSV, PP_NAMING_AUTO, &want, &found, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(found, PP_NAMING_CURRENT);
    gen_ok(PP_SCHEDULE_DUALPIPEV, 4, 10, 2, &got);
    if (!pp_sched_equal(&want, &got)) {
        char *a = csv_of(&got);
        ck_abort_msg("dualpipev p=4 m=10 differs from PyTorch's table; generated:\n%s", a);
        free(a);
    }
    /* and it survives a CSV write and read */
    char *text = csv_of(&got);
    pp_sched back;
    ck_assert_msg(pp_sched_parse_csv(text, strlen(text), "g.csv", PP_NAMING_AUTO, &back, &found, &err) == 0, "%s",
                  err.msg);
    ck_assert(pp_sched_equal(&back, &got));
    free(text);
    pp_sched_free(&back);
    pp_sched_free(&want);
    pp_sched_free(&got);
}
END_TEST

/* ---- every schedule over the grid ---- */

static void grid(pp_schedule_kind k) {
    int admitted = 0, refused_n = 0;
    for (int a = 0; a < N_PS; a++) {
        for (int b = 0; b < N_MS; b++) {
            for (const int *vp = grid_vs(k); *vp; vp++) {
                int p = k_ps[a], m = k_ms[b], v = *vp;
                pp_err err = {0};
                if (pp_schedule_check(k, p, m, v, &err) != 0) {
                    refused_n++;
                    /* only the documented refusals happen on this grid */
                    if (k == PP_SCHEDULE_INTERLEAVED)
                        ck_assert_msg(m % p != 0 && strstr(err.msg, "multiple of p"), "p=%d m=%d v=%d: %s", p, m, v,
                                      err.msg);
                    else if (k == PP_SCHEDULE_DUALPIPEV)
                        ck_assert_msg(m < 2 * p && strstr(err.msg, "m >= 2p"), "p=%d m=%d: %s", p, m, err.msg);
                    else
                        ck_abort_msg("%s p=%d m=%d v=%d refused: %s", pp_schedule_name(k), p, m, v, err.msg);
                    continue;
                }
                admitted++;
                pp_sched s;
                gen_ok(k, p, m, v, &s);
                check_table(k, p, m, v, &s);
                pp_sched_free(&s);
            }
        }
    }
    int nv = 0;
    for (const int *vp = grid_vs(k); *vp; vp++) nv++;
    /* interleaved: 34 (p, m) with p | m per v; dualpipev: 42 with m >= 2p */
    int want = k == PP_SCHEDULE_INTERLEAVED ? 34 * nv : k == PP_SCHEDULE_DUALPIPEV ? 42 : N_PS * N_MS * nv;
    ck_assert_int_eq(admitted, want);
    ck_assert_int_eq(refused_n, N_PS * N_MS * nv - want);
}

START_TEST(test_grid) { grid((pp_schedule_kind)_i); }
END_TEST

/* ---- idle time under unit durations ---- */

static void sim_ok(pp_schedule_kind k, int p, int m, int v, const sim_dur *d, sim_out *o) {
    pp_sched s;
    gen_ok(k, p, m, v, &s);
    char msg[512];
    int n_stages = p * pp_schedule_stages_per_rank(k, v);
    ck_assert_msg(simulate(&s, n_stages, m, d, o, msg, sizeof msg) == 0, "%s: %s", pp_schedule_name(k), msg);
    pp_sched_free(&s);
}

/* Idle time of rank r between its first action and its last. */
static double idle(const sim_out *o, int r) { return o->last[r] - o->first[r] - o->busy[r]; }

START_TEST(test_bubbles) {
    sim_dur unit = {1, 1, 1};
    sim_dur light_w = {1, 1, 0.5}; /* F + I - 2W = 1 */
    sim_out o;
    static const int ps[] = {2, 4, 8};
    static const int ms[] = {16, 32};
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 2; b++) {
            int p = ps[a], m = ms[b];
            /* 1F1B and GPipe: 3(m + p - 1) */
            sim_ok(PP_SCHEDULE_1F1B, p, m, 1, &unit, &o);
            ck_assert_double_eq(o.makespan, 3.0 * (m + p - 1));
            sim_ok(PP_SCHEDULE_GPIPE, p, m, 1, &unit, &o);
            ck_assert_double_eq(o.makespan, 3.0 * (m + p - 1));
            /* ZB-H1: rank r idles (p - 1 - r)(F + I - W) */
            sim_ok(PP_SCHEDULE_ZBH1, p, m, 1, &unit, &o);
            ck_assert_double_eq(o.makespan, 3.0 * m + p - 1);
            for (int r = 0; r < p; r++) ck_assert_double_eq(idle(&o, r), (double)(p - 1 - r));
            sim_ok(PP_SCHEDULE_ZBH1, p, m, 1, &light_w, &o);
            ck_assert_double_eq(idle(&o, 0), 1.5 * (p - 1));
            /* ZB-H2: no rank ever idles; rank r runs from r to 3m + r */
            sim_ok(PP_SCHEDULE_ZBH2, p, m, 1, &unit, &o);
            for (int r = 0; r < p; r++) {
                ck_assert_double_eq(idle(&o, r), 0.0);
                ck_assert_double_eq(o.first[r], (double)r);
                ck_assert_double_eq(o.last[r], 3.0 * m + r);
            }
            /* with W < F, rank 0 idles the paper's (p - 1)(F + I - 2W) */
            sim_ok(PP_SCHEDULE_ZBH2, p, m, 1, &light_w, &o);
            ck_assert_double_eq(idle(&o, 0), (double)(p - 1));
            /* ZB-V: no rank ever idles once m >= 2p - 1 */
            sim_ok(PP_SCHEDULE_ZBV, p, m, 2, &unit, &o);
            for (int r = 0; r < p; r++) ck_assert_double_eq(idle(&o, r), 0.0);
            ck_assert_double_eq(o.makespan, 6.0 * m + p - 1);
        }
    }
    /* zbh2 is never slower than zbh1, also with few microbatches */
    for (int a = 0; a < 3; a++) {
        for (int m = 1; m <= 20; m++) {
            sim_out o1, o2;
            sim_ok(PP_SCHEDULE_ZBH1, ps[a], m, 1, &unit, &o1);
            sim_ok(PP_SCHEDULE_ZBH2, ps[a], m, 1, &unit, &o2);
            ck_assert_msg(o2.makespan <= o1.makespan, "p=%d m=%d: zbh2 %g > zbh1 %g", ps[a], m, o2.makespan,
                          o1.makespan);
        }
    }
}
END_TEST

/* ---- size and speed ---- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

START_TEST(test_large_1f1b) {
    int p = 1024, m = 4096;
    pp_sched s;
    double t0 = now();
    gen_ok(PP_SCHEDULE_1F1B, p, m, 1, &s);
    double dt = now() - t0;
    long long n = 0;
    for (int r = 0; r < p; r++) {
        ck_assert_int_eq(s.ranks[r].n, 2 * m);
        n += s.ranks[r].n;
    }
    ck_assert_int_eq(n, 2LL * p * m);
    /* spot checks: rank r's first backward comes after its p - r forwards */
    for (int r = 0; r < p; r += 97) {
        int w = p - r - 1;
        ck_assert_int_eq(s.ranks[r].acts[w].type, PP_ACT_F);
        ck_assert_int_eq(s.ranks[r].acts[w + 1].type, PP_ACT_B);
        ck_assert_int_eq(s.ranks[r].acts[w + 1].mb, 0);
    }
    pp_sched_free(&s);
    fprintf(stderr, "test_schedgen: 1f1b p=%d m=%d (%lld actions) generated in %.3f s\n", p, m, n, dt);
    ck_assert_msg(dt < 3.0, "1f1b p=%d m=%d took %.2f s", p, m, dt);

    /* the other schedules at a size that still checks quickly */
    for (int k = 0; k < PP_SCHEDULE__COUNT; k++) {
        int v = k == PP_SCHEDULE_INTERLEAVED || k == PP_SCHEDULE_LOOPED_BFS ? 2 : 1;
        t0 = now();
        gen_ok((pp_schedule_kind)k, 64, 256, v, &s);
        dt = now() - t0;
        ck_assert_msg(dt < 1.0, "%s p=64 m=256 took %.2f s", pp_schedule_name((pp_schedule_kind)k), dt);
        check_table((pp_schedule_kind)k, 64, 256, v, &s);
        pp_sched_free(&s);
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("schedgen");
    TCase *tc = tcase_create("schedgen");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_sim_catches_deadlock);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_placement);
    tcase_add_test(tc, test_check);
    tcase_add_test(tc, test_exact_tables);
    tcase_add_test(tc, test_dualpipev_matches_pytorch);
    tcase_add_loop_test(tc, test_grid, 0, PP_SCHEDULE__COUNT);
    tcase_add_test(tc, test_bubbles);
    tcase_add_test(tc, test_large_1f1b);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
