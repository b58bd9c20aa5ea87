/*
 * pp_io.h -- whole-file reads and atomic writes.
 *
 * Nothing pippy writes is ever half-written: pp_io_write_atomic writes a
 * temporary file beside the target, flushes it to disk and renames it over
 * the target, so a reader sees the old file or the new one, never a mix.
 */
#ifndef PP_IO_H
#define PP_IO_H

#include <stddef.h>

#include "core/pp_err.h"

/* Reads a whole file. Returns 0 with *data (NUL-terminated, caller frees)
 * and *len, or -1 with err naming the path. */
int pp_io_read_file(const char *path, char **data, size_t *len, pp_err *err);

/* Writes data to path through "<path>.tmp.<pid>", fsync and rename.
 * Returns 0, or -1 with err set; on failure the target is untouched and the
 * temporary file removed. "-" writes to standard output. A symbolic link is
 * followed and its target replaced (the link stays); a character device or
 * FIFO already at path is written through, not replaced; a directory, block
 * device or socket is refused. */
int pp_io_write_atomic(const char *path, const void *data, size_t len, pp_err *err);
/* The same for the concatenation of n parts (parts[i], lens[i] bytes), so a
 * large file need not be assembled in memory first. */
int pp_io_write_atomic_parts(const char *path, const void *const *parts, const size_t *lens, int n, pp_err *err);

/* 1 when a and b name the same existing file (after links; by device and
 * inode) or are the same string, else 0. "-" (standard input or output)
 * matches nothing. For refusing an output that would overwrite an input. */
int pp_io_same_file(const char *a, const char *b);

#endif /* PP_IO_H */
