/*
 * pp_hash.h -- SHA-256 (FIPS 180-4), the one hash pippy uses to name things.
 *
 * Models, plans and profiles are stored in the database under the SHA-256 of
 * their canonical JSON, written as 64 lowercase hex digits, so the same
 * config always lands on the same row and two different configs never share
 * one.
 *
 *     char hex[65];
 *     pp_sha256_hex(text, len, hex);          // one shot
 *
 *     pp_sha256_ctx c;                        // or piece by piece
 *     pp_sha256_init(&c);
 *     pp_sha256_update(&c, part1, n1);
 *     pp_sha256_update(&c, part2, n2);
 *     unsigned char digest[32];
 *     pp_sha256_final(&c, digest);
 *
 * None of these can fail; they allocate nothing.
 */
#ifndef PP_HASH_H
#define PP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PP_SHA256_DIGEST_LEN 32 /* bytes of a digest */
#define PP_SHA256_HEX_LEN 64    /* hex digits of a digest, without the NUL */

/* Running state of one SHA-256 computation. Treat as opaque. */
typedef struct pp_sha256_ctx {
    uint32_t h[8];          /* the hash value H(i) so far */
    uint64_t total;         /* message bytes taken in so far */
    unsigned char buf[64];  /* the message block being filled */
    size_t used;            /* bytes in buf */
} pp_sha256_ctx;

/* Starts a new computation (sets H(0)). */
void pp_sha256_init(pp_sha256_ctx *c);

/* Feeds len bytes of the message (data may be NULL when len is 0). */
void pp_sha256_update(pp_sha256_ctx *c, const void *data, size_t len);

/* Pads the message, writes the 32-byte digest into out and wipes c; call
 * pp_sha256_init before using c again. */
void pp_sha256_final(pp_sha256_ctx *c, unsigned char out[32]);

/* Digest of one whole buffer. */
void pp_sha256(const void *data, size_t len, unsigned char out[32]);

/* Digest of one whole buffer as 64 lowercase hex digits and a NUL. */
void pp_sha256_hex(const void *data, size_t len, char out[65]);

/* Writes a 32-byte digest as 64 lowercase hex digits and a NUL. */
void pp_sha256_to_hex(const unsigned char digest[32], char out[65]);

/* 1 when s is exactly 64 lowercase hex digits (what pp_sha256_hex writes). */
int pp_sha256_hex_valid(const char *s);

#endif /* PP_HASH_H */
