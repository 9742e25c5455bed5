/* Routing of changes to partitions; see route.h. */
#include "route.h"

#include "error.h"
#include "parse.h"
#include "partname.h"

#include <stdio.h>
#include <string.h>

int sl_route_parse(const char *text, sl_route_t *route) {
    route->buckets = 1;
    if (strcmp(text, "table") == 0) {
        route->mode = SL_ROUTE_TABLE;
    } else if (strcmp(text, "database") == 0) {
        route->mode = SL_ROUTE_DATABASE;
    } else if (strcmp(text, "server") == 0) {
        route->mode = SL_ROUTE_SERVER;
    } else if (strncmp(text, "key:", 4) == 0) {
        uint64_t n;
        if (sl_parse_u64(text + 4, &n) != 0 || n < 1 || n > 65536)
            return SL_EINVAL;
        route->mode = SL_ROUTE_KEY;
        route->buckets = (uint32_t)n;
    } else {
        return SL_EINVAL;
    }
    return 0;
}

int sl_route_partition(const sl_route_t *route, const char *db, size_t db_len,
                       const char *table, size_t table_len, uint64_t key_hash,
                       sl_buf_t *out) {
    int err = 0;
    switch (route->mode) {
    case SL_ROUTE_SERVER: return sl_buf_append_str(out, "all");
    case SL_ROUTE_DATABASE: return sl_partname_encode(db, db_len, NULL, 0, out);
    case SL_ROUTE_TABLE:
    case SL_ROUTE_KEY:
        if ((err = sl_partname_encode(db, db_len, table, table_len, out)) != 0)
            return err;
        if (route->mode == SL_ROUTE_KEY)
            err = sl_buf_printf(out, "#%u",
                                (unsigned)(key_hash % route->buckets));
        return err;
    }
    return SL_EINVAL;
}
