/*
 * fuzz_cluster.c -- the cluster spec reader (pp_cluster_parse) on any
 * bytes; an accepted spec stays within PP_CLUSTER_MAX_DEVICES, names every
 * device, and writes back to text that reads back to the same text and the
 * same expansion.
 */
#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "core/pp_cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pp_cluster c, d;
    pp_err err = {0};
    int rc = pp_cluster_parse((const char *)data, size, "fuzz.json", &c, &err);
    FUZZ_CHECK_RC(rc, err);
    if (rc) return 0;
    FUZZ_CHECK(c.n_devices >= c.n_hosts && c.n_hosts >= 1 && c.n_devices <= PP_CLUSTER_MAX_DEVICES,
               "%d hosts, %d devices", c.n_hosts, c.n_devices);
    char name[256];
    pp_cluster_device_name(&c, c.n_devices - 1, name, sizeof name);
    FUZZ_CHECK(c.devices[c.n_devices - 1].host == c.n_hosts - 1, "last device on host %d of %d",
               c.devices[c.n_devices - 1].host, c.n_hosts);
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    FUZZ_CHECK(pp_cluster_write(&c, &t1, &l1, &err) == 0, "writing back: %s", err.msg);
    FUZZ_CHECK(pp_cluster_parse(t1, l1, "back.json", &d, &err) == 0, "reading back: %s\n%s", err.msg, t1);
    FUZZ_CHECK(d.n_hosts == c.n_hosts && d.n_devices == c.n_devices, "expansion changed");
    FUZZ_CHECK(pp_cluster_write(&d, &t2, &l2, &err) == 0, "writing again: %s", err.msg);
    FUZZ_CHECK(l1 == l2 && !memcmp(t1, t2, l1), "round trip changed the spec:\n%s\n%s", t1, t2);
    free(t1);
    free(t2);
    pp_cluster_free(&d);
    pp_cluster_free(&c);
    return 0;
}
