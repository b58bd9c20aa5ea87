/*
 * fuzz_model.c -- the model config reader (pp_model_config_parse) on any
 * bytes; an accepted config writes back to text that reads back to the same
 * text, and its graph builds (or fails with a message) as `pippy check`
 * builds it, with a parameter count within PP_MODEL_PARAMS_MAX.
 */
#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "core/pp_graph.h"
#include "core/pp_zoo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pp_model_config c, d;
    pp_err err = {0};
    int rc = pp_model_config_parse((const char *)data, size, "fuzz.json", &c, &err);
    FUZZ_CHECK_RC(rc, err);
    if (rc) return 0;
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    FUZZ_CHECK(pp_model_config_write(&c, &t1, &l1, &err) == 0, "writing back: %s", err.msg);
    FUZZ_CHECK(pp_model_config_parse(t1, l1, "back.json", &d, &err) == 0, "reading back: %s\n%s", err.msg, t1);
    FUZZ_CHECK(pp_model_config_write(&d, &t2, &l2, &err) == 0, "writing again: %s", err.msg);
    FUZZ_CHECK(l1 == l2 && !memcmp(t1, t2, l1), "round trip changed the config:\n%s\n%s", t1, t2);
    free(t1);
    free(t2);
    pp_graph g;
    rc = pp_zoo_build(&c, 1, c.seq_len, PP_DTYPE_F32, &g, &err);
    FUZZ_CHECK_RC(rc, err);
    if (!rc) {
        long long params = pp_graph_param_count(&g); /* what `pippy check` prints */
        FUZZ_CHECK(params > 0 && (double)params <= PP_MODEL_PARAMS_MAX, "%lld parameters", params);
        pp_graph_free(&g);
    }
    return 0;
}
