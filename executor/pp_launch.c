/*
 * pp_launch.c -- the launcher and the ranks' side of it (pp_launch.h).
 *
 * The launcher forks, the child execs mpirun (or the command itself), and
 * the parent polls waitpid every 20 ms so that it can pass a signal on,
 * escalate when the ranks do not stop, and at the end read what each rank
 * left in the status folder. The ranks' signal handler only notes the
 * signal and writes rank-R.sig with open/write/rename, which are
 * async-signal-safe.
 */
#define _GNU_SOURCE
#include "executor/pp_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/pp_io.h"

#define STATUS_ENV "PIPPY_RUN_STATUS"

void pp_launch_opts_init(pp_launch_opts *o, const char *name) {
    memset(o, 0, sizeof *o);
    o->name = name ? name : "pippy";
    o->grace_s = 6.0;
    o->kill_after_s = 2.0;
}

const char *pp_launch_signal_name(int sig) {
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    case SIGKILL: return "SIGKILL";
    default: return "a signal";
    }
}

int pp_launch_self(char *buf, size_t n, pp_err *err) {
    ssize_t k = readlink("/proc/self/exe", buf, n - 1);
    if (k <= 0) return pp_err_set(err, PP_ERR_IO, "cannot find this program (/proc/self/exe): %s", strerror(errno));
    buf[k] = '\0';
    return 0;
}

int pp_launch_sibling(const char *name, char *buf, size_t n, pp_err *err) {
    char self[4096];
    if (pp_launch_self(self, sizeof self, err)) return -1;
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    int k = slash ? snprintf(buf, n, "%s/%s", self, name) : snprintf(buf, n, "%s", name);
    if (k < 0 || (size_t)k >= n) return pp_err_set(err, PP_ERR_INVALID, "the path of %s beside %s is too long", name, self);
    return 0;
}

int pp_launch_logged(char *const argv[], const char *name, const char *log_path, pp_err *err) {
    pp_launch_opts o;
    pp_launch_opts_init(&o, name);
    o.log_path = log_path;
    pp_launch_result res;
    if (pp_launch_run(argv, &o, &res, err) < 0) return -1;
    return res.exit_code;
}

/* ---- on a rank ---- */

static volatile sig_atomic_t rank_sig;     /* the first SIGINT, SIGTERM or SIGUSR1, or 0 */
static char status_dir[4096];              /* "" without a launcher's status folder */
static int status_rank;
static char sig_path[4200], sig_tmp[4240]; /* <status>/rank-R.sig and its temporary name */

static void status_write(const char *what, const char *text) {
    if (!status_dir[0]) return;
    char p[4200];
    snprintf(p, sizeof p, "%s/rank-%d.%s", status_dir, status_rank, what);
    pp_io_write_atomic(p, text, strlen(text), NULL);
}

/* Decimal v into b (async-signal-safe); returns the digits written. */
static size_t put_long(char *b, long v) {
    char t[24];
    size_t n = 0, k = 0;
    if (v < 0) {
        b[k++] = '-';
        v = -v;
    }
    do t[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof t);
    while (n) b[k++] = t[--n];
    return k;
}

/* Notes the first signal and leaves "<signal> <sender pid>" in rank-R.sig.
 * A second SIGINT or SIGTERM ends the rank at once, as without a handler. */
static void on_rank_signal(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (rank_sig) {
        if (sig != SIGUSR1) {
            signal(sig, SIG_DFL);
            raise(sig);
        }
        return;
    }
    rank_sig = sig;
    if (!sig_path[0]) return;
    int e = errno;
    char text[64];
    size_t k = put_long(text, sig);
    text[k++] = ' ';
    k += put_long(text + k, si ? (long)si->si_pid : 0);
    text[k++] = '\n';
    int fd = open(sig_tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, text, k);
        (void)w;
        close(fd);
        rename(sig_tmp, sig_path);
    }
    errno = e;
}

void pp_launch_rank_begin(int rank, const char *host) {
    const char *dir = getenv(STATUS_ENV);
    status_rank = rank;
    status_dir[0] = sig_path[0] = '\0';
    if (dir && *dir && strlen(dir) < sizeof status_dir) {
        snprintf(status_dir, sizeof status_dir, "%s", dir);
        snprintf(sig_path, sizeof sig_path, "%s/rank-%d.sig", dir, rank);
        snprintf(sig_tmp, sizeof sig_tmp, "%s/.rank-%d.sig.tmp", dir, rank);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rank_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    char text[256];
    snprintf(text, sizeof text, "%ld %s\n", (long)getpid(), host && *host ? host : "?");
    status_write("pid", text);
}

int pp_launch_rank_signal(void) { return rank_sig; }

void pp_launch_rank_why(char *buf, size_t n) {
    snprintf(buf, n, "%s", pp_launch_signal_name(rank_sig));
    if (rank_sig != SIGUSR1 || !status_dir[0]) return;
    char p[4200], *text = NULL;
    size_t len;
    snprintf(p, sizeof p, "%s/launcher.sig", status_dir);
    if (pp_io_read_file(p, &text, &len, NULL) == 0) {
        char *line = strtok(text, "\n");
        if (line) snprintf(buf, n, "%.100s", line);
    }
    free(text);
}

void pp_launch_rank_fail(const char *msg) { status_write("err", msg ? msg : ""); }
void pp_launch_rank_done(const char *text) { status_write("done", text ? text : "\n"); }

/* ---- the launcher ---- */

static volatile sig_atomic_t launch_sig, launch_sigs; /* the first signal received, and how many */

static void on_launch_signal(int sig) {
    if (!launch_sig) launch_sig = sig;
    launch_sigs++;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* What a rank left in the status folder. */
enum { RK_NONE, RK_SILENT, RK_SIGNALLED, RK_FAILED, RK_DONE };

typedef struct rank_state {
    int state;
    long pid, sender;
    int sig;
    char host[128];
} rank_state;

static const char *const STATUS_EXT[] = {"pid", "err", "done", "sig"};

static void read_state(const char *status, int r, rank_state *s) {
    char p[4200], *text = NULL;
    size_t len;
    memset(s, 0, sizeof *s);
    snprintf(s->host, sizeof s->host, "?");
    snprintf(p, sizeof p, "%s/rank-%d.pid", status, r);
    if (pp_io_read_file(p, &text, &len, NULL) == 0) {
        sscanf(text, "%ld %127s", &s->pid, s->host);
        free(text);
        s->state = RK_SILENT;
    }
    snprintf(p, sizeof p, "%s/rank-%d.sig", status, r);
    if (pp_io_read_file(p, &text, &len, NULL) == 0) {
        if (sscanf(text, "%d %ld", &s->sig, &s->sender) == 2) s->state = RK_SIGNALLED;
        free(text);
    }
    snprintf(p, sizeof p, "%s/rank-%d.err", status, r);
    if (access(p, F_OK) == 0) s->state = RK_FAILED;
    snprintf(p, sizeof p, "%s/rank-%d.done", status, r);
    if (s->state != RK_FAILED && access(p, F_OK) == 0) s->state = RK_DONE;
}

/* "1", "0, 2 and 3" */
static void rank_list(const rank_state *st, int n, int state, char *buf, size_t len) {
    int count = 0, total = 0;
    for (int r = 0; r < n; r++) total += st[r].state == state;
    buf[0] = '\0';
    for (int r = 0; r < n; r++) {
        if (st[r].state != state) continue;
        size_t u = strlen(buf);
        count++;
        snprintf(buf + u, len - u, "%s%d", count == 1 ? "" : count == total ? " and " : ", ", r);
    }
}

/* After the job ended badly: which rank died, which failed, which were
 * stopped because of them. Returns how many died without a word. */
static int report_ranks(const char *name, const char *status, int n_ranks, long mpirun_pid) {
    rank_state *st = calloc((size_t)n_ranks, sizeof *st);
    if (!st) return 0;
    int died = 0, failed = 0, stopped = 0;
    for (int r = 0; r < n_ranks; r++) {
        read_state(status, r, &st[r]);
        died += st[r].state == RK_SILENT;
        failed += st[r].state == RK_FAILED;
        stopped += st[r].state == RK_SIGNALLED;
    }
    for (int r = 0; r < n_ranks; r++)
        if (st[r].state == RK_SILENT)
            fprintf(stderr, "%s: rank %d (pid %ld on %s) died without a message: killed (SIGKILL) or crashed\n", name,
                    r, st[r].pid, st[r].host);
    if (stopped) {
        char who[512], cause[512];
        rank_list(st, n_ranks, RK_SIGNALLED, who, sizeof who);
        int first = -1;
        for (int r = 0; r < n_ranks && first < 0; r++)
            if (st[r].state == RK_SIGNALLED) first = r;
        const char *from = st[first].sender == mpirun_pid ? "mpirun" : "another process", *s = stopped > 1 ? "s" : "";
        const char *sig = pp_launch_signal_name(st[first].sig);
        if (died) {
            rank_list(st, n_ranks, RK_SILENT, cause, sizeof cause);
            fprintf(stderr, "%s: rank%s %s stopped (%s from %s) because rank%s %s died\n", name, s, who, sig, from,
                    died > 1 ? "s" : "", cause);
        } else if (failed) {
            rank_list(st, n_ranks, RK_FAILED, cause, sizeof cause);
            fprintf(stderr, "%s: rank%s %s stopped (%s from %s) because rank%s %s failed\n", name, s, who, sig, from,
                    failed > 1 ? "s" : "", cause);
        } else {
            fprintf(stderr, "%s: rank%s %s stopped by %s from %s (pid %ld)\n", name, s, who, sig, from,
                    st[first].sender);
        }
    }
    free(st);
    return died;
}

/* Sends sig to the ranks of this host (from their pid files). */
static void kill_local_ranks(const char *status, int n_ranks, int sig) {
    char here[256] = "";
    gethostname(here, sizeof here - 1);
    for (int r = 0; r < n_ranks; r++) {
        rank_state s;
        read_state(status, r, &s);
        if (s.pid > 1 && !strcmp(s.host, here)) kill((pid_t)s.pid, sig);
    }
}

/* 1 when every rank has written its pid file (its handlers are in place). */
static int all_started(const char *status, int n_ranks) {
    for (int r = 0; r < n_ranks; r++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/rank-%d.pid", status, r);
        if (access(p, F_OK) != 0) return 0;
    }
    return 1;
}

/* Removes what a job leaves in the status folder (and the folder itself
 * when rm_dir). */
static void clear_status(const char *status, int n_ranks, int rm_dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/launcher.sig", status);
    unlink(p);
    for (int r = 0; r < n_ranks; r++)
        for (int e = 0; e < 4; e++) {
            snprintf(p, sizeof p, "%s/rank-%d.%s", status, r, STATUS_EXT[e]);
            unlink(p);
        }
    if (rm_dir) rmdir(status);
}

int pp_launch_run(char *const argv[], const pp_launch_opts *o, pp_launch_result *res, pp_err *err) {
    pp_launch_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    int mpi = o->n_ranks >= 1, argc = 0;
    while (argv[argc]) argc++;
    char tmp[] = "/tmp/pippy-run.XXXXXX", np[16];
    const char *status = NULL;
    char **args = NULL;
    if (mpi) {
        status = o->status_dir;
        if (!status) {
            if (!mkdtemp(tmp)) return pp_err_set(err, PP_ERR_IO, "cannot make a status folder: %s", strerror(errno));
            status = tmp;
        } else if (mkdir(status, 0755) != 0 && errno != EEXIST) {
            return pp_err_set(err, PP_ERR_IO, "status folder %s: %s", status, strerror(errno));
        }
        /* A folder used before: its old files would tell the wrong story. */
        clear_status(status, o->n_ranks, 0);
        snprintf(np, sizeof np, "%d", o->n_ranks);
        args = calloc((size_t)argc + 8, sizeof *args);
        if (!args) {
            if (!o->status_dir) rmdir(tmp);
            return pp_err_set(err, PP_ERR_NOMEM, "out of memory");
        }
        int a = 0;
        args[a++] = "mpirun";
        if (getuid() == 0) args[a++] = "--allow-run-as-root";
        args[a++] = "--oversubscribe";
        args[a++] = "-np";
        args[a++] = np;
        for (int i = 0; i < argc; i++) args[a++] = argv[i];
        args[a] = NULL;
    }
    fflush(stdout);
    fflush(stderr);
    /* SIGINT, SIGTERM and SIGHUP are the launcher's to pass on: mpirun runs
     * in a process group of its own, so a Ctrl-C at the terminal reaches
     * the launcher only, which stops the ranks after their current step. */
    struct sigaction sa, old_int, old_term, old_hup;
    if (mpi) {
        launch_sig = launch_sigs = 0;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_launch_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        sigaction(SIGHUP, &sa, &old_hup);
    }
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (mpi) {
            sigaction(SIGINT, &old_int, NULL);
            sigaction(SIGTERM, &old_term, NULL);
            sigaction(SIGHUP, &old_hup, NULL);
            free(args);
            if (!o->status_dir) rmdir(tmp);
        }
        return pp_err_set(err, PP_ERR_IO, "cannot start %s: %s", mpi ? "mpirun" : argv[0], strerror(e));
    }
    if (pid == 0) {
        if (o->log_path && !freopen(o->log_path, "a", stdout)) _exit(127);
        if (mpi) {
            setpgid(0, 0);
            int fd = open("/dev/null", O_RDONLY);
            if (fd >= 0) {
                dup2(fd, 0);
                close(fd);
            }
            setenv(STATUS_ENV, status, 1);
            execvp("mpirun", args);
            fprintf(stderr, "%s: cannot run mpirun (install openmpi-bin)\n", o->name);
        } else {
            execvp(argv[0], argv);
            fprintf(stderr, "%s: cannot run %s: %s\n", o->name, argv[0], strerror(errno));
        }
        _exit(127);
    }
    int st = 0;
    if (!mpi) {
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    } else {
        setpgid(pid, pid);
        free(args);
        int forwarded = 0, hard = 0, killed = 0;
        double t_sig = 0, t_hard = 0;
        for (;;) {
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid || (w < 0 && errno != EINTR)) break;
            double t = now_s();
            if (launch_sig && !forwarded) {
                forwarded = 1;
                t_sig = t;
                if (all_started(status, o->n_ranks)) {
                    fprintf(stderr, "%s: %s: asking every rank to stop after its current step\n", o->name,
                            pp_launch_signal_name(launch_sig));
                    char p[4200], text[160];
                    snprintf(p, sizeof p, "%s/launcher.sig", status);
                    snprintf(text, sizeof text, "%s to %s\n", pp_launch_signal_name(launch_sig), o->name);
                    pp_io_write_atomic(p, text, strlen(text), NULL);
                    kill(pid, SIGUSR1); /* Open MPI passes SIGUSR1 on to every rank */
                } else {
                    fprintf(stderr, "%s: %s before every rank started: stopping mpirun\n", o->name,
                            pp_launch_signal_name(launch_sig));
                    kill(pid, SIGTERM);
                    hard = 1;
                    t_hard = t;
                }
            }
            if (forwarded && !hard && (launch_sigs > 1 || t - t_sig > o->grace_s)) {
                fprintf(stderr, "%s: %s: stopping mpirun and the ranks now\n", o->name,
                        launch_sigs > 1 ? "a second signal" : "the ranks did not stop in time");
                kill(pid, SIGTERM);
                hard = 1;
                t_hard = t;
            }
            if (hard && !killed && t - t_hard > o->kill_after_s) {
                kill(pid, SIGKILL);
                kill_local_ranks(status, o->n_ranks, SIGKILL);
                killed = 1;
            }
            struct timespec nap = {0, 20 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        res->signal = launch_sig;
    }
    res->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
    res->seconds = now_s() - t0;
    if (mpi) {
        if (res->exit_code != 0 || res->signal) res->died = report_ranks(o->name, status, o->n_ranks, (long)pid);
        if (!o->status_dir) clear_status(status, o->n_ranks, 1);
    }
    return res->exit_code || res->signal ? 1 : 0;
}
