/*
 * The status codes of the broker's text protocol (docs/protocol.md,
 * "Framing"): one table for both ends, so the broker's replies and the
 * client's reading of them cannot drift apart.
 *
 * X(code, NAME, to_err, from_err):
 *   code      the three digits at the start of a reply line;
 *   NAME      SL_STATUS_<NAME> in the enum below;
 *   to_err    the SL_E* code a client returns for a reply with this code
 *             (sl_status_error()); a code not in the table is SL_EIO;
 *   from_err  the store error the broker answers with this code
 *             (sl_status_of_error()), 0 for none; any other error is 500.
 * 400 is SL_EINVAL, not SL_EPROTO: the broker found the request malformed,
 * a caller's mistake (SL_EPROTO is kept for replies that break the
 * protocol). 422 is for stored records the broker quarantined as damaged:
 * never served, and asking again does not help (not transient).
 */
#ifndef SL_STATUS_H
#define SL_STATUS_H

#include "error.h"

#define SL_STATUS_MAP(X)                                                       \
    X(200, OK, 0, 0)                                                           \
    X(400, BAD_REQUEST, SL_EINVAL, SL_EINVAL)                                  \
    X(401, AUTH_REQUIRED, SL_EAUTH, 0)                                         \
    X(403, BAD_SECRET, SL_EAUTH, 0)                                            \
    X(404, NOT_FOUND, SL_ENOTFOUND, SL_ENOTFOUND)                              \
    X(408, TIMEOUT, SL_EIO, 0)                                                 \
    X(409, CONFLICT, SL_EEXIST, SL_EEXIST)                                     \
    X(413, TOO_LARGE, SL_ETOOBIG, SL_ETOOBIG)                                  \
    X(416, OUT_OF_RANGE, SL_ERANGE, 0)                                         \
    X(422, DAMAGED, SL_EDAMAGED, SL_EDAMAGED)                                  \
    X(429, LIMIT, SL_EIO, SL_ELIMIT)                                           \
    X(500, INTERNAL, SL_EIO, 0)                                                \
    X(503, UNAVAILABLE, SL_EAGAIN, SL_EAGAIN)                                  \
    X(507, NO_SPACE, SL_ENOSPC, SL_ENOSPC)

typedef enum {
#define SL_STATUS_ENUM_(code, name, to_err, from_err) SL_STATUS_##name = code,
    SL_STATUS_MAP(SL_STATUS_ENUM_)
#undef SL_STATUS_ENUM_
} sl_status_t;

/* The SL_E* code of a reply with status code (0 for 200; SL_EIO for a
 * code not in the table). */
int sl_status_error(int code);

/* The status code the broker answers a store error err with (500 for an
 * error not in the table). */
int sl_status_of_error(int err);

#endif
