/*
 * pippy.c -- the `pippy` dispatcher.
 *
 * `pippy X args...` runs the executable `pippy-X` with the same arguments,
 * git style: first from the directory that holds this executable, then from
 * PATH. `pippy`, `pippy help` and `pippy --help` list the commands found.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *name, *what;
} known[] = {
    {"model", "show a model's graph: parameters, FLOPs and activation memory per block"},
    {"db", "list what the database holds"},
    {"profile", "time every op and link of a model into the database"},
    {"plan", "choose split points and schedule for a model, cluster and batch"},
    {"sim", "predict iteration time, bubble and memory of a plan or schedule"},
    {"run", "train for real, on one process or a plan's ranks under MPI"},
    {"report", "compare predicted with measured runs, with charts"},
    {"validate", "profile, plan, run and compare a matrix of configurations"},
    {"check", "read and check a model config, cluster spec, plan, schedule CSV or trace"},
    {"schedule", "show, convert, check and generate schedule tables (PyTorch's CSV)"},
};

static int self_dir(char *buf, size_t n) {
    ssize_t k = readlink("/proc/self/exe", buf, n - 1);
    if (k <= 0) return -1;
    buf[k] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash) return -1;
    *slash = '\0';
    return 0;
}

static int usage(FILE *f, const char *dir) {
    fprintf(f,
            "usage: pippy <command> [options]\n"
            "       pippy <command> --help\n\n"
            "pippy plans, predicts and runs pipeline-parallel training of transformers.\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/pippy-%s", dir, known[i].name);
        int have = access(path, X_OK) == 0;
        fprintf(f, "  %-9s %s%s\n", known[i].name, known[i].what, have ? "" : " (not built yet)");
    }
    /* Any other pippy-* executable beside us is a command too. */
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "pippy-", 6) != 0) continue;
            int listed = 0;
            for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
                if (!strcmp(e->d_name + 6, known[i].name)) listed = 1;
            if (!listed) fprintf(f, "  %-9s\n", e->d_name + 6);
        }
        closedir(d);
    }
    fprintf(f, "\nThe database is ./pippy.db unless --db or PIPPY_DB says otherwise.\n");
    return f == stdout ? 0 : 2;
}

int main(int argc, char **argv) {
    char dir[PATH_MAX];
    if (self_dir(dir, sizeof dir) != 0) snprintf(dir, sizeof dir, ".");
    if (argc < 2) return usage(stderr, dir);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            cmd = argv[2];
            argv[2] = "--help";
            argv[1] = (char *)cmd;
        } else {
            return usage(stdout, dir);
        }
    }
    if (!strcmp(cmd, "--version")) {
        printf("pippy 0.1.0\n");
        return 0;
    }
    if (strchr(cmd, '/') || cmd[0] == '-') {
        fprintf(stderr, "pippy: '%s' is not a command (see pippy --help)\n", cmd);
        return 2;
    }
    char exe[PATH_MAX + 16];
    snprintf(exe, sizeof exe, "%s/pippy-%s", dir, cmd);
    argv[1] = exe;
    if (access(exe, X_OK) == 0) {
        execv(exe, argv + 1);
        fprintf(stderr, "pippy: cannot run %s: %s\n", exe, strerror(errno));
        return 127;
    }
    char name[256];
    snprintf(name, sizeof name, "pippy-%s", cmd);
    argv[1] = name;
    execvp(name, argv + 1);
    fprintf(stderr, "pippy: unknown command '%s' (no %s beside pippy or on PATH; see pippy --help)\n", cmd, name);
    return 127;
}
