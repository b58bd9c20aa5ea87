/*
 * pp_test.h -- what every Check suite of pippy shares.
 */
#ifndef PP_TEST_H
#define PP_TEST_H

#include <check.h>

/* Runs a suite (and frees it); returns the process exit status: 0 when
 * every test passed, 1 otherwise. */
static inline int pp_test_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#endif /* PP_TEST_H */
