#include "secret.h"

#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        return *out ? 0 : SL_ENOMEM;
    }
    if (env_name != NULL) {
        const char *value = getenv(env_name);
        if (value != NULL) {
            *out = strdup(value);
            return *out ? 0 : SL_ENOMEM;
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
