/*
 * pp_validate_cmd.h -- `pippy validate`'s matrix and the commands it runs:
 * the --schedules and --microbatches lists split and read, and the argument
 * vectors of `pippy profile` (once) and of `pippy plan` and `pippy run
 * --plan` for each configuration. Strings only: the tool checks the
 * schedule names (planner), starts the commands and reads their results.
 *
 *     pp_validate_list l;
 *     pp_validate_split(scheds, &l);            // l.item[0 .. l.n)
 *     int ms[PP_VALIDATE_MAX_M], nm;
 *     if (pp_validate_counts(mlist, pp, ms, &nm, &err)) ...  // usage error
 *     pp_validate_cmds c;
 *     pp_validate_cmds_init(&c, pippy, outdir, model, mb, seq, pp, steps, db);  // c.profile
 *     pp_validate_cmds_config(&c, outdir, "1f1b", 8);                  // c.plan, c.run
 */
#ifndef PP_VALIDATE_CMD_H
#define PP_VALIDATE_CMD_H

#include "core/pp_err.h"
#include "reports/pp_validate.h"

#define PP_VALIDATE_MAX_M 16 /* microbatch counts read from --microbatches */

/* A comma-separated list: its first 511 characters, split on ',' with
 * empty items skipped (as strtok does); item[] points into buf. */
typedef struct pp_validate_list {
    char buf[512];
    char *item[64];
    int n; /* items kept: at most 64 */
} pp_validate_list;

/* Splits text into *l (NULL text: no items). Cannot fail. */
void pp_validate_split(const char *text, pp_validate_list *l);

/* The microbatch counts: mlist NULL gives pp, 2 pp, 4 pp and 8 pp; else its
 * first PP_VALIDATE_MAX_M items, each an integer in [1, 4096]. Returns 0
 * with ms[0 .. *nm), or -1 with err ("--microbatches: 'x' is not an
 * integer", "--microbatches: N is out of range [1, 4096]"); the items read
 * before a bad one are kept. */
int pp_validate_counts(const char *mlist, long long pp, int *ms, int *nm, pp_err *err);

/* The matrix's rows, schedule-major: row si * nm + mi has sched names[si]
 * (cut to 31 characters) and m ms[mi], the rest 0. Returns the rows (free
 * with free()), or NULL when out of memory. */
pp_validate_row *pp_validate_rows_new(const char *const *names, int ns, const int *ms, int nm);

/* The commands' argument vectors (NULL-terminated); they point into the
 * struct and into the strings given to pp_validate_cmds_init, which must
 * outlive it. Nothing to free. */
typedef struct pp_validate_cmds {
    char mbs[32], seqs[32], pps[32], steps[32], batch[32], mstr[32];
    char plan_path[4300];
    char log[4200];        /* OUTDIR/validate.log, where the commands' output goes */
    long long micro_batch;
    char *profile[13];
    char *plan[21];
    char *run[11];
} pp_validate_cmds;

/* Fills c->log and c->profile: PIPPY profile --model MODEL --micro-batch
 * MB --seq SEQ --ranks PP --db DB, and what pp_validate_cmds_config needs. */
void pp_validate_cmds_init(pp_validate_cmds *c, const char *pippy, const char *outdir, const char *model,
                           long long micro_batch, long long seq, long long pp, long long steps, const char *db);

/* For the configuration (schedule sched, m microbatches): c->plan_path
 * (OUTDIR/plan-SCHED-mM.json), c->plan: PIPPY plan --model MODEL --cluster
 * local --batch MB*M --seq SEQ --pp PP --microbatches M --schedule SCHED
 * --db DB -o PLAN, and c->run: PIPPY run --plan PLAN --steps STEPS --db DB
 * --log-every 1000. sched must outlive the use of c->plan. */
void pp_validate_cmds_config(pp_validate_cmds *c, const char *outdir, const char *sched, int m);

#endif /* PP_VALIDATE_CMD_H */
