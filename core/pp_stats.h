/*
 * pp_stats.h -- the two summary conventions every module uses, defined once:
 * the median of a sample and the relative error of a prediction. A run
 * printed by `pippy run`, `pippy validate`, `pippy report` and `pippy db`
 * shows one error, because all of them call these.
 */
#ifndef PP_STATS_H
#define PP_STATS_H

/* Sorts v[0 .. n) ascending, in place. */
void pp_stats_sort(double *v, int n);

/* The median of v[0 .. n), sorting v in place: the middle value for an odd
 * n, the mean of the two middle values for an even n; NAN when n < 1. */
double pp_stats_median(double *v, int n);

/* The median of v[0 .. n) without touching v: scratch holds n doubles (the
 * caller's). NAN when n < 1. */
double pp_stats_median_copy(const double *v, int n, double *scratch);

/* The relative error of a prediction: (measured - predicted) / measured.
 * Positive when the prediction is low (the run was slower than predicted).
 * NAN when measured is not a positive number or predicted is not finite. */
double pp_stats_rel_error(double measured, double predicted);

#endif /* PP_STATS_H */
