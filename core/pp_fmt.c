/*
 * pp_fmt.c -- how pippy writes numbers for people (pp_fmt.h), once for
 * every module that prints them.
 */
#include "core/pp_fmt.h"

#include <stdio.h>
#include <string.h>

const char *pp_fmt_count(long long v, char *buf, size_t n) {
    char digits[32];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    snprintf(digits, sizeof digits, "%llu", u);
    size_t len = strlen(digits), o = 0;
    if (v < 0 && o + 1 < n) buf[o++] = '-';
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 1 < n) buf[o++] = ',';
        if (o + 1 < n) buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

const char *pp_fmt_si(double v, char *buf, size_t n) {
    const char *u[] = {"", "K", "M", "G", "T", "P", "E"};
    int k = 0;
    while (v >= 1000 && k < 6) {
        v /= 1000;
        k++;
    }
    if (v == 0) snprintf(buf, n, "0");
    else snprintf(buf, n, "%.3g%s", v, u[k]);
    return buf;
}

const char *pp_fmt_bytes(double v, char *buf, size_t n) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int k = 0;
    while (v >= 1024 && k < 4) {
        v /= 1024;
        k++;
    }
    if (k == 0) snprintf(buf, n, "%.0f B", v);
    else snprintf(buf, n, "%.2f %s", v, u[k]);
    return buf;
}
