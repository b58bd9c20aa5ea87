/*
 * pp_fmt.h -- numbers written for people: counts with thousands
 * separators, SI prefixes, binary byte units. Every module that prints
 * (the tools, db's listings, the executor's lines, pippy model's table)
 * uses these.
 */
#ifndef PP_FMT_H
#define PP_FMT_H

#include <stddef.h>

/* Each writes v into buf (n bytes, 32
 * hold any value) and returns buf.
 * count: the integer with a comma every three digits ("124,439,808",
 * "-1,234"); cut short, still NUL-terminated, when n is too small.
 * si: three significant digits and an SI prefix for each factor 1000
 * ("1.5K", "12.3M", up to E; "0" for 0).
 * bytes: below 1024 whole bytes ("512 B"), else two decimals and a binary
 * unit ("1.50 KiB", "2.00 MiB", up to TiB). */
const char *pp_fmt_count(long long v, char *buf, size_t n);
const char *pp_fmt_si(double v, char *buf, size_t n);
const char *pp_fmt_bytes(double v, char *buf, size_t n);

#endif /* PP_FMT_H */
