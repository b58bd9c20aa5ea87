/*
 * test_data.c -- token streams and microbatch slicing: text and token files,
 * the default corpus, vocabulary checks, the unigram entropy, and that a
 * sample is fixed by (seed, sample index) whatever the microbatch split,
 * with each family's input layout (next-token, masked LM, encoder-decoder).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/pp_test.h"

#include "core/pp_io.h"
#include "executor/pp_data.h"

static char dir[64];

static void setup(void) { pp_test_tmpdir(dir, sizeof dir, "data"); }
static void teardown(void) { pp_test_rmtree(dir); }

static void write_file(const char *name, const void *data, size_t n, char *path) {
    pp_err err = {0};
    sprintf(path, "%s/%s", dir, name);
    ck_assert_int_eq(pp_io_write_atomic(path, data, n, &err), 0);
}

static pp_model_config family(pp_family f, int vocab) {
    pp_model_config c;
    pp_model_config_defaults(&c, f);
    c.vocab_size = vocab;
    return c;
}

START_TEST(test_text_and_token_files) {
    char path[256];
    pp_err err = {0};
    pp_data d;
    write_file("a.txt", "abcabc", 6, path);
    ck_assert_int_eq(pp_data_load(path, &d, &err), 0);
    ck_assert_int_eq(d.n, 6);
    ck_assert_uint_eq(d.tok[1], 'b');
    ck_assert_uint_eq(d.max_token, 'c');
    ck_assert(fabs(pp_data_unigram_entropy(&d) - log(3.0)) < 1e-12);
    pp_data_free(&d);

    const unsigned char u16[] = {0x01, 0x00, 0x34, 0x12, 0xff, 0xff};
    write_file("t.u16", u16, sizeof u16, path);
    ck_assert_int_eq(pp_data_load(path, &d, &err), 0);
    ck_assert_int_eq(d.n, 3);
    ck_assert_uint_eq(d.tok[1], 0x1234);
    ck_assert_uint_eq(d.max_token, 0xffff);
    pp_model_config c = family(PP_FAMILY_GPT2, 50257);
    ck_assert_int_eq(pp_data_check(&d, &c, 2, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "token 65535 does not fit"));
    pp_data_free(&d);

    const unsigned char u32[] = {0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0};
    write_file("t.u32", u32, sizeof u32, path);
    ck_assert_int_eq(pp_data_load(path, &d, &err), 0);
    ck_assert_uint_eq(d.tok[0], 0x12345678u);
    pp_data_free(&d);

    write_file("odd.u16", u16, 5, path);
    ck_assert_int_eq(pp_data_load(path, &d, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a whole number of 2-byte tokens"));
    write_file("empty.txt", "", 0, path);
    ck_assert_int_eq(pp_data_load(path, &d, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
}
END_TEST

START_TEST(test_default_corpus) {
    pp_err err = {0};
    pp_data d;
    /* The default corpus is a dependency, not an option: base-files, which
     * every Debian system has, installs it, and pippy run reads it when no
     * --data is given. */
    ck_assert_msg(access(PP_DATA_DEFAULT_DIR, R_OK) == 0, "%s is missing (Debian's base-files installs it)",
                  PP_DATA_DEFAULT_DIR);
    ck_assert_msg(pp_data_load(NULL, &d, &err) == 0, "%s", err.msg);
    ck_assert_int_gt(d.n, 10000);
    ck_assert_uint_lt(d.max_token, 256);
    double h = pp_data_unigram_entropy(&d);
    ck_assert(h > 2.0 && h < log(256.0));
    pp_data_free(&d);
}
END_TEST

START_TEST(test_slicing_is_fixed_by_sample) {
    char path[256], text[4096];
    pp_err err = {0};
    pp_data d;
    for (int i = 0; i < (int)sizeof text; i++) text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    write_file("s.txt", text, sizeof text, path);
    ck_assert_int_eq(pp_data_load(path, &d, &err), 0);
    pp_model_config c = family(PP_FAMILY_GPT2, 256);
    int T = 16;
    int32_t tk4[4 * 16], lb4[4 * 16], tk2[2 * 16], lb2[2 * 16];
    /* samples 8..11 at once, or as two microbatches of two */
    pp_data_fill(&d, &c, 99, 8, 4, T, tk4, NULL, lb4);
    pp_data_fill(&d, &c, 99, 10, 2, T, tk2, NULL, lb2);
    ck_assert(memcmp(tk4 + 2 * T, tk2, sizeof tk2) == 0);
    ck_assert(memcmp(lb4 + 2 * T, lb2, sizeof lb2) == 0);
    /* next-token labels */
    for (int b = 0; b < 4; b++)
        for (int t = 0; t + 1 < T; t++) ck_assert_int_eq(lb4[b * T + t], tk4[b * T + t + 1]);
    /* another seed, other offsets */
    pp_data_fill(&d, &c, 100, 8, 2, T, tk2, NULL, lb2);
    ck_assert(memcmp(tk4, tk2, sizeof tk2) != 0);

    /* bert: masked positions hold 0 and carry the original as label */
    pp_model_config bc = family(PP_FAMILY_BERT, 256);
    pp_data_fill(&d, &bc, 99, 8, 4, T, tk4, NULL, lb4);
    int masked = 0;
    for (int i = 0; i < 4 * T; i++) {
        if (lb4[i] >= 0) {
            masked++;
            ck_assert_int_eq(tk4[i], 0);
            ck_assert_int_ge(lb4[i], 'a');
        } else {
            ck_assert_int_ge(tk4[i], 'a');
        }
    }
    ck_assert_int_ge(masked, 4);
    ck_assert_int_lt(masked, 4 * T / 2);

    /* t5: labels are the next T tokens, decoder input is them shifted right */
    pp_model_config tc = family(PP_FAMILY_T5, 256);
    int32_t dec[4 * 16];
    pp_data_fill(&d, &tc, 99, 8, 4, T, tk4, dec, lb4);
    for (int b = 0; b < 4; b++) {
        ck_assert_int_eq(dec[b * T], 0);
        for (int t = 1; t < T; t++) ck_assert_int_eq(dec[b * T + t], lb4[b * T + t - 1]);
        const char *at = memchr(text, (char)tk4[b * T], sizeof text);
        ck_assert_ptr_nonnull(at);
    }
    pp_data_free(&d);
}
END_TEST

int main(void) {
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_text_and_token_files);
    tcase_add_test(tc, test_default_corpus);
    tcase_add_test(tc, test_slicing_is_fixed_by_sample);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
