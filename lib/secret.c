/*
 * Secrets: loaded from a file or the environment (see secret.h). A process
 * that holds one is made non-dumpable, so that no core file, ptrace attach
 * or /proc/PID/mem read by another user's (or the same user's unprivileged)
 * process can copy it; a secret read from the environment is removed from
 * it, so that children and /proc/PID/environ do not carry it either.
 */
#include "secret.h"

#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

/* Once a secret is in memory, keep it out of core dumps and away from
 * ptrace. A failure is not fatal (the secret still works) but is said. */
static void protect_process(void) {
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        fprintf(stderr, "warning: cannot make the process non-dumpable: %s\n",
                strerror(errno));
}

int sl_secret_load(const char *path, const char *env_name, char **out,
                   char *errbuf, unsigned errlen) {
    *out = NULL;
    if (path != NULL && *path != '\0') {
        FILE *file = fopen(path, "r");
        if (file == NULL) {
            snprintf(errbuf, errlen, "cannot read secret file %s: %s", path,
                     strerror(errno));
            return SL_ECONFIG;
        }
        char line[4096];
        if (fgets(line, sizeof line, file) == NULL)
            line[0] = '\0';
        fclose(file);
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        *out = strdup(line);
        explicit_bzero(line, sizeof line);
        if (*out == NULL)
            return SL_ENOMEM;
        protect_process();
        return 0;
    }
    if (env_name != NULL) {
        const char *value = getenv(env_name);
        if (value != NULL) {
            *out = strdup(value);
            if (*out == NULL)
                return SL_ENOMEM;
            /* unsetenv() only drops the pointer: the value stays in the
             * process's original environment block, which
             * /proc/PID/environ shows. Wipe it there too (the block is
             * writable memory, and nothing else holds the pointer). */
            explicit_bzero((char *)value, strlen(value));
            unsetenv(env_name);
            protect_process();
            return 0;
        }
    }
    return 0;
}

int sl_secret_check_token(const char *secret, const char *what, char *errbuf,
                          unsigned errlen) {
    size_t len = strlen(secret);
    if (len == 0) {
        snprintf(errbuf, errlen, "%s is empty", what);
        return SL_ECONFIG;
    }
    if (len > SL_SECRET_MAX_TOKEN) {
        snprintf(errbuf, errlen,
                 "%s is %zu bytes long; at most %d can be "
                 "sent in the broker protocol's auth line",
                 what, len, SL_SECRET_MAX_TOKEN);
        return SL_ECONFIG;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)secret[i];
        if (c < 0x21 || c > 0x7E) {
            /* The byte's position, never the secret itself. */
            snprintf(errbuf, errlen,
                     "%s has a %s at byte %zu; the broker "
                     "protocol sends it as one token of printable ASCII "
                     "(0x21-0x7E): no spaces, control or non-ASCII bytes",
                     what,
                     c == ' '                ? "space"
                     : c < 0x20 || c == 0x7F ? "control byte"
                                             : "non-ASCII byte",
                     i + 1);
            return SL_ECONFIG;
        }
    }
    return 0;
}

void sl_secret_free(char *secret) {
    if (secret == NULL)
        return;
    explicit_bzero(secret, strlen(secret));
    free(secret);
}
