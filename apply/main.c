/*
 * sluice-apply: command-line entry point. For now it only parses its
 * options (--help, --version, --config and the keys below); the work itself
 * arrives with its issue.
 */
#include "config.h"
#include "error.h"

#include <stdio.h>

static const sl_opt_t opts[] = {
    {"log-level", "info", 0, "debug, info, warn or error"},
    {NULL, NULL, 0, NULL},
};

int main(int argc, char **argv) {
    sl_config_t cfg;
    if (sl_config_init(&cfg, "sluice-apply", "sluice-apply [OPTIONS]", opts) != 0)
        return 1;
    int err = sl_config_parse_args(&cfg, argc, argv);
    if (err == SL_CONFIG_EXIT) {
        sl_config_free(&cfg);
        return 0;
    }
    if (err != 0) {
        fprintf(stderr, "sluice-apply: %s\n", cfg.err);
        sl_config_free(&cfg);
        return 2;
    }
    fprintf(stderr, "sluice-apply: not implemented yet\n");
    sl_config_free(&cfg);
    return 1;
}
