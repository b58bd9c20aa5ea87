/*
 * pp_cpu_internal.h -- helpers shared by the CPU kernel files
 * (pp_cpu_kernels.c, pp_cpu_attention.c); not part of the kernel API.
 *
 * Threading model: GEMMs go through OpenBLAS, which on Debian is the pthread
 * build; every other loop is an OpenMP loop. A pthread OpenBLAS called from
 * inside an OpenMP parallel region would start its own threads in each call
 * (and serialise concurrent threaded GEMMs behind one lock), so a kernel that
 * calls cblas from inside its own parallel region first switches OpenBLAS to
 * one thread (pp_blas_serial_begin) and restores it afterwards
 * (pp_blas_serial_end). Kernels are called from one host thread per rank.
 */
#ifndef PP_CPU_INTERNAL_H
#define PP_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

/* Loops shorter than this many elements run without an OpenMP region. */
#define PP_OMP_MIN_ELEMS 32768L

/* `#pragma omp simd reduction(max : v)`: GCC vectorises a float max
 * reduction written as a select under it; clang cannot without -ffast-math
 * and warns, so there it is left out. */
#define PP_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define PP_OMP_SIMD_MAX(v)
#else
#define PP_OMP_SIMD_MAX(v) PP_PRAGMA(omp simd reduction(max : v))
#endif

/* Makes OpenBLAS single-threaded for the duration of an OpenMP region that
 * calls cblas; returns the token pp_blas_serial_end restores. */
int pp_blas_serial_begin(void);
void pp_blas_serial_end(int token);

/* malloc that never returns NULL (prints and aborts on exhaustion): kernels
 * never fail. */
void *pp_cpu_xmalloc(size_t bytes);

/* exp(x) in float for the softmax loops (attention, lm head), written so
 * that `#pragma omp simd` loops vectorise it (libm's expf is a call per
 * element). Cephes' expf: x = n ln2 + f with n = round(x / ln2) (ln2 split
 * in two), exp(f) by a degree-6 polynomial, times 2^n from the exponent
 * bits; relative error within 2 ulp of expf. The argument is clamped to
 * [-87.33654, 88] on its bits (float compares would keep GCC from
 * vectorising under -ftrapping-math): below, the result is ~1.2e-38 instead
 * of a denormal or 0, which a softmax never notices. NaN and +-inf give NaN. */
static inline float pp_expf(float x0) {
    uint32_t b;
    memcpy(&b, &x0, sizeof b);
    b = b > 0xC2AEAC4Fu ? 0xC2AEAC4Fu : b;            /* negative below -87.33654f */
    b = (int32_t)b > 0x42B00000 ? 0x42B00000u : b;    /* positive above 88.0f */
    float x;
    memcpy(&x, &b, sizeof x);
    float r = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float f = x - r * 0.693359375f;
    f = f - r * -2.12194440e-4f;
    float z = f * f;
    float y = (((((1.9875691500e-4f * f + 1.3981999507e-3f) * f + 8.3334519073e-3f) * f + 4.1665795894e-2f) * f +
                1.6666665459e-1f) * f + 5.0000001201e-1f) * z + f + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)r + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale + (x0 - x0); /* + 0, or NaN for a non-finite argument */
}

/* tanh(u) in float for the GELU loops, vectorisable like pp_expf:
 * (1 - e) / (1 + e) with e = exp(-2|u|), the sign of u restored; below
 * |u| = 0.25, where 1 - e would cancel, its Taylor series to u^9 (the next
 * term is under 2e-9). Relative error about 2e-7 (libm's tanhf is a call
 * per element: 14% of a gpt2-124m step, measured). */
static inline float pp_tanhf(float u) {
    uint32_t ub, ab;
    memcpy(&ub, &u, sizeof ub);
    ab = ub & 0x7fffffffu; /* |u|, and the sign apart: bit operations vectorise, float compares do not */
    float a;
    memcpy(&a, &ab, sizeof a);
    float e = pp_expf(-2.0f * a);
    float big = (1.0f - e) / (1.0f + e);
    float z = a * a;
    float small = a * (1.0f + z * (-0.333333333f + z * (0.133333333f + z * (-0.0539682540f + z * 0.0218694885f))));
    float r = ab < 0x3e800000u ? small : big; /* |u| < 0.25 */
    uint32_t rb;
    memcpy(&rb, &r, sizeof rb);
    rb |= ub & 0x80000000u;
    memcpy(&r, &rb, sizeof r);
    return r;
}

#endif /* PP_CPU_INTERNAL_H */
