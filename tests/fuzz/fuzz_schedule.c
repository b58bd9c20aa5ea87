/*
 * fuzz_schedule.c -- the schedule CSV reader (pp_sched_parse_csv) on any
 * bytes, in each naming; an accepted table goes through the check every
 * reader of a schedule runs (validation and the deadlock check) and the
 * lowering, and writes back (where its naming can say it) to text that
 * reads back to the same table.
 */
#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "core/pp_sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const pp_sched_naming namings[] = {PP_NAMING_AUTO, PP_NAMING_CURRENT, PP_NAMING_LEGACY};
    for (int k = 0; k < 3; k++) {
        pp_sched s, back, low;
        pp_sched_naming found = PP_NAMING_AUTO;
        pp_err err = {0};
        int rc = pp_sched_parse_csv((const char *)data, size, "fuzz.csv", namings[k], &s, &found, &err);
        FUZZ_CHECK_RC(rc, err);
        if (rc) continue;
        FUZZ_CHECK(found == PP_NAMING_CURRENT || found == PP_NAMING_LEGACY, "found naming %d", found);
        rc = pp_sched_check(&s, 0, 0, &err);
        FUZZ_CHECK_RC(rc, err);
        rc = pp_sched_lower(&s, &low, &err);
        FUZZ_CHECK_RC(rc, err);
        if (!rc) pp_sched_free(&low);
        char *text = NULL;
        size_t len = 0;
        rc = pp_sched_write_csv(&s, found, &text, &len, &err);
        FUZZ_CHECK_RC(rc, err);
        if (!rc) {
            FUZZ_CHECK(pp_sched_parse_csv(text, len, "back.csv", found, &back, NULL, &err) == 0,
                       "reading back: %s\n%s", err.msg, text);
            FUZZ_CHECK(pp_sched_equal(&s, &back), "round trip changed the table:\n%s", text);
            pp_sched_free(&back);
            free(text);
        }
        pp_sched_free(&s);
    }
    return 0;
}
