/*
 * fuzz.h -- what the fuzz harnesses of tests/fuzz/ share.
 *
 * Each fuzz_<reader>.c defines LLVMFuzzerTestOneInput: it hands the bytes
 * (exactly `size` of them, not NUL-terminated) to one of pippy's readers
 * from memory and, when the reader accepts them, checks what it promises:
 * what it read writes back and reads back the same. A crash, a sanitizer
 * report or a failed FUZZ_CHECK is a finding.
 *
 * The same file builds two ways: with clang's libFuzzer
 * (scripts/fuzz.sh, -fsanitize=fuzzer,address,undefined) to search, and
 * with replay.c's main (the project's own build, ctest `fuzz_<reader>`) to
 * run the seeds and the regression inputs in tests/fuzz/regress/<reader>/.
 */
#ifndef PP_FUZZ_H
#define PP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a finding) with the condition and a message when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                                 \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fputc('\n', stderr);                                                              \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* A reader's result: 0, or -1 with a message. */
#define FUZZ_CHECK_RC(rc, err)                                                                     \
    FUZZ_CHECK((rc) == 0 || ((rc) == -1 && (err).msg[0] != '\0'), "rc %d, message '%s'", (rc), \
               (err).msg)

#endif /* PP_FUZZ_H */
