/*
 * sluice-apply --reset-to TIME|earliest (apply/mysql/reset.c): rewinds the
 * offsets sluice-apply keeps in its MySQL/MariaDB target (the
 * sluice_offsets rows of its group and topic), so the next run applies the
 * topic again from that point (docs/replay.md, "Re-run a consumer").
 */
#ifndef SL_APPLY_MYSQL_RESET_H
#define SL_APPLY_MYSQL_RESET_H

#include "sink.h"

/* For every partition with a row of (opts->group, opts->topic) in
 * sluice_offsets, resolves `to` ("earliest", or a time as lib/timeparse.h
 * reads it, through the broker's offset-by-time lookup) and prints
 * "PART NEXT -> NEW" lines to stdout. With confirm, moves the rows in one
 * target transaction; without it, changes nothing. broker, secret
 * (NULL when none) and tls (NULL: plaintext; lib/tls.h, as apply's other
 * broker connections take it) reach the broker. Returns the exit status:
 * 0 done, 1 failure (err says why), 2 bad usage. */
struct sl_tls_opts_s;
int sl_mysql_reset_offsets(const sl_mysql_opts_t *opts, const char *broker,
                           const char *secret, const struct sl_tls_opts_s *tls,
                           const char *to, int confirm, char *err,
                           size_t errlen);

#endif
