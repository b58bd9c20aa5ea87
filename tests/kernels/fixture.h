/*
 * fixture.h -- reader of the PyTorch reference fixtures written by
 * scripts/gen_fixtures.py (format in that script's docstring).
 */
#ifndef PP_TEST_FIXTURE_H
#define PP_TEST_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx_entry {
    char name[256];
    int dtype; /* 0 f32, 1 i32 */
    int ndim;
    long long numel;
    void *data;
} fx_entry;

typedef struct fixture {
    fx_entry *e;
    int n;
} fixture;

static uint32_t fx_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Returns 0, or -1 with a message on stderr. */
static int fx_load(const char *path, fixture *fx) {
    memset(fx, 0, sizeof *fx);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len || len < 12 || memcmp(b, "PPFX0001", 8) != 0) {
        fprintf(stderr, "%s: not a fixture\n", path);
        free(b);
        fclose(f);
        return -1;
    }
    fclose(f);
    long o = 8;
    fx->n = (int)fx_u32(b + o);
    o += 4;
    fx->e = calloc((size_t)fx->n, sizeof *fx->e);
    for (int i = 0; i < fx->n; i++) {
        fx_entry *e = &fx->e[i];
        uint32_t nl = fx_u32(b + o);
        o += 4;
        memcpy(e->name, b + o, nl < 255 ? nl : 255);
        o += nl;
        e->dtype = (int)fx_u32(b + o);
        e->ndim = (int)fx_u32(b + o + 4);
        o += 8;
        e->numel = 1;
        for (int d = 0; d < e->ndim; d++, o += 4) e->numel *= fx_u32(b + o);
        e->data = malloc((size_t)e->numel * 4);
        memcpy(e->data, b + o, (size_t)e->numel * 4); /* little-endian host */
        o += e->numel * 4;
    }
    free(b);
    return o == len ? 0 : -1;
}

static void fx_free(fixture *fx) {
    for (int i = 0; i < fx->n; i++) free(fx->e[i].data);
    free(fx->e);
}

static fx_entry *fx_get(fixture *fx, const char *name) {
    for (int i = 0; i < fx->n; i++)
        if (!strcmp(fx->e[i].name, name)) return &fx->e[i];
    return NULL;
}

#endif /* PP_TEST_FIXTURE_H */
