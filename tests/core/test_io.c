/*
 * test_io.c -- pp_io_write_atomic respects what stands at the output path
 * (core/pp_io.h): a regular file is replaced and keeps its permissions, a
 * symbolic link's target is replaced and the link kept (a dangling one
 * creates its target, a loop is an error), a FIFO is written through, a
 * directory is refused and left alone, and pp_io_same_file sees through
 * links.
 */
#include <check.h>

#include "tests/pp_test.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pp_io.h"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/pp_test_io.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void path_of(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static void expect_content(const char *path, const char *want) {
    char *data = NULL;
    size_t len = 0;
    pp_err err = {0};
    ck_assert_msg(pp_io_read_file(path, &data, &len, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(data, want);
    free(data);
}

static void write_text(const char *path, const char *text) {
    pp_err err = {0};
    ck_assert_msg(pp_io_write_atomic(path, text, strlen(text), &err) == 0, "%s: %s", path, err.msg);
}

START_TEST(regular_file_keeps_mode) {
    char p[128];
    path_of(p, sizeof p, "f.txt");
    write_text(p, "one");
    ck_assert_int_eq(chmod(p, 0600), 0);
    write_text(p, "two");
    expect_content(p, "two");
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    /* No temporary file is left beside it. */
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    ck_assert_int_ne(access(tmp, F_OK), 0);
}
END_TEST

START_TEST(symlink_target_replaced_link_kept) {
    char target[128], link[128], dangling[128], made[128];
    path_of(target, sizeof target, "target.txt");
    path_of(link, sizeof link, "link.txt");
    write_text(target, "old");
    ck_assert_int_eq(symlink("target.txt", link), 0);
    write_text(link, "new");
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    expect_content(target, "new");
    /* A dangling link: its target is created, the link stays. */
    path_of(dangling, sizeof dangling, "dangling.txt");
    path_of(made, sizeof made, "made.txt");
    ck_assert_int_eq(symlink("made.txt", dangling), 0);
    write_text(dangling, "made");
    ck_assert_int_eq(lstat(dangling, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    expect_content(made, "made");
}
END_TEST

START_TEST(symlink_loop_is_an_error) {
    char a[128], b[128];
    path_of(a, sizeof a, "a");
    path_of(b, sizeof b, "b");
    ck_assert_int_eq(symlink("b", a), 0);
    ck_assert_int_eq(symlink("a", b), 0);
    pp_err err = {0};
    ck_assert_int_eq(pp_io_write_atomic(a, "x", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "too many levels of symbolic links"));
    struct stat st;
    ck_assert_int_eq(lstat(a, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
}
END_TEST

static void *drain(void *arg) {
    char **out = arg;
    char *path = out[0];
    int fd = open(path, O_RDONLY);
    static char buf[256];
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    buf[n > 0 ? n : 0] = '\0';
    if (fd >= 0) close(fd);
    out[1] = buf;
    return NULL;
}

START_TEST(fifo_written_through) {
    char p[128];
    path_of(p, sizeof p, "pipe");
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    char *io[2] = {p, NULL};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, drain, io), 0);
    write_text(p, "through the pipe");
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_str_eq(io[1], "through the pipe");
    struct stat st;
    ck_assert_int_eq(lstat(p, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
}
END_TEST

START_TEST(directory_refused) {
    char p[128];
    path_of(p, sizeof p, "sub");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    pp_err err = {0};
    ck_assert_int_eq(pp_io_write_atomic(p, "x", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a directory, not a regular file"));
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
}
END_TEST

START_TEST(same_file_through_links) {
    char f[128], g[128], link[128], other[128];
    path_of(f, sizeof f, "f");
    path_of(g, sizeof g, "./f");
    path_of(link, sizeof link, "l");
    path_of(other, sizeof other, "o");
    write_text(f, "1");
    write_text(other, "2");
    ck_assert_int_eq(symlink("f", link), 0);
    ck_assert_int_eq(pp_io_same_file(f, f), 1);
    ck_assert_int_eq(pp_io_same_file(f, g), 1);
    ck_assert_int_eq(pp_io_same_file(link, f), 1);
    ck_assert_int_eq(pp_io_same_file(other, f), 0);
    ck_assert_int_eq(pp_io_same_file("-", "-"), 0);
    ck_assert_int_eq(pp_io_same_file(NULL, f), 0);
}
END_TEST

static Suite *io_suite(void) {
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("write_atomic");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, regular_file_keeps_mode);
    tcase_add_test(tc, symlink_target_replaced_link_kept);
    tcase_add_test(tc, symlink_loop_is_an_error);
    tcase_add_test(tc, fifo_written_through);
    tcase_add_test(tc, directory_refused);
    tcase_add_test(tc, same_file_through_links);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return pp_test_run(io_suite());
}
