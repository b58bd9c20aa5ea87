/*
 * pp_db_print.h -- what the database holds, shown: the rows of pp_db.h as
 * text tables and as JSON (over core/pp_json's pp_jw), and a listing that
 * loads what one view of `pippy db` shows and prints it whole.
 *
 *     pp_db_listing l;
 *     if (pp_db_listing_load(db, PP_DB_VIEW_PROFILES, 0, &l, &err)) return -1;
 *     int rc = pp_db_print_listing(stdout, &l, &err);   // or pp_db_json_listing(&w, &l)
 *     pp_db_listing_free(&l);
 *
 * Text: a "<what>: N" line, then (when N > 0) a table with a header row,
 * columns sized to their widest cell and two spaces apart, numbers right
 * aligned; times in microseconds, hashes shortened to 12 hex digits. JSON:
 * one array per kind of row with every stored field. A prediction's
 * relative error is (measured - predicted) / measured (core/pp_stats.h).
 *
 * The print functions return 0, or -1 with err set (out of memory); what
 * they write to f is not checked (the caller flushes and checks f). The
 * JSON writers cannot fail (pp_jw_finish reports).
 */
#ifndef PP_DB_PRINT_H
#define PP_DB_PRINT_H

#include <stdio.h>

#include "core/pp_json.h"
#include "db/pp_db.h"

/* ---- Rows as tables --------------------------------------------------------- */

int pp_db_print_models(FILE *f, const pp_db_model_row *m, int nm, pp_err *err);
/* Plans name their model by the models m[0..nm) (else its short hash). */
int pp_db_print_plans(FILE *f, const pp_db_plan_row *p, int np, const pp_db_model_row *m, int nm, pp_err *err);
/* "devices: N", "op profiles: N", "links: N" lines. */
void pp_db_print_profile_counts(FILE *f, int nd, int nop, int nl);
int pp_db_print_devices(FILE *f, const pp_db_device *d, int nd, pp_err *err);
int pp_db_print_op_profiles(FILE *f, const pp_db_op_profile *p, int np, pp_err *err);
int pp_db_print_links(FILE *f, const pp_db_link *l, int nl, pp_err *err);
/* Whole steps, optimizer and collective profiles, one table each. */
int pp_db_print_measured(FILE *f, const pp_db_step_profile *sp, int ns, const pp_db_optim_profile *op, int no,
                         const pp_db_collective_profile *cp, int nc, pp_err *err);
/* Runs, newest first as given; "(none stored yet ...)" when nr is 0. */
int pp_db_print_runs(FILE *f, const pp_db_run *r, int nr, pp_err *err);
/* One run in full: its fields, its steps and ranks as tables, its event
 * count. */
int pp_db_print_run(FILE *f, const pp_db_run *r, const pp_db_run_step *s, int ns, const pp_run_rank *k, int nk,
                    long long n_ev, pp_err *err);

/* ---- Rows as JSON: each writes "key": [...] into the open object of w ------ */

void pp_db_json_models(pp_jw *w, const pp_db_model_row *m, int nm);
void pp_db_json_plans(pp_jw *w, const pp_db_plan_row *p, int np, const pp_db_model_row *m, int nm);
void pp_db_json_devices(pp_jw *w, const pp_db_device *d, int nd);
/* Profile rows carry their device's id and fingerprint (from d[0..nd)). */
void pp_db_json_op_profiles(pp_jw *w, const pp_db_op_profile *p, int np, const pp_db_device *d, int nd);
void pp_db_json_links(pp_jw *w, const pp_db_link *l, int nl, const pp_db_device *d, int nd);
void pp_db_json_measured(pp_jw *w, const pp_db_step_profile *sp, int ns, const pp_db_optim_profile *op, int no,
                         const pp_db_collective_profile *cp, int nc, const pp_db_device *d, int nd);
void pp_db_json_runs(pp_jw *w, const pp_db_run *r, int nr);
/* "run", "steps", "ranks" and "event_count". */
void pp_db_json_run(pp_jw *w, const pp_db_run *r, const pp_db_run_step *s, int ns, const pp_run_rank *k, int nk,
                    long long n_ev);

/* ---- A listing: what one view of `pippy db` shows ---------------------------- */

typedef enum pp_db_view {
    PP_DB_VIEW_ALL,      /* models, plans, counts of profiles and runs */
    PP_DB_VIEW_MODELS,
    PP_DB_VIEW_PLANS,
    PP_DB_VIEW_PROFILES, /* every device, op profile, link, step, optimizer and collective profile */
    PP_DB_VIEW_RUNS,
    PP_DB_VIEW_RUN,      /* one run in full */
    PP_DB_VIEW_VERSION,  /* only the schema version (what `pippy db init` prints) */
} pp_db_view;

typedef struct pp_db_listing {
    pp_db_view view;
    char path[4096];
    int version;
    pp_db_model_row *models;
    int n_models;
    pp_db_plan_row *plans;
    int n_plans;
    int n_devices, n_op_profiles, n_links; /* counts (all, models-and-plans and profiles views) */
    pp_db_device *devices;                 /* the rows: profiles view */
    pp_db_op_profile *op_profiles;
    pp_db_link *links;
    pp_db_step_profile *steps;
    int n_steps;
    pp_db_optim_profile *optims;
    int n_optims;
    pp_db_collective_profile *colls;
    int n_colls;
    pp_db_run *runs; /* runs view; the all view only counts them */
    int n_runs;
    pp_db_run run; /* run view */
    pp_db_run_step *run_steps;
    int n_run_steps;
    pp_run_rank *run_ranks;
    int n_run_ranks;
    long long n_events;
} pp_db_listing;

/* Loads what the view shows (run_id: the run view's run) into *out. An
 * unknown run is an error ("PATH: no run N ..."). Returns 0, or -1 with err
 * set; *out is to be freed with pp_db_listing_free either way. */
int pp_db_listing_load(pp_db *db, pp_db_view view, long long run_id, pp_db_listing *out, pp_err *err);
void pp_db_listing_free(pp_db_listing *l);

/* The listing as text: the schema version line, then its sections. */
int pp_db_print_listing(FILE *f, const pp_db_listing *l, pp_err *err);

/* The listing as one JSON object: database, schema versions, counts and
 * the view's rows. */
void pp_db_json_listing(pp_jw *w, const pp_db_listing *l);

#endif /* PP_DB_PRINT_H */
