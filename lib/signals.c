#include "signals.h"

#include "error.h"

#include <signal.h>
#include <stddef.h>

static void on_signal(uv_signal_t *handle, int signum) {
    sl_signals_t *sig = handle->data;
    sig->received++;
    if (sig->stop_cb != NULL)
        sig->stop_cb(sig, signum);
}

int sl_err_from_uv(int uverr) {
    if (uverr >= 0)
        return 0;
    return sl_err_from_errno(-uverr);
}

int sl_signals_start(uv_loop_t *loop, sl_signals_t *sig, sl_stop_cb stop_cb) {
    sig->stop_cb = stop_cb;
    sig->closed_cb = NULL;
    sig->received = 0;
    sig->open = 0;
    int r = uv_signal_init(loop, &sig->term);
    if (r != 0)
        return sl_err_from_uv(r);
    r = uv_signal_init(loop, &sig->intr);
    if (r != 0) {
        uv_close((uv_handle_t *)&sig->term, NULL);
        return sl_err_from_uv(r);
    }
    sig->term.data = sig;
    sig->intr.data = sig;
    sig->open = 2;
    if ((r = uv_signal_start(&sig->term, on_signal, SIGTERM)) != 0 ||
        (r = uv_signal_start(&sig->intr, on_signal, SIGINT)) != 0) {
        sl_signals_close(sig, NULL);
        return sl_err_from_uv(r);
    }
    return 0;
}

static void on_close(uv_handle_t *handle) {
    sl_signals_t *sig = handle->data;
    if (--sig->open == 0 && sig->closed_cb != NULL)
        sig->closed_cb(sig);
}

void sl_signals_close(sl_signals_t *sig, sl_signals_closed_cb closed_cb) {
    sig->closed_cb = closed_cb;
    if (sig->open == 0) {
        if (closed_cb != NULL)
            closed_cb(sig);
        return;
    }
    uv_close((uv_handle_t *)&sig->term, on_close);
    uv_close((uv_handle_t *)&sig->intr, on_close);
}
