/*
 * replay.c -- main() for a fuzz harness built without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on each file named, or on each regular file
 * of each directory named (not recursing), and says how many. A missing
 * path is an error (exit 2); a finding aborts like under libFuzzer.
 *
 *     fuzz_json_replay configs/models tests/fuzz/regress/json
 */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* An exact-size copy, so that ASan sees any read past the end. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    printf("replay: %s (%zu bytes)\n", path, n);
    fflush(stdout); /* named before a finding aborts */
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    int files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i])) return 2;
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "replay: cannot open %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        char **names = NULL;
        int n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (e->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                char **nn = realloc(names, (size_t)cap * sizeof *names);
                if (!nn) return 2;
                names = nn;
            }
            names[n] = strdup(path);
            if (!names[n]) return 2;
            n++;
        }
        closedir(d);
        if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (int k = 0; k < n; k++) {
            if (run_file(names[k])) return 2;
            files++;
            free(names[k]);
        }
        free(names);
    }
    printf("replay: %d input%s, no finding\n", files, files == 1 ? "" : "s");
    return 0;
}
