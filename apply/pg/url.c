/*
 * The PostgreSQL --target URL:
 *
 *   postgresql://USER@HOST[:PORT]/DB[?sslmode=MODE&sslrootcert=FILE]
 *
 * (postgres:// too). HOST may be a percent-encoded directory for a unix
 * socket (%2Ftmp%2Fpg); the port defaults to 5432. A password in the URL
 * is refused: it comes from --target-password-file or
 * SLUICE_TARGET_PASSWORD. sslmode takes libpq's values (disable, allow,
 * prefer, require, verify-ca, verify-full); sslrootcert is the CA file.
 */
#include "internal.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

int sl_pg_url_is_pg(const char *text) {
    return strncmp(text, "postgresql://", 13) == 0 ||
           strncmp(text, "postgres://", 11) == 0;
}

/* Copies text[0..n) percent-decoded into out (cap bytes). */
static int decode(const char *t, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return SL_EINVAL;
            char hx[3] = {t[i + 1], t[i + 2], 0};
            char *end;
            long v = strtol(hx, &end, 16);
            if (*end != '\0' || v <= 0)
                return SL_EINVAL;
            ch = (char)v;
            i += 2;
        }
        if (k + 1 >= cap)
            return SL_EINVAL;
        out[k++] = ch;
    }
    out[k] = '\0';
    return 0;
}

static int query(const char *q, sl_pg_url_t *url) {
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        if (eq == NULL)
            return SL_EINVAL;
        size_t kl = (size_t)(eq - q), vl = n - kl - 1;
        if (kl == 7 && memcmp(q, "sslmode", 7) == 0) {
            if (decode(eq + 1, vl, url->sslmode, sizeof url->sslmode) != 0)
                return SL_EINVAL;
            static const char *const modes[] = {"disable",   "allow",
                                                "prefer",    "require",
                                                "verify-ca", "verify-full"};
            int ok = 0;
            for (size_t i = 0; i < 6; i++)
                ok |= strcmp(url->sslmode, modes[i]) == 0;
            if (!ok)
                return SL_EINVAL;
        } else if (kl == 11 && memcmp(q, "sslrootcert", 11) == 0) {
            if (decode(eq + 1, vl, url->sslrootcert, sizeof url->sslrootcert) !=
                0)
                return SL_EINVAL;
        } else {
            return SL_EINVAL;
        }
        q += n + (amp != NULL);
    }
    return 0;
}

int sl_pg_url_parse(const char *text, sl_pg_url_t *url) {
    memset(url, 0, sizeof *url);
    if (!sl_pg_url_is_pg(text))
        return SL_EINVAL;
    const char *p = strstr(text, "://") + 3;
    const char *qm = strchr(p, '?');
    size_t len = qm ? (size_t)(qm - p) : strlen(p);
    const char *at = memchr(p, '@', len);
    const char *slash = memchr(p, '/', len);
    if (at == NULL || at == p || slash == NULL || slash < at)
        return SL_EINVAL;
    if (memchr(p, ':', (size_t)(at - p)) != NULL)
        return SL_EINVAL; /* No password in URLs: use a file or env. */
    if (decode(p, (size_t)(at - p), url->user, sizeof url->user) != 0)
        return SL_EINVAL;
    size_t dl = len - (size_t)(slash + 1 - p);
    if (dl == 0 || memchr(slash + 1, '/', dl) ||
        decode(slash + 1, dl, url->db, sizeof url->db) != 0)
        return SL_EINVAL;
    const char *h = at + 1;
    size_t hl = (size_t)(slash - h);
    if (hl == 0)
        return SL_EINVAL;
    const char *colon = NULL;
    for (size_t i = 0; i < hl; i++)
        if (h[i] == ':')
            colon = h + i;
    url->port = 5432;
    if (colon != NULL && h[0] != '[') {
        char ps[8];
        size_t pl = (size_t)(h + hl - colon - 1);
        if (pl == 0 || pl >= sizeof ps)
            return SL_EINVAL;
        memcpy(ps, colon + 1, pl);
        ps[pl] = '\0';
        char *end;
        long v = strtol(ps, &end, 10);
        if (*end != '\0' || v < 1 || v > 65535)
            return SL_EINVAL;
        url->port = (uint16_t)v;
        hl = (size_t)(colon - h);
    }
    if (decode(h, hl, url->host, sizeof url->host) != 0 || !url->host[0])
        return SL_EINVAL;
    return qm ? query(qm + 1, url) : 0;
}
