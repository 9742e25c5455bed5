/* The shared names of change kinds and row operations (lib/change.h). */
#include "change.h"
#include "sl_test.h"

#include <string.h>

SL_TEST(change_kind_names_round_trip) {
    for (int k = SL_CHANGE_ROW; k <= SL_CHANGE_SNAPSHOT_DONE; k++) {
        const char *name = sl_change_kind_name((sl_change_kind_t)k);
        SL_CHECK(name[0] != '\0');
        SL_CHECK_INT((int)sl_change_kind_parse(name, strlen(name)), k);
    }
    SL_CHECK_STR(sl_change_kind_name(SL_CHANGE_XA_PREPARE), "xa_prepare");
    SL_CHECK_INT((int)sl_change_kind_parse("rowx", 3), SL_CHANGE_ROW);
    SL_CHECK_INT((int)sl_change_kind_parse("rowx", 4), SL_CHANGE_UNKNOWN);
    SL_CHECK_INT((int)sl_change_kind_parse("", 0), SL_CHANGE_UNKNOWN);
    SL_CHECK_STR(sl_change_kind_name((sl_change_kind_t)99), "");
}

SL_TEST(change_op_names_round_trip) {
    for (int o = SL_OP_INSERT; o <= SL_OP_READ; o++) {
        const char *name = sl_change_op_name((sl_change_op_t)o);
        SL_CHECK_INT((int)sl_change_op_parse(name, strlen(name)), o);
    }
    SL_CHECK_INT((int)sl_change_op_parse("Insert", 6), SL_OP_NONE);
    SL_CHECK_INT((int)sl_change_op_parse("upd", 3), SL_OP_NONE);
}
