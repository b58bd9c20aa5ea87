/*
 * fuzz_plan.c -- the plan reader (pp_plan_parse) on any bytes; an accepted
 * plan writes back (with its model's graph) to text that reads back and
 * writes the same text again.
 */
#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "core/pp_graph.h"
#include "core/pp_plan.h"
#include "core/pp_zoo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pp_plan p, q;
    pp_err err = {0};
    int rc = pp_plan_parse((const char *)data, size, "fuzz.json", &p, &err);
    FUZZ_CHECK_RC(rc, err);
    if (rc) return 0;
    pp_graph g;
    FUZZ_CHECK(pp_zoo_build(&p.model, p.micro_batch, p.seq_len, p.dtype, &g, &err) == 0,
               "a plan read whose graph does not build: %s", err.msg);
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    FUZZ_CHECK(pp_plan_write(&p, &g, &t1, &l1, &err) == 0, "writing back: %s", err.msg);
    FUZZ_CHECK(pp_plan_parse(t1, l1, "back.json", &q, &err) == 0, "reading back: %s\n%s", err.msg, t1);
    FUZZ_CHECK(pp_plan_write(&q, &g, &t2, &l2, &err) == 0, "writing again: %s", err.msg);
    FUZZ_CHECK(l1 == l2 && !memcmp(t1, t2, l1), "round trip changed the plan:\n%s\n%s", t1, t2);
    free(t1);
    free(t2);
    pp_plan_free(&q);
    pp_graph_free(&g);
    pp_plan_free(&p);
    return 0;
}
