/*
 * pp_io.c -- file reading and atomic file replacement (see pp_io.h).
 *
 * What stands at an output path decides how it is written: nothing or a
 * regular file -- a temporary file beside it, fsync, rename (the old file's
 * permissions kept); a symbolic link -- the same for the file it points to,
 * so the link stays; a character device or a FIFO (/dev/null, /dev/stdout, a
 * pipe) -- written through, never replaced; a directory, block device or
 * socket -- refused.
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

/* Writes every part to fd; "what" names it in errors. Returns 0 or -1. */
static int write_parts(int fd, const char *what, const void *const *parts, const size_t *lens, int n, pp_err *err) {
    for (int i = 0; i < n; i++) {
        const char *p = parts[i];
        size_t left = lens[i];
        while (left > 0) {
            ssize_t w = write(fd, p, left > ((size_t)1 << 30) ? ((size_t)1 << 30) : left);
            if (w < 0) {
                if (errno == EINTR) continue;
                return pp_err_set(err, PP_ERR_IO, "%s: write error: %s", what, strerror(errno));
            }
            p += w;
            left -= (size_t)w;
        }
    }
    return 0;
}

/* Follows path while it is a symbolic link (the last component only; the
 * kernel follows those of the directories). Returns a malloc'd path that is
 * not a link (it may not exist yet: a dangling link's target), or NULL with
 * err set on a loop or a link that cannot be read. */
static char *resolve_links(const char *path, pp_err *err) {
    char *cur = pp_strdup(path, err);
    for (int hops = 0; cur; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
        if (hops == 40) {
            pp_err_set(err, PP_ERR_IO, "%s: too many levels of symbolic links", path);
            break;
        }
        char target[4096];
        ssize_t k = readlink(cur, target, sizeof target - 1);
        if (k < 0 || (size_t)k >= sizeof target - 1) {
            pp_err_set(err, PP_ERR_IO, "%s: cannot read the symbolic link: %s", cur,
                       k < 0 ? strerror(errno) : "target too long");
            break;
        }
        target[k] = '\0';
        const char *slash = strrchr(cur, '/');
        size_t dl = target[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1;
        char *next = pp_malloc(dl + (size_t)k + 1, err);
        if (!next) break;
        memcpy(next, cur, dl);
        memcpy(next + dl, target, (size_t)k + 1);
        free(cur);
        cur = next;
    }
    free(cur);
    return NULL;
}

int pp_io_write_atomic_parts(const char *path, const void *const *parts, const size_t *lens, int n, pp_err *err) {
    if (!strcmp(path, "-")) {
        for (int i = 0; i < n; i++)
            if (fwrite(parts[i], 1, lens[i], stdout) != lens[i])
                return pp_err_set(err, PP_ERR_IO, "stdout: write error: %s", strerror(errno));
        if (fflush(stdout) != 0) return pp_err_set(err, PP_ERR_IO, "stdout: write error: %s", strerror(errno));
        return 0;
    }
    char *real = resolve_links(path, err), *tmp = NULL;
    if (!real) return -1;
    int rc = -1, fd = -1;
    struct stat st;
    mode_t mode = 0644;
    if (stat(real, &st) == 0) {
        if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
            /* A device or a pipe is written through, never replaced. */
            fd = open(real, O_WRONLY | O_NOCTTY);
            if (fd < 0) {
                pp_err_set(err, PP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
                goto done;
            }
            if (write_parts(fd, path, parts, lens, n, err)) goto done;
            if (close(fd) != 0) {
                fd = -1;
                pp_err_set(err, PP_ERR_IO, "%s: write error: %s", path, strerror(errno));
                goto done;
            }
            fd = -1;
            rc = 0;
            goto done;
        }
        if (!S_ISREG(st.st_mode)) {
            pp_err_set(err, PP_ERR_IO, "%s: is %s, not a regular file; refusing to replace it", path,
                       S_ISDIR(st.st_mode) ? "a directory" : S_ISBLK(st.st_mode) ? "a block device" : "a socket");
            goto done;
        }
        mode = st.st_mode & 07777; /* the replacement keeps the file's permissions */
    } else if (errno != ENOENT) {
        pp_err_set(err, PP_ERR_IO, "%s: cannot access: %s", path, strerror(errno));
        goto done;
    }
    size_t plen = strlen(real);
    tmp = pp_malloc(plen + 32, err);
    if (!tmp) goto done;
    snprintf(tmp, plen + 32, "%s.tmp.%ld", real, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) /* left by a crashed process of the same pid */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0) {
        pp_err_set(err, PP_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    if (fchmod(fd, mode) != 0) {
        pp_err_set(err, PP_ERR_IO, "%s: cannot set permissions: %s", tmp, strerror(errno));
        goto unlink_tmp;
    }
    if (write_parts(fd, tmp, parts, lens, n, err)) goto unlink_tmp;
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        pp_err_set(err, PP_ERR_IO, "%s: cannot flush: %s", tmp, strerror(errno));
        goto unlink_tmp;
    }
    fd = -1;
    if (rename(tmp, real) != 0) {
        pp_err_set(err, PP_ERR_IO, "%s: cannot rename into place: %s", real, strerror(errno));
        goto unlink_tmp;
    }
    rc = 0;
    goto done;
unlink_tmp:
    if (fd >= 0) close(fd);
    fd = -1;
    unlink(tmp);
done:
    if (fd >= 0) close(fd);
    free(tmp);
    free(real);
    return rc;
}

int pp_io_same_file(const char *a, const char *b) {
    if (!a || !b || !strcmp(a, "-") || !strcmp(b, "-")) return 0;
    if (!strcmp(a, b)) return 1;
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
