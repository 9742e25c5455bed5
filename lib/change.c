/* Names of change kinds and row operations; see change.h. */
#include "change.h"

#include <string.h>

static const char *const kind_names[] = {
    [SL_CHANGE_UNKNOWN] = "",
    [SL_CHANGE_ROW] = "row",
    [SL_CHANGE_BEGIN] = "begin",
    [SL_CHANGE_COMMIT] = "commit",
    [SL_CHANGE_ROLLBACK] = "rollback",
    [SL_CHANGE_DDL] = "ddl",
    [SL_CHANGE_STATEMENT] = "statement",
    [SL_CHANGE_XA_PREPARE] = "xa_prepare",
    [SL_CHANGE_SNAPSHOT_START] = "snapshot_start",
    [SL_CHANGE_SNAPSHOT_DONE] = "snapshot_done",
};

/* One name a line, as in kind_names (clang-format 14 packs these five
 * short entries two to a line). */
/* clang-format off */
static const char *const op_names[] = {
    [SL_OP_NONE] = "",
    [SL_OP_INSERT] = "insert",
    [SL_OP_UPDATE] = "update",
    [SL_OP_DELETE] = "delete",
    [SL_OP_READ] = "read",
};
/* clang-format on */

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *sl_change_kind_name(sl_change_kind_t kind) {
    return (unsigned)kind < NELEM(kind_names) ? kind_names[kind] : "";
}

const char *sl_change_op_name(sl_change_op_t op) {
    return (unsigned)op < NELEM(op_names) ? op_names[op] : "";
}

/* Index of the non-empty name in names equal to the len bytes at name, or
 * 0 (the unknown entry). */
static unsigned lookup(const char *const *names, size_t n, const char *name,
                       size_t len) {
    for (unsigned i = 1; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    return 0;
}

sl_change_kind_t sl_change_kind_parse(const char *name, size_t len) {
    return (sl_change_kind_t)lookup(kind_names, NELEM(kind_names), name, len);
}

sl_change_op_t sl_change_op_parse(const char *name, size_t len) {
    return (sl_change_op_t)lookup(op_names, NELEM(op_names), name, len);
}
