/* Unit tests for capture's partition routing. */
#include "capture/route.h"
#include "error.h"
#include "hash.h"
#include "sl_test.h"

static const char *name(const sl_route_t *route, const char *db,
                        const char *table, uint64_t key_hash, sl_buf_t *buf) {
    const char *str;
    sl_buf_reset(buf);
    SL_CHECK_OK(sl_route_partition(route, db, strlen(db), table, strlen(table),
                                   key_hash, buf));
    SL_CHECK_OK(sl_buf_cstr(buf, &str));
    return str;
}

SL_TEST(route_modes_name_partitions) {
    sl_route_t route;
    sl_buf_t buf = SL_BUF_INIT;
    SL_CHECK_OK(sl_route_parse("table", &route));
    SL_CHECK_STR(name(&route, "shop", "users", 0, &buf), "shop.users");
    SL_CHECK_OK(sl_route_parse("database", &route));
    SL_CHECK_STR(name(&route, "shop", "users", 0, &buf), "shop");
    SL_CHECK_OK(sl_route_parse("server", &route));
    SL_CHECK_STR(name(&route, "shop", "users", 0, &buf), "all");
    SL_CHECK_OK(sl_route_parse("key:8", &route));
    SL_CHECK_UINT(route.buckets, 8);
    SL_CHECK_STR(name(&route, "shop", "users", 13, &buf), "shop.users#5");
    sl_buf_free(&buf);
}

SL_TEST(route_rejects_bad_modes) {
    sl_route_t route;
    SL_CHECK_INT(sl_route_parse("tables", &route), SL_EINVAL);
    SL_CHECK_INT(sl_route_parse("key:0", &route), SL_EINVAL);
    SL_CHECK_INT(sl_route_parse("key:", &route), SL_EINVAL);
    SL_CHECK_INT(sl_route_parse("key:65537", &route), SL_EINVAL);
    SL_CHECK_INT(sl_route_parse("key:-1", &route), SL_EINVAL);
    SL_CHECK_INT(sl_route_parse("", &route), SL_EINVAL);
}

SL_TEST(route_hash_is_stable) {
    /* FNV-1a 64 reference values: "" and "a". */
    SL_CHECK_UINT(sl_hash_fnv1a("", 0), 0xcbf29ce484222325ull);
    SL_CHECK_UINT(sl_hash_fnv1a("a", 1), 0xaf63dc4c8601ec8cull);
    SL_CHECK(sl_hash_fnv1a("[1]", 3) != sl_hash_fnv1a("[2]", 3));
}
