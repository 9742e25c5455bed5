/* The CLI's connection to the broker; see connect.h. */
#include "cli/connect.h"

#include "error.h"
#include "tls.h"

#include <stdio.h>

int sl_cli_connect(sl_config_t *cfg, const char *broker, const char *secret,
                   uint64_t timeout_ms, sl_client_t **cl) {
    sl_client_opts_t co = {secret, 5000, (int)timeout_ms, 5000};
    sl_tls_opts_t tls;
    int tls_on = 0;
    char tls_err[200];
    if (sl_tls_broker_config(cfg, &tls, &tls_on, tls_err, sizeof tls_err)) {
        fprintf(stderr, "sluice: %s\n", tls_err);
        return 2;
    }
    int err = sl_client_connect_tls(broker, &co, tls_on ? &tls : NULL, cl);
    if (err != 0) {
        fprintf(stderr, "sluice: cannot connect to broker %s: %s\n", broker,
                sl_strerror(err));
        return err == SL_EINVAL ? 2 : 1;
    }
    return 0;
}
