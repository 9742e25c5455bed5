/* The broker protocol's status codes (lib/status.h): what a client makes
 * of each reply code, and which code the broker answers each store error
 * with. The pairs are those of the broker and client before the table. */
#include "sl_test.h"
#include "status.h"

SL_TEST(status_reply_code_to_client_error) {
    static const struct {
        int code, err;
    } cases[] = {
        {200, 0},           {400, SL_EINVAL},    {401, SL_EAUTH},
        {403, SL_EAUTH},    {404, SL_ENOTFOUND}, {408, SL_EIO},
        {409, SL_EEXIST},   {413, SL_ETOOBIG},   {416, SL_ERANGE},
        {422, SL_EDAMAGED}, {429, SL_EIO},       {500, SL_EIO},
        {503, SL_EAGAIN},   {507, SL_ENOSPC},    {418, SL_EIO},
        {100, SL_EIO},      {599, SL_EIO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        SL_CHECK_INT(sl_status_error(cases[i].code), cases[i].err);
}

SL_TEST(status_store_error_to_reply_code) {
    static const struct {
        int err, code;
    } cases[] = {
        {SL_ETOOBIG, 413},  {SL_EAGAIN, 503},    {SL_EINVAL, 400},
        {SL_ERANGE, 400},   {SL_ENOTFOUND, 404}, {SL_EEXIST, 409},
        {SL_ELIMIT, 429},   {SL_ENOSPC, 507},    {SL_EDAMAGED, 422},
        {SL_EIO, 500},      {SL_ENOMEM, 500},    {SL_EAUTH, 500},
        {SL_ECORRUPT, 500}, {SL_EGONE, 500},     {0, 500},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        SL_CHECK_INT(sl_status_of_error(cases[i].err), cases[i].code);
}
