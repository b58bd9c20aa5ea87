/*
 * test_hash.c -- SHA-256 (core/pp_hash.h) against the FIPS 180-4 example
 * vectors, the padding boundaries, and the incremental API cut at every
 * possible point.
 */
#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_hash.h"

static void expect_hex(const void *msg, size_t len, const char *want) {
    char hex[65];
    memset(hex, 'x', sizeof hex);
    pp_sha256_hex(msg, len, hex);
    ck_assert_uint_eq(strlen(hex), 64);
    ck_assert_str_eq(hex, want);
}

START_TEST(fips_empty) {
    expect_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_hex(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(fips_abc) {
    expect_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(fips_448_bits) {
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ck_assert_uint_eq(strlen(m) * 8, 448);
    expect_hex(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(fips_896_bits) {
    const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    ck_assert_uint_eq(strlen(m) * 8, 896);
    expect_hex(m, strlen(m), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}
END_TEST

START_TEST(fips_million_a) {
    const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    size_t n = 1000000;
    char *m = malloc(n);
    ck_assert_ptr_nonnull(m);
    memset(m, 'a', n);
    expect_hex(m, n, want);
    free(m);

    /* The same message fed in odd-sized pieces, never a whole block. */
    char piece[997];
    memset(piece, 'a', sizeof piece);
    pp_sha256_ctx c;
    pp_sha256_init(&c);
    size_t left = n;
    while (left > 0) {
        size_t k = left < sizeof piece ? left : sizeof piece;
        pp_sha256_update(&c, piece, k);
        left -= k;
    }
    unsigned char d[32];
    char hex[65];
    pp_sha256_final(&c, d);
    pp_sha256_to_hex(d, hex);
    ck_assert_str_eq(hex, want);
}
END_TEST

/* Lengths around the 55/56-byte padding boundary and block multiples
 * (reference digests from an independent implementation). */
START_TEST(padding_boundaries) {
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
        {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
        {57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"},
        {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
        {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
        {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
        {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
        {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
        {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
    };
    unsigned char m[128];
    for (size_t i = 0; i < sizeof m; i++) m[i] = (unsigned char)((i * 7 + 3) & 0xff);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) expect_hex(m, v[i].n, v[i].hex);
}
END_TEST

/* Every split of every message up to 200 bytes into two or three updates
 * gives the one-shot digest. */
START_TEST(incremental_equals_one_shot) {
    unsigned char m[200];
    for (size_t i = 0; i < sizeof m; i++) m[i] = (unsigned char)(i * 131 + 17);
    for (size_t n = 0; n <= sizeof m; n++) {
        unsigned char want[32];
        pp_sha256(m, n, want);
        for (size_t cut = 0; cut <= n; cut++) {
            size_t cut2 = cut + (n - cut) / 2;
            pp_sha256_ctx c;
            pp_sha256_init(&c);
            pp_sha256_update(&c, m, cut);
            pp_sha256_update(&c, NULL, 0);
            pp_sha256_update(&c, m + cut, cut2 - cut);
            pp_sha256_update(&c, m + cut2, n - cut2);
            unsigned char got[32];
            pp_sha256_final(&c, got);
            ck_assert_msg(memcmp(got, want, 32) == 0, "n=%zu cut=%zu cut2=%zu", n, cut, cut2);
        }
    }
}
END_TEST

START_TEST(context_reusable_after_init) {
    pp_sha256_ctx c;
    unsigned char d[32];
    char hex[65];
    pp_sha256_init(&c);
    pp_sha256_update(&c, "something else", 14);
    pp_sha256_final(&c, d);
    pp_sha256_init(&c);
    pp_sha256_update(&c, "ab", 2);
    pp_sha256_update(&c, "c", 1);
    pp_sha256_final(&c, d);
    pp_sha256_to_hex(d, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(hex_valid) {
    char hex[65];
    pp_sha256_hex("abc", 3, hex);
    ck_assert_int_eq(pp_sha256_hex_valid(hex), 1);
    ck_assert_int_eq(pp_sha256_hex_valid(NULL), 0);
    ck_assert_int_eq(pp_sha256_hex_valid(""), 0);
    ck_assert_int_eq(pp_sha256_hex_valid("abc"), 0);
    char up[65];
    memcpy(up, hex, sizeof up);
    up[0] = 'B';
    ck_assert_int_eq(pp_sha256_hex_valid(up), 0);
    char longer[67];
    snprintf(longer, sizeof longer, "%s00", hex);
    ck_assert_int_eq(pp_sha256_hex_valid(longer), 0);
    char shorter[65];
    memcpy(shorter, hex, sizeof shorter);
    shorter[63] = '\0';
    ck_assert_int_eq(pp_sha256_hex_valid(shorter), 0);
}
END_TEST

static Suite *hash_suite(void) {
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("sha256");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fips_empty);
    tcase_add_test(tc, fips_abc);
    tcase_add_test(tc, fips_448_bits);
    tcase_add_test(tc, fips_896_bits);
    tcase_add_test(tc, fips_million_a);
    tcase_add_test(tc, padding_boundaries);
    tcase_add_test(tc, incremental_equals_one_shot);
    tcase_add_test(tc, context_reusable_after_init);
    tcase_add_test(tc, hex_valid);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return pp_test_run(hash_suite());
}
