/*
 * The programs' common start (see program.h).
 */
#include "program.h"

#include "error.h"
#include "log.h"
#include "secret.h"

#include <stdio.h>
#include <string.h>

int sl_program_args(sl_config_t *cfg, const char *program, const char *usage,
                    const sl_opt_t *opts, int argc, char **argv) {
    if (sl_config_init(cfg, program, usage, opts) != 0)
        return 1;
    int err = sl_config_parse_args(cfg, argc, argv);
    if (err == 0)
        return SL_PROGRAM_RUN;
    if (err != SL_CONFIG_EXIT)
        fprintf(stderr, "%s: %s\n", program, cfg->err);
    sl_config_free(cfg);
    return err == SL_CONFIG_EXIT ? 0 : 2;
}

int sl_program_log_level(const sl_config_t *cfg) {
    sl_log_level_t level;
    sl_log_format_t format = SL_LOG_TEXT;
    int has_format = 0;
    for (size_t i = 0; i < cfg->nopts; i++)
        has_format |= strcmp(cfg->opts[i].name, "log-format") == 0;
    if (sl_log_parse_level(sl_config_get(cfg, "log-level"), &level) != 0 ||
        (has_format &&
         sl_log_parse_format(sl_config_get(cfg, "log-format"), &format) != 0))
        return SL_EUSAGE;
    sl_log_set_level(level);
    sl_log_set_format(format);
    return 0;
}

int sl_program_broker_secret(const sl_config_t *cfg, const char *key,
                             const char *what, int load_status, char **secret) {
    char errbuf[512];
    *secret = NULL;
    if (sl_secret_load(sl_config_get(cfg, key), "SLUICE_BROKER_SECRET", secret,
                       errbuf, sizeof errbuf) != 0) {
        fprintf(stderr, "%s: %s\n", cfg->program, errbuf);
        return load_status;
    }
    if (*secret != NULL &&
        sl_secret_check_token(*secret, what, errbuf, sizeof errbuf) != 0) {
        fprintf(stderr, "%s: %s\n", cfg->program, errbuf);
        sl_secret_free(*secret);
        *secret = NULL;
        return 2;
    }
    return 0;
}
