/* sl_buf_t's sticky error (lib/buf.h). */
#include "buf.h"
#include "error.h"
#include "sl_test.h"

#include <stdint.h>

SL_TEST(buf_sticky_error_survives_later_appends_until_reset) {
    sl_buf_t buf = SL_BUF_INIT;
    SL_CHECK_INT(sl_buf_error(&buf), 0);
    SL_CHECK_OK(sl_buf_append_str(&buf, "ab"));
    SL_CHECK_INT(sl_buf_error(&buf), 0);
    /* A request no allocator can meet fails, and the buffer remembers. */
    SL_CHECK_INT(sl_buf_append(&buf, "x", SIZE_MAX), SL_ENOMEM);
    SL_CHECK_INT(sl_buf_error(&buf), SL_ENOMEM);
    SL_CHECK_OK(sl_buf_append_str(&buf, "cd"));
    SL_CHECK_INT(sl_buf_error(&buf), SL_ENOMEM);
    SL_CHECK_UINT(buf.len, 4);
    sl_buf_reset(&buf);
    SL_CHECK_INT(sl_buf_error(&buf), 0);
    SL_CHECK_INT(sl_buf_append_u8(&buf, 'z'), 0);
    SL_CHECK(sl_buf_extend(&buf, SIZE_MAX - 4) == NULL);
    SL_CHECK_INT(sl_buf_error(&buf), SL_ENOMEM);
    /* A helper's own failure joins in; the first failure still wins. */
    SL_CHECK_INT(sl_buf_fail(&buf, SL_EINVAL), SL_EINVAL);
    SL_CHECK_INT(sl_buf_error(&buf), SL_ENOMEM);
    sl_buf_reset(&buf);
    SL_CHECK_INT(sl_buf_fail(&buf, SL_EINVAL), SL_EINVAL);
    SL_CHECK_INT(sl_buf_error(&buf), SL_EINVAL);
    sl_buf_free(&buf);
    SL_CHECK_INT(sl_buf_error(&buf), 0);
}
