/*
 * test_cluster.c -- the cluster spec's bound on its size: hosts x devices
 * is counted without overflow and a spec beyond PP_CLUSTER_MAX_DEVICES is
 * refused, naming the count that crosses it, from text, from a file and
 * inside a plan; a spec exactly at the bound expands in full.
 */
#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_cluster.h"
#include "core/pp_io.h"
#include "core/pp_plan.h"

/* The spec of issue 13: 65536 x 65537 devices, 2^32 + 2^16 -- an int
 * product of 65536 (the old reader allocated that many and wrote past them). */
#define BIG_SPEC                                                                                                    \
    "{\"name\":\"big\",\"hosts\":[{\"name\":\"h\",\"count\":65536,\"devices\":[{\"type\":\"gpu\",\"model\":\"x\"," \
    "\"count\":65537,\"memory_gib\":80}]}]}"

static void cluster_bad(const char *text, const char *want) {
    pp_cluster c;
    memset(&c, 0x5a, sizeof c);
    pp_cluster before = c;
    pp_err err = {0};
    ck_assert_int_eq(pp_cluster_parse(text, strlen(text), "c.json", &c, &err), -1);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    ck_assert_msg(memcmp(&c, &before, sizeof c) == 0, "*out was touched on error");
}

START_TEST(test_overflowing_product) {
    cluster_bad(BIG_SPEC, "c.json:1:44: field 'hosts[0].count': 65536 hosts x 65537 devices each = 4295032832 devices; "
                          "a cluster spec may have at most 1048576 devices");
    /* Products that wrap an int to a small positive number or to zero. */
    cluster_bad("{\"name\":\"w\",\"hosts\":[{\"name\":\"h\",\"count\":65536,\"devices\":[{\"type\":\"cpu\",\"count\":65536,"
                "\"memory_gib\":1}]}]}",
                "field 'hosts[0].count': 65536 hosts x 65536 devices each = 4294967296 devices");
    cluster_bad("{\"name\":\"w\",\"hosts\":[{\"name\":\"h\",\"count\":100000,\"devices\":[{\"type\":\"cpu\",\"count\":1000000,"
                "\"memory_gib\":1}]}]}",
                "field 'hosts[0].count': 100000 hosts x 1000000 devices each = 100000000000 devices");
}
END_TEST

START_TEST(test_limit_per_host_and_in_all) {
    /* Groups of one host summing past the bound: the group's count is named. */
    cluster_bad("{\"name\":\"g\",\"hosts\":[{\"name\":\"h\",\"devices\":[{\"type\":\"cpu\",\"count\":1000000,\"memory_gib\":1},"
                "{\"type\":\"gpu\",\"count\":1000000,\"memory_gib\":1}]}]}",
                "field 'hosts[0].devices[1].count': 2000000 devices on one host; a cluster spec may have at most 1048576");
    /* Host entries summing past the bound: the entry that crosses it is named
     * (its devices array when it has no count), with the total so far. */
    cluster_bad("{\"name\":\"s\",\"hosts\":[{\"name\":\"a\",\"count\":1024,\"devices\":[{\"type\":\"cpu\",\"count\":1024,"
                "\"memory_gib\":1}]},{\"name\":\"b\",\"devices\":[{\"type\":\"cpu\",\"memory_gib\":1}]}]}",
                "field 'hosts[1].devices': 1 host x 1 device each = 1 device (1048577 with the host entries before)");
    /* Many entries each well inside the bound. */
    char text[8192];
    size_t o = (size_t)snprintf(text, sizeof text, "{\"name\":\"m\",\"hosts\":[");
    for (int i = 0; i < 11; i++)
        o += (size_t)snprintf(text + o, sizeof text - o,
                              "%s{\"name\":\"n%d\",\"count\":100000,\"devices\":[{\"type\":\"cpu\",\"memory_gib\":1}]}",
                              i ? "," : "", i);
    snprintf(text + o, sizeof text - o, "]}");
    cluster_bad(text, "field 'hosts[10].count': 100000 hosts x 1 device each = 100000 devices (1100000 with");
}
END_TEST

START_TEST(test_exactly_at_the_limit) {
    const char *text = "{\"name\":\"edge\",\"hosts\":[{\"name\":\"h\",\"count\":1024,\"devices\":[{\"type\":\"gpu\","
                       "\"count\":1000,\"memory_gib\":80},{\"type\":\"cpu\",\"count\":24,\"memory_gib\":1}]}]}";
    pp_cluster c;
    pp_err err = {0};
    ck_assert_msg(pp_cluster_parse(text, strlen(text), "c.json", &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.n_hosts, 1024);
    ck_assert_int_eq(c.n_devices, PP_CLUSTER_MAX_DEVICES);
    const pp_device *last = &c.devices[c.n_devices - 1];
    ck_assert_int_eq(last->host, 1023);
    ck_assert_int_eq(last->group, 1);
    ck_assert_int_eq(last->local_index, 1023);
    ck_assert_int_eq(last->type, PP_DEVICE_CPU);
    char name[160];
    pp_cluster_device_name(&c, c.n_devices - 1, name, sizeof name);
    ck_assert_str_eq(name, "h1023:1023");
    pp_cluster_free(&c);
}
END_TEST

START_TEST(test_from_a_file_and_a_plan) {
    char dir[] = "/tmp/pp_test_cluster.XXXXXX", path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/big.json", dir);
    pp_err err = {0};
    ck_assert_int_eq(pp_io_write_atomic(path, BIG_SPEC, strlen(BIG_SPEC), &err), 0);
    pp_cluster c;
    ck_assert_int_eq(pp_cluster_load(path, &c, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "big.json:1:44: field 'hosts[0].count': 65536 hosts x 65537 devices"));
    unlink(path);

    /* The test plan with that cluster in place of its own. */
    char ppath[1024], *text, *big;
    size_t len;
    snprintf(ppath, sizeof ppath, "%s/tests/data/plan-gpt2-tiny-pp2.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_io_read_file(ppath, &text, &len, &err) == 0, "%s", err.msg);
    const char *from = "\"count\": 2,";
    char *at = strstr(text, from);
    ck_assert_ptr_nonnull(at);
    const char *host = strstr(text, "\"name\": \"localhost\",");
    ck_assert_ptr_nonnull(host);
    big = malloc(len + 64);
    ck_assert_ptr_nonnull(big);
    /* "name": "localhost", "count": 65536, ... "count": 65537, */
    size_t o = 0, hend = (size_t)(host - text) + strlen("\"name\": \"localhost\",");
    memcpy(big, text, hend);
    o = hend;
    o += (size_t)sprintf(big + o, " \"count\": 65536,");
    memcpy(big + o, text + hend, (size_t)(at - text) - hend);
    o += (size_t)(at - text) - hend;
    o += (size_t)sprintf(big + o, "\"count\": 65537,");
    size_t rest = len - (size_t)(at - text) - strlen(from);
    memcpy(big + o, at + strlen(from), rest);
    o += rest;
    pp_plan p;
    ck_assert_int_eq(pp_plan_parse(big, o, "plan.json", &p, &err), -1);
    ck_assert_msg(strstr(err.msg, "plan.json:24:39: field 'cluster.hosts[0].count': 65536 hosts x 65537 devices") != NULL,
                  "%s", err.msg);
    free(big);
    free(text);
    rmdir(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_overflowing_product);
    tcase_add_test(tc, test_limit_per_host_and_in_all);
    tcase_add_test(tc, test_exactly_at_the_limit);
    tcase_add_test(tc, test_from_a_file_and_a_plan);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
