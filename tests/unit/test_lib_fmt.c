/* Decimal formatting without printf (lib/fmt.h), checked against
 * snprintf at every digit count's edges. */
#include "fmt.h"
#include "sl_test.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void check_u64(uint64_t v) {
    char want[32], got[32];
    snprintf(want, sizeof want, "%" PRIu64, v);
    memset(got, 'x', sizeof got);
    char *end = sl_fmt_u64(got, v);
    SL_CHECK_INT((int)(end - got), (int)strlen(want));
    SL_CHECK_INT(got[end - got], 'x'); /* Nothing written past the end. */
    *end = '\0';
    SL_CHECK_STR(got, want);
    SL_CHECK_INT((int)sl_count_digits(v), (int)strlen(want));
}

SL_TEST(fmt_u64_matches_printf) {
    check_u64(0);
    check_u64(UINT64_MAX);
    check_u64(UINT32_MAX);
    check_u64((uint64_t)UINT32_MAX + 1);
    for (int k = 0; k < 20; k++) {
        check_u64(sl_pow10_u64[k]);
        check_u64(sl_pow10_u64[k] - 1);
        check_u64(sl_pow10_u64[k] + 1);
        check_u64(sl_pow10_u64[k] * 7 + 3);
    }
}

SL_TEST(fmt_fixed_digits_zero_padded) {
    uint8_t b[8];
    sl_put_digits(b, 42, 5);
    SL_CHECK(memcmp(b, "00042", 5) == 0);
    sl_put_digits(b, 7, 1);
    SL_CHECK(b[0] == '7');
    sl_put_2digits(b, 5);
    SL_CHECK(memcmp(b, "05", 2) == 0);
}
