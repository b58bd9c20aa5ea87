/*
 * fuzz_trace.c -- the Chrome trace reader (pp_trace_parse_chrome) on any
 * bytes; an accepted trace writes back and reads back to the same events
 * bit for bit (pp_trace.h's promise).
 */
#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "core/pp_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pp_trace t, back;
    pp_err err = {0};
    int rc = pp_trace_parse_chrome((const char *)data, size, "fuzz.json", &t, &err);
    FUZZ_CHECK_RC(rc, err);
    if (rc) return 0;
    char *text = NULL;
    size_t len = 0;
    FUZZ_CHECK(pp_trace_write_chrome(&t, &text, &len, &err) == 0, "a trace read that does not write: %s", err.msg);
    FUZZ_CHECK(pp_trace_parse_chrome(text, len, "back.json", &back, &err) == 0, "reading back: %s\n%s", err.msg, text);
    FUZZ_CHECK(back.n == t.n, "%d events read back as %d", t.n, back.n);
    for (int i = 0; i < t.n; i++) {
        const pp_trace_event *a = &t.ev[i], *b = &back.ev[i];
        FUZZ_CHECK(a->rank == b->rank && a->stream == b->stream && a->action == b->action && a->stage == b->stage &&
                       a->mb == b->mb && a->bytes == b->bytes && !memcmp(&a->start, &b->start, sizeof a->start) &&
                       !memcmp(&a->end, &b->end, sizeof a->end),
                   "event %d changed:\n%s", i, text);
    }
    free(text);
    pp_trace_free(&back);
    pp_trace_free(&t);
    return 0;
}
