/*
 * pp_io.c -- file reading and atomic file replacement (see pp_io.h).
 */
#include "core/pp_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pp_io_read_file(const char *path, char **data, size_t *len, pp_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return pp_err_set(err, PP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 65536 * 2;
            char *p = pp_realloc(buf, ncap, err);
            if (!p) goto done;
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        pp_err_set(err, PP_ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    buf[n] = '\0';
    *data = buf;
    buf = NULL;
    if (len) *len = n;
    rc = 0;
done:
    free(buf);
    fclose(f);
    return rc;
}

int pp_io_write_atomic(const char *path, const void *data, size_t len, pp_err *err) {
    const void *parts[1] = {data};
    return pp_io_write_atomic_parts(path, parts, &len, 1, err);
}

int pp_io_write_atomic_parts(const char *path, const void *const *parts, const size_t *lens, int n, pp_err *err) {
    if (!strcmp(path, "-")) {
        for (int i = 0; i < n; i++)
            if (fwrite(parts[i], 1, lens[i], stdout) != lens[i])
                return pp_err_set(err, PP_ERR_IO, "stdout: write error: %s", strerror(errno));
        if (fflush(stdout) != 0) return pp_err_set(err, PP_ERR_IO, "stdout: write error: %s", strerror(errno));
        return 0;
    }
    size_t plen = strlen(path);
    char *tmp = pp_malloc(plen + 32, err);
    if (!tmp) return -1;
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        pp_err_set(err, PP_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const char *p = parts[i];
        size_t left = lens[i];
        while (left > 0) {
            ssize_t w = write(fd, p, left > ((size_t)1 << 30) ? ((size_t)1 << 30) : left);
            if (w < 0) {
                if (errno == EINTR) continue;
                pp_err_set(err, PP_ERR_IO, "%s: write error: %s", tmp, strerror(errno));
                close(fd);
                unlink(tmp);
                goto done;
            }
            p += w;
            left -= (size_t)w;
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        pp_err_set(err, PP_ERR_IO, "%s: cannot flush: %s", tmp, strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        pp_err_set(err, PP_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(tmp);
    return rc;
}
