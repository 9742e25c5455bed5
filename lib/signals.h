/*
 * Graceful stop on SIGTERM and SIGINT for programs built on a libuv loop.
 *
 * The sl_signals_t is owned by the caller and must stay valid until the
 * closed callback of sl_signals_close() has fired (libuv handles are freed
 * only after their close callback). The stop callback runs on the loop
 * thread, once per signal received; a second signal while stopping is a
 * reason for the program to exit at once, which the callback can decide.
 */
#ifndef SL_SIGNALS_H
#define SL_SIGNALS_H

#include <uv.h>

typedef struct sl_signals_s sl_signals_t;
typedef void (*sl_stop_cb)(sl_signals_t *sig, int signum);
typedef void (*sl_signals_closed_cb)(sl_signals_t *sig);

struct sl_signals_s {
    uv_signal_t term;
    uv_signal_t intr;
    sl_stop_cb stop_cb;
    sl_signals_closed_cb closed_cb;
    int received; /* How many stop signals arrived so far. */
    int open;     /* Handles not yet closed. */
    void *data;   /* For the caller. */
};

/* Starts watching SIGTERM and SIGINT on loop. On error no callback fires. */
int sl_signals_start(uv_loop_t *loop, sl_signals_t *sig, sl_stop_cb stop_cb);

/* Closes both handles; closed_cb (may be NULL) fires once both are closed. */
void sl_signals_close(sl_signals_t *sig, sl_signals_closed_cb closed_cb);

/* Converts a libuv error (negative errno) into an SL_E* code. */
int sl_err_from_uv(int uverr);

#endif
