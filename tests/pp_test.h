/*
 * pp_test.h -- what every Check suite of pippy shares.
 */
#ifndef PP_TEST_H
#define PP_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs a suite (and frees it); returns the process exit status: 0 when
 * every test passed, 1 otherwise. */
static inline int pp_test_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* A fresh folder /tmp/pp_<tag>.XXXXXX, its path into dir (n bytes); the
 * test fails when it cannot be made. */
static inline void pp_test_tmpdir(char *dir, size_t n, const char *tag) {
    snprintf(dir, n, "/tmp/pp_%s.XXXXXX", tag);
    ck_assert_msg(mkdtemp(dir) != NULL, "cannot make a folder %s", dir);
}

/* Removes dir and all it holds; the test fails when that fails. */
static inline void pp_test_rmtree(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_msg(system(cmd) == 0, "cannot remove %s", dir);
}

#endif /* PP_TEST_H */
