/* Unit tests of lib/secret.c's hardening (issue 12, item 8): a secret read
 * from the environment leaves it, the process holding a secret is not
 * dumpable, and a secret the broker protocol cannot carry is refused. */
#include "error.h"
#include "secret.h"
#include "sl_test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

SL_TEST(secret_env_is_removed_and_process_not_dumpable) {
    char err[256];
    char *secret = NULL;
    setenv("SL_TEST_SECRET_UNSET", "tok3n", 1);
    SL_CHECK_OK(
        sl_secret_load(NULL, "SL_TEST_SECRET_UNSET", &secret, err, sizeof err));
    SL_CHECK_STR(secret, "tok3n");
    SL_CHECK(getenv("SL_TEST_SECRET_UNSET") == NULL);
    SL_CHECK_INT(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    sl_secret_free(secret);
}

SL_TEST(secret_check_token_refuses_unsendable) {
    char err[256];
    SL_CHECK_OK(sl_secret_check_token("s3cret-Value_1", "x", err, sizeof err));
    SL_CHECK_INT(sl_secret_check_token("", "the secret", err, sizeof err),
                 SL_ECONFIG);
    SL_CHECK(strstr(err, "empty") != NULL);
    SL_CHECK_INT(
        sl_secret_check_token("two words", "the secret", err, sizeof err),
        SL_ECONFIG);
    SL_CHECK(strstr(err, "space at byte 4") != NULL);
    SL_CHECK(strstr(err, "two") == NULL); /* Never the secret itself. */
    SL_CHECK_INT(sl_secret_check_token("caf\xc3\xa9", "s", err, sizeof err),
                 SL_ECONFIG);
    SL_CHECK(strstr(err, "non-ASCII byte at byte 4") != NULL);
    SL_CHECK_INT(sl_secret_check_token("a\tb", "s", err, sizeof err),
                 SL_ECONFIG);
    SL_CHECK(strstr(err, "control byte") != NULL);
    char longone[SL_SECRET_MAX_TOKEN + 2];
    memset(longone, 'a', sizeof longone - 1);
    longone[sizeof longone - 1] = '\0';
    SL_CHECK_INT(sl_secret_check_token(longone, "s", err, sizeof err),
                 SL_ECONFIG);
    longone[SL_SECRET_MAX_TOKEN] = '\0';
    SL_CHECK_OK(sl_secret_check_token(longone, "s", err, sizeof err));
}
