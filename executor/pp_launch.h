/*
 * pp_launch.h -- starting a command's processes and watching them: the one
 * launcher behind `pippy run --plan`, `pippy profile --ranks N` and
 * `pippy validate`.
 *
 * A launch runs argv either as one child process (n_ranks 0: validate's
 * steps, each a pippy command) or as an MPI job, `mpirun -np N argv`
 * (n_ranks >= 1: this program again, on every rank). An MPI job runs in a
 * process group of its own with stdin from /dev/null, and is supervised
 * through a status folder (PIPPY_RUN_STATUS in the ranks' environment):
 * each rank leaves there
 *
 *     rank-R.pid    "<pid> <host>" once its signal handlers are in place
 *     rank-R.sig    "<signal> <sender pid>" when it received one
 *     rank-R.err    its message, when it failed
 *     rank-R.done   when it ended cleanly
 *
 * and the launcher writes launcher.sig, the signal it received, before it
 * asks the ranks to stop. SIGINT, SIGTERM or SIGHUP to the launcher is
 * passed to every rank as SIGUSR1 through mpirun (Open MPI forwards SIGUSR1
 * to the job; its own handling of SIGTERM and SIGINT kills the job at
 * once); the ranks stop together between steps. A second signal, or
 * grace_s seconds without the job ending, makes the launcher send SIGTERM
 * to mpirun, and kill_after_s seconds later SIGKILL to mpirun and to the
 * ranks on this host. When the job ends badly the launcher names each rank
 * that died without a word (killed or crashed), and the ranks stopped
 * because of it.
 *
 *     // the launcher                       // each rank
 *     pp_launch_opts o;                     pp_launch_rank_begin(rank, host);
 *     pp_launch_opts_init(&o, "pippy run"); ... between steps:
 *     o.n_ranks = 4;                        if (pp_launch_rank_signal()) stop;
 *     rc = pp_launch_run(argv, &o, &res,    ... at the end:
 *                        &err);             pp_launch_rank_done("ok\n");
 *
 * Without a status folder (a rank not started by this launcher) the rank
 * functions only handle the signals.
 */
#ifndef PP_LAUNCH_H
#define PP_LAUNCH_H

#include <stddef.h>

#include "core/pp_err.h"

typedef struct pp_launch_opts {
    const char *name;       /* how the launcher's messages start, e.g. "pippy run" */
    int n_ranks;            /* >= 1: mpirun -np n_ranks argv; 0: argv as one process */
    const char *log_path;   /* the child's stdout appended here; NULL: this process's */
    const char *status_dir; /* MPI jobs: the status folder (kept); NULL: a temporary one, removed */
    double grace_s;         /* after a signal, seconds for the ranks to stop (default 6) */
    double kill_after_s;    /* then seconds between SIGTERM and SIGKILL (default 2) */
} pp_launch_opts;

typedef struct pp_launch_result {
    int exit_code;          /* the child's exit status; 128 + signal when it was killed */
    int signal;             /* the first signal the launcher received and passed on, or 0 */
    int died;               /* ranks that died without a word */
    double seconds;         /* how long it ran */
} pp_launch_result;

void pp_launch_opts_init(pp_launch_opts *o, const char *name);

/* Runs argv (argv[0] a path, or a name looked up on PATH; argv NULL-ended)
 * as o says and waits for it. For an MPI job the status folder is made
 * (or emptied of an earlier job's files) first, and after a bad end the
 * ranks' fates are printed on stderr. Returns 0 when the child exited 0 and
 * no signal came, 1 when it ran and failed or was interrupted (*res says
 * how; res may be NULL), or -1 with err when it could not be started
 * (status folder, fork; an exec failure is exit code 127). */
int pp_launch_run(char *const argv[], const pp_launch_opts *o, pp_launch_result *res, pp_err *err);

/* The path of this program (/proc/self/exe) into buf. Returns 0 or -1 (err). */
int pp_launch_self(char *buf, size_t n, pp_err *err);

/* The path of the program `name` in this program's folder into buf, e.g.
 * ".../bin/pippy" beside ".../bin/pippy-validate". Returns 0, or -1 with
 * err (no /proc/self/exe, or the path does not fit in n). */
int pp_launch_sibling(const char *name, char *buf, size_t n, pp_err *err);

/* Runs argv as one process (pp_launch_run, launcher messages starting with
 * `name`), its stdout appended to log_path (NULL: this process's), and
 * waits. Returns its exit status (128 + signal when killed, 127 when it
 * could not be executed), or -1 with err when it could not be started. */
int pp_launch_logged(char *const argv[], const char *name, const char *log_path, pp_err *err);

/* "SIGINT", "SIGTERM", ...; "a signal" for others. */
const char *pp_launch_signal_name(int sig);

/* ---- on a rank ---- */

/* Installs the rank's handlers for SIGINT, SIGTERM and SIGUSR1 (the first
 * is noted and acted on between steps; a second SIGINT or SIGTERM ends the
 * rank at once) and, under a launcher's status folder, writes rank-R.pid.
 * host may be NULL. */
void pp_launch_rank_begin(int rank, const char *host);

/* The first signal this rank received, or 0. Async-signal-safe to read. */
int pp_launch_rank_signal(void);

/* Why the rank was signalled, for messages: the launcher's signal ("SIGINT
 * to pippy run") when SIGUSR1 came from it, else the signal's name. */
void pp_launch_rank_why(char *buf, size_t n);

/* Leaves rank-R.err (the message) or rank-R.done (text) in the status
 * folder; nothing without one. */
void pp_launch_rank_fail(const char *msg);
void pp_launch_rank_done(const char *text);

#endif /* PP_LAUNCH_H */
