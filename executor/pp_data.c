/*
 * pp_data.c -- token streams and microbatch slicing (see pp_data.h).
 */
#define _DEFAULT_SOURCE
#include "executor/pp_data.h"

#include "core/pp_io.h"
#include "kernels/pp_init.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void pp_data_free(pp_data *d) {
    free(d->tok);
    memset(d, 0, sizeof *d);
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

static int append_bytes(pp_data *d, long long *cap, const unsigned char *b, size_t n, pp_err *err) {
    if (d->n + (long long)n > *cap) {
        long long nc = *cap ? *cap : 1 << 16;
        while (nc < d->n + (long long)n) nc *= 2;
        uint32_t *p = pp_realloc(d->tok, (unsigned long long)nc * sizeof *p, err);
        if (!p) return -1;
        d->tok = p;
        *cap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        d->tok[d->n++] = b[i];
        if (b[i] > d->max_token) d->max_token = b[i];
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int load_default(pp_data *d, pp_err *err) {
    DIR *dir = opendir(PP_DATA_DEFAULT_DIR);
    if (!dir)
        return pp_err_set(err, PP_ERR_IO, "%s: cannot open the default corpus (give a text file with --data)",
                          PP_DATA_DEFAULT_DIR);
    char *names[256];
    int n = 0, rc = -1;
    struct dirent *de;
    while ((de = readdir(dir)) && n < 256) {
        if (de->d_name[0] == '.') continue;
        names[n] = pp_strdup(de->d_name, err);
        if (!names[n]) goto done;
        n++;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    long long cap = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", PP_DATA_DEFAULT_DIR, names[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue; /* links to files count; folders do not */
        char *text;
        size_t len;
        if (pp_io_read_file(path, &text, &len, err)) goto done;
        int bad = append_bytes(d, &cap, (const unsigned char *)text, len, err);
        free(text);
        if (bad) goto done;
    }
    snprintf(d->source, sizeof d->source, "%s (%d files)", PP_DATA_DEFAULT_DIR, n);
    rc = d->n > 0 ? 0 : pp_err_set(err, PP_ERR_IO, "%s: no text found", PP_DATA_DEFAULT_DIR);
done:
    for (int i = 0; i < n; i++) free(names[i]);
    closedir(dir);
    return rc;
}

int pp_data_load(const char *path, pp_data *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    if (!path) {
        if (load_default(out, err)) {
            pp_data_free(out);
            return -1;
        }
        return 0;
    }
    char *raw;
    size_t len;
    if (pp_io_read_file(path, &raw, &len, err)) return -1;
    int width = ends_with(path, ".u16") ? 2 : ends_with(path, ".u32") ? 4 : 1;
    if (len % (size_t)width) {
        free(raw);
        return pp_err_set(err, PP_ERR_PARSE, "%s: %zu bytes is not a whole number of %d-byte tokens", path, len, width);
    }
    long long n = (long long)(len / (size_t)width);
    out->tok = pp_malloc((unsigned long long)(n ? n : 1) * sizeof *out->tok, err);
    if (!out->tok) {
        free(raw);
        return -1;
    }
    const unsigned char *b = (const unsigned char *)raw;
    for (long long i = 0; i < n; i++) {
        uint32_t v = b[i * width];
        if (width >= 2) v |= (uint32_t)b[i * width + 1] << 8;
        if (width == 4) v |= (uint32_t)b[i * width + 2] << 16 | (uint32_t)b[i * width + 3] << 24;
        out->tok[i] = v;
        if (v > out->max_token) out->max_token = v;
    }
    out->n = n;
    free(raw);
    snprintf(out->source, sizeof out->source, "%s", path);
    if (n == 0) {
        pp_data_free(out);
        return pp_err_set(err, PP_ERR_PARSE, "%s: empty", path);
    }
    return 0;
}

double pp_data_unigram_entropy(const pp_data *d) {
    /* Counts by sorting a copy would be general; vocabularies here are small
     * enough to count directly. */
    unsigned long long span = (unsigned long long)d->max_token + 1;
    long long *count = calloc(span, sizeof *count);
    if (!count) return NAN;
    for (long long i = 0; i < d->n; i++) count[d->tok[i]]++;
    double h = 0;
    for (unsigned long long v = 0; v < span; v++) {
        if (!count[v]) continue;
        double p = (double)count[v] / (double)d->n;
        h -= p * log(p);
    }
    free(count);
    return h;
}

static long long need_of(const pp_model_config *cfg, int T) {
    return cfg->family == PP_FAMILY_T5 ? 2LL * T : (cfg->family == PP_FAMILY_BERT ? T : T + 1LL);
}

int pp_data_check(const pp_data *d, const pp_model_config *cfg, int seq, pp_err *err) {
    if (d->max_token >= (uint32_t)cfg->vocab_size)
        return pp_err_set(err, PP_ERR_INVALID, "%s: token %u does not fit model '%s' (vocab_size %d)", d->source,
                          d->max_token, cfg->name, cfg->vocab_size);
    if (d->n < need_of(cfg, seq))
        return pp_err_set(err, PP_ERR_INVALID, "%s: %lld tokens, fewer than one sequence needs (%lld)", d->source, d->n,
                          need_of(cfg, seq));
    return 0;
}

void pp_data_fill(const pp_data *d, const pp_model_config *cfg, uint64_t seed, long long sample0, int B, int T,
                  int32_t *tokens, int32_t *decoder_tokens, int32_t *labels) {
    long long need = need_of(cfg, T), span = d->n - need + 1;
    for (int b = 0; b < B; b++) {
        uint64_t k = (uint64_t)(sample0 + b);
        uint64_t h = pp_init_splitmix64(seed ^ pp_init_splitmix64(k * 0x9e3779b97f4a7c15ULL + 1));
        long long o = (long long)(h % (uint64_t)span);
        const uint32_t *x = d->tok + o;
        int32_t *tk = tokens + (size_t)b * T, *lb = labels + (size_t)b * T;
        switch (cfg->family) {
        case PP_FAMILY_BERT: {
            int any = 0;
            for (int t = 0; t < T; t++) {
                uint64_t r = pp_init_splitmix64(h ^ ((uint64_t)t * 0xbf58476d1ce4e5b9ULL));
                int masked = r % 100 < 15;
                tk[t] = masked ? 0 : (int32_t)x[t];
                lb[t] = masked ? (int32_t)x[t] : -1;
                any |= masked;
            }
            if (!any) {
                int t = (int)(h % (uint64_t)T);
                tk[t] = 0;
                lb[t] = (int32_t)x[t];
            }
            break;
        }
        case PP_FAMILY_T5: {
            int32_t *dt = decoder_tokens + (size_t)b * T;
            for (int t = 0; t < T; t++) {
                tk[t] = (int32_t)x[t];
                lb[t] = (int32_t)x[T + t];
                dt[t] = t ? (int32_t)x[T + t - 1] : 0;
            }
            break;
        }
        default:
            for (int t = 0; t < T; t++) {
                tk[t] = (int32_t)x[t];
                lb[t] = (int32_t)x[t + 1];
            }
            break;
        }
    }
}
