/*
 * pp_stats.c -- median and relative error (see pp_stats.h).
 */
#include "core/pp_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void pp_stats_sort(double *v, int n) {
    if (v && n > 1) qsort(v, (size_t)n, sizeof *v, cmp_double);
}

double pp_stats_median(double *v, int n) {
    if (!v || n < 1) return NAN;
    pp_stats_sort(v, n);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double pp_stats_median_copy(const double *v, int n, double *scratch) {
    if (!v || !scratch || n < 1) return NAN;
    memcpy(scratch, v, (size_t)n * sizeof *v);
    return pp_stats_median(scratch, n);
}

double pp_stats_rel_error(double measured, double predicted) {
    if (!(measured > 0) || !isfinite(measured) || !isfinite(predicted)) return NAN;
    return (measured - predicted) / measured;
}
