/*
 * sluice-capture --from-file FILE... --broker HOST:PORT: the command line,
 * the list of files, the GTID filters, the schema at the start, progress
 * and the summary of a replay (see replay.h; the reader of files is
 * replay_source.c).
 *
 * The replay's own options are taken off the command line here; the rest
 * (--broker, --topic, --name, --include, --exclude, --exclude-column,
 * --partition-by, --skip-event-type, ...) go to the capture service as
 * they are, so a replay routes, filters and formats as the live capture
 * given the same options does. The service gets besides: --source (the
 * --schema-from server, else a placeholder never connected to), no
 * preflight and no schema check (there is no source to compare with),
 * --start at the first file's start position, and --name NAME.replay.
 */
#include "replay.h"
#include "replay_int.h"

#include "bytes.h"
#include "capture/schema/history.h"
#include "capture/schema/schema.h"
#include "clock.h"
#include "config.h"
#include "error.h"
#include "hash.h"
#include "log.h"
#include "parse.h"
#include "publish.h"
#include "service.h"
#include "source.h"
#include "timeparse.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sl_replay_t *active;

sl_replay_t *sl__replay_get(void) { return active; }
void sl__replay_set(sl_replay_t *rp) { active = rp; }
int sl_replay_active(void) { return active != NULL; }
const char *sl_replay_identity(void) { return active ? "replay\n" : ""; }

/* The replay's own options; all take a value. */
static const char *const own_opts[] = {"from-file",
                                       "start-position",
                                       "stop-position",
                                       "start-datetime",
                                       "stop-datetime",
                                       "include-gtids",
                                       "exclude-gtids",
                                       "schema-from",
                                       "schema-history",
                                       "progress",
                                       NULL};

/* Options of the service that take no value. */
static const char *const service_flags[] = {"tls",
                                            "broker-tls",
                                            "broker-tls-insecure",
                                            "tls-insecure",
                                            "stats-allow-remote",
                                            "help",
                                            "version",
                                            NULL};

static const char help_text[] =
    "Usage: sluice-capture --from-file FILE... --broker HOST:PORT [OPTIONS]\n"
    "Replays binlog files into the broker, exactly once (docs/replay.md).\n"
    "  --from-file FILE|DIR|GLOB  binlog files in order (repeatable; more may\n"
    "                             follow as arguments); a directory is read "
    "in\n"
    "                             the order of its .index file\n"
    "  --start-position N         position in the first file to start at\n"
    "  --stop-position N          position in the last file to stop at\n"
    "  --start-datetime TIME      skip transactions older than TIME\n"
    "  --stop-datetime TIME       stop at the first transaction at or after\n"
    "                             TIME ('YYYY-MM-DD HH:MM:SS' local, Z for "
    "UTC,\n"
    "                             @EPOCH)\n"
    "  --include-gtids SET        replay only these transactions\n"
    "  --exclude-gtids SET        leave these transactions out (SET: D-S-N,\n"
    "                             D-S-N1-N2 (S may be *), or "
    "uuid:N[-M][:N-M])\n"
    "  --schema-from URL          table definitions from this live server\n"
    "                             (mysql://USER@HOST:PORT; password from\n"
    "                             --password-file or $SLUICE_SOURCE_PASSWORD)\n"
    "  --schema-history NAME      table definitions from the schema history "
    "of\n"
    "                             the earlier capture NAME\n"
    "  --progress auto|yes|no     progress line on stderr (auto: on a tty)\n"
    "The capture's options apply as for a live capture: --broker, --topic,\n"
    "--name (the replay runs as NAME.replay), --include, --exclude,\n"
    "--exclude-column, --partition-by, --skip-event-type, --max-inflight,\n"
    "--checkpoint-interval, --broker-secret-file, --log-level.\n";

static int is_in(const char *const *list, const char *name, size_t len) {
    for (size_t i = 0; list[i] != NULL; i++)
        if (strlen(list[i]) == len && strncmp(list[i], name, len) == 0)
            return 1;
    return 0;
}

int sl_capture_replay_wanted(int argc, char **argv) {
    int files = 0, broker = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strncmp(argv[i], "--from-file", 11) == 0 &&
            (argv[i][11] == '\0' || argv[i][11] == '='))
            files = 1;
        if (strncmp(argv[i], "--broker", 8) == 0 &&
            (argv[i][8] == '\0' || argv[i][8] == '='))
            broker = 1;
    }
    return files && broker;
}

/* ---- files ---- */

static int add_file(sl_replay_t *rp, const char *path, char *err,
                    size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s", path,
                 errno ? strerror(errno) : "not a regular file");
        return SL_ENOTFOUND;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < rp->nfiles; i++)
        if (strcmp(rp->files[i].name, base) == 0) {
            snprintf(err, errlen,
                     "%s and %s have the same name: positions name files by "
                     "their base name, so a replay takes each name once",
                     rp->files[i].path, path);
            return SL_EINVAL;
        }
    sl_replay_file_t *f =
        realloc(rp->files, (rp->nfiles + 1) * sizeof *rp->files);
    if (f == NULL)
        return SL_ENOMEM;
    rp->files = f;
    f = &rp->files[rp->nfiles];
    f->path = strdup(path);
    f->name = strdup(base);
    f->size = (uint64_t)st.st_size;
    if (f->path == NULL || f->name == NULL) {
        free(f->path);
        free(f->name);
        return SL_ENOMEM;
    }
    rp->nfiles++;
    return 0;
}

/* Binlog names end in ".<digits>"; sorting by that number (then by name)
 * is the server's index order. */
static int cmp_names(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    const char *dx = strrchr(x, '.'), *dy = strrchr(y, '.');
    if (dx && dy) {
        unsigned long long nx = strtoull(dx + 1, NULL, 10),
                           ny = strtoull(dy + 1, NULL, 10);
        if (nx != ny)
            return nx < ny ? -1 : 1;
    }
    return strcmp(x, y);
}

static int binlog_like(const char *name) {
    const char *dot = strrchr(name, '.');
    if (dot == NULL || dot[1] == '\0')
        return 0;
    for (const char *p = dot + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

static int add_sorted(sl_replay_t *rp, char **names, size_t n, char *err,
                      size_t errlen) {
    qsort(names, n, sizeof *names, cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_file(rp, names[i], err, errlen);
    return rc;
}

/* A directory: the files its .index lists, in that order, else every
 * NAME.NNNNNN in it in number order. */
static int add_dir(sl_replay_t *rp, const char *dir, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    char **names = NULL;
    size_t n = 0;
    char index[4096] = "";
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && rc == 0) {
        size_t len = strlen(de->d_name);
        if (len > 6 && strcmp(de->d_name + len - 6, ".index") == 0) {
            if (index[0] != '\0') {
                snprintf(err, errlen,
                         "%s holds more than one .index file; name the files",
                         dir);
                rc = SL_EINVAL;
            }
            snprintf(index, sizeof index, "%s/%s", dir, de->d_name);
            continue;
        }
        if (!binlog_like(de->d_name))
            continue;
        char **nn = realloc(names, (n + 1) * sizeof *names);
        if (nn == NULL || asprintf(&nn[n], "%s/%s", dir, de->d_name) < 0) {
            names = nn ? nn : names;
            rc = SL_ENOMEM;
            break;
        }
        names = nn;
        n++;
    }
    closedir(d);
    if (rc == 0 && index[0] != '\0') {
        FILE *f = fopen(index, "r");
        char line[4096];
        if (f == NULL) {
            snprintf(err, errlen, "%s: %s", index, strerror(errno));
            rc = SL_EIO;
        }
        while (rc == 0 && f != NULL && fgets(line, sizeof line, f) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '\0')
                continue;
            const char *base = strrchr(line, '/');
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, base ? base + 1 : line);
            rc = add_file(rp, path, err, errlen);
        }
        if (f != NULL)
            fclose(f);
    } else if (rc == 0) {
        if (n == 0) {
            snprintf(err, errlen, "%s holds no binlog files (NAME.NNNNNN)",
                     dir);
            rc = SL_ENOTFOUND;
        } else {
            rc = add_sorted(rp, names, n, err, errlen);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int add_path(sl_replay_t *rp, const char *path, char *err,
                    size_t errlen) {
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? add_dir(rp, path, err, errlen)
                                   : add_file(rp, path, err, errlen);
    if (strpbrk(path, "*?[") == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SL_ENOTFOUND;
    }
    glob_t g;
    int grc = glob(path, 0, NULL, &g);
    if (grc != 0) {
        snprintf(err, errlen, "%s matches no file", path);
        return SL_ENOTFOUND;
    }
    char **names = calloc(g.gl_pathc, sizeof *names);
    size_t n = 0;
    int rc = names ? 0 : SL_ENOMEM;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        size_t len = strlen(g.gl_pathv[i]);
        if (len > 6 && strcmp(g.gl_pathv[i] + len - 6, ".index") == 0)
            continue;
        names[n++] = g.gl_pathv[i];
    }
    if (rc == 0)
        rc = add_sorted(rp, names, n, err, errlen);
    free(names);
    globfree(&g);
    return rc;
}

/* ---- GTID sets ---- */

static int parse_uuid(const char *p, size_t len, uint8_t out[16]) {
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '-')
            continue;
        int v;
        char c = p[i];
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return SL_EINVAL;
        if (k >= 32)
            return SL_EINVAL;
        if (k % 2 == 0)
            out[k / 2] = (uint8_t)(v << 4);
        else
            out[k / 2] |= (uint8_t)v;
        k++;
    }
    return k == 32 ? 0 : SL_EINVAL;
}

static int push_range(sl_replay_gtid_range_t **list, size_t *n,
                      const sl_replay_gtid_range_t *r) {
    sl_replay_gtid_range_t *l = realloc(*list, (*n + 1) * sizeof *l);
    if (l == NULL)
        return SL_ENOMEM;
    l[(*n)++] = *r;
    *list = l;
    return 0;
}

static int parse_seq_range(const char *text, uint64_t *lo, uint64_t *hi) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    char *dash = strchr(buf, '-');
    if (dash != NULL)
        *dash = '\0';
    if (sl_parse_u64(buf, lo) != 0)
        return SL_EINVAL;
    *hi = *lo;
    if (dash != NULL && sl_parse_u64(dash + 1, hi) != 0)
        return SL_EINVAL;
    return *hi >= *lo ? 0 : SL_EINVAL;
}

/* "D-S-N[-M],uuid:N[-M][:N[-M]],..." */
static int parse_gtids(const char *text, sl_replay_gtid_range_t **list,
                       size_t *n) {
    char *copy = strdup(text), *save = NULL;
    if (copy == NULL)
        return SL_ENOMEM;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        sl_replay_gtid_range_t r;
        memset(&r, 0, sizeof r);
        char *colon = strchr(item, ':');
        if (colon != NULL) {
            r.mysql = 1;
            if (parse_uuid(item, (size_t)(colon - item), r.uuid) != 0) {
                rc = SL_EINVAL;
                break;
            }
            char *save2 = NULL;
            for (char *iv = strtok_r(colon + 1, ":", &save2); iv && rc == 0;
                 iv = strtok_r(NULL, ":", &save2)) {
                if ((rc = parse_seq_range(iv, &r.lo, &r.hi)) == 0)
                    rc = push_range(list, n, &r);
            }
            continue;
        }
        char parts[4][32];
        int k = 0;
        char *save3 = NULL;
        for (char *p = strtok_r(item, "-", &save3); p;
             p = strtok_r(NULL, "-", &save3)) {
            if (k == 4 || strlen(p) >= sizeof parts[0]) {
                k = 5;
                break;
            }
            snprintf(parts[k++], sizeof parts[0], "%s", p);
        }
        uint64_t d, s = 0;
        if (k < 3 || k > 4 || sl_parse_u64(parts[0], &d) != 0 ||
            d > UINT32_MAX ||
            (strcmp(parts[1], "*") != 0 &&
             (sl_parse_u64(parts[1], &s) != 0 || s > UINT32_MAX)) ||
            sl_parse_u64(parts[2], &r.lo) != 0 ||
            (k == 4 && sl_parse_u64(parts[3], &r.hi) != 0)) {
            rc = SL_EINVAL;
            break;
        }
        if (k == 3)
            r.hi = r.lo;
        r.domain = (uint32_t)d;
        r.server = (uint32_t)s;
        r.any_server = strcmp(parts[1], "*") == 0;
        rc = r.hi >= r.lo ? push_range(list, n, &r) : SL_EINVAL;
    }
    free(copy);
    return rc;
}

static int in_ranges(const sl_replay_gtid_range_t *l, size_t n, int mysql,
                     uint32_t domain, uint32_t server, const uint8_t *uuid,
                     uint64_t seq) {
    for (size_t i = 0; i < n; i++) {
        if (l[i].mysql != mysql || seq < l[i].lo || seq > l[i].hi)
            continue;
        if (mysql ? memcmp(l[i].uuid, uuid, 16) == 0
                  : l[i].domain == domain &&
                        (l[i].any_server || l[i].server == server))
            return 1;
    }
    return 0;
}

int sl__replay_gtid_wanted(const sl_replay_t *rp, const uint8_t *ev,
                           size_t len) {
    uint8_t type = ev[4];
    int has = 0, mysql = 0;
    uint32_t domain = 0, server = 0;
    const uint8_t *uuid = NULL;
    uint64_t seq = 0;
    if (type == 42)
        return -1;
    if (type == 162 && len >= 19 + 13) {
        has = 1;
        seq = sl_get_u64le(ev + 19);
        domain = sl_get_u32le(ev + 19 + 8);
        server = sl_get_u32le(ev + 5);
    } else if (type == 33 && len >= 19 + 25) {
        has = mysql = 1;
        uuid = ev + 19 + 1;
        seq = sl_get_u64le(ev + 19 + 17);
    }
    if (!has) /* No GTID: only an include list leaves it out. */
        return rp->ninclude == 0;
    if (rp->ninclude > 0 &&
        !in_ranges(rp->include, rp->ninclude, mysql, domain, server, uuid, seq))
        return 0;
    return !in_ranges(rp->exclude, rp->nexclude, mysql, domain, server, uuid,
                      seq);
}

/* ---- the schema at the start ---- */

static int history_cb(void *ctx, const uint8_t *data, size_t len) {
    return sl_history_loader_feed(ctx, data, len);
}

int sl_replay_schema(struct sl_publish_s *pub, struct sl_schema_s **schema,
                     char *file, size_t filelen, uint64_t *pos, int *rc,
                     char *err, size_t errlen) {
    sl_replay_t *rp = active;
    if (rp == NULL || rp->schema_from)
        return 0;
    snprintf(file, filelen, "%s", rp->files[0].name);
    *pos = rp->start_pos;
    if (rp->schema_history == NULL) {
        /* The binlog's own column metadata names the columns; tables it
         * does not name are refused when their first row comes. */
        *rc = sl_schema_new(schema);
        sl_log_info("replay without table definitions: column names come "
                    "from the binlog's metadata",
                    "file=%s pos=%llu", file, (unsigned long long)*pos);
        return 1;
    }
    char part[300];
    snprintf(part, sizeof part, "%s.schema", rp->schema_history);
    sl_history_loader_t ld;
    if ((*rc = sl_history_loader_init(&ld, file, *pos)) != 0)
        return 1;
    *rc = sl_publish_read_internal(pub, part, history_cb, &ld);
    if (*rc == 0 && !ld.have_snapshot) {
        snprintf(ld.err, sizeof ld.err,
                 "it holds no snapshot at or before %.200s:%llu (the capture "
                 "started later, or the partition does not exist)",
                 file, (unsigned long long)*pos);
        *rc = SL_ENOTFOUND;
    }
    if (*rc != 0) {
        snprintf(err, errlen,
                 "--schema-history %.200s: the table definitions could not be "
                 "read from %s/%.250s: %s",
                 rp->schema_history, SL_PUBLISH_INTERNAL_TOPIC, part, ld.err);
        sl_history_loader_free(&ld);
        return 1;
    }
    sl_log_info("table definitions read from a schema history",
                "history=%s tables=%zu ddl_applied=%llu", part,
                sl_schema_count(ld.schema), (unsigned long long)ld.applied);
    *schema = ld.schema;
    ld.schema = NULL;
    sl_history_loader_free(&ld);
    return 1;
}

int sl_replay_fill_schema(struct sl_publish_s *pub,
                          const sl_source_opts_t *source,
                          struct sl_schema_s *schema, const char *file,
                          uint64_t pos, char *err, size_t errlen) {
    sl_replay_t *rp = active;
    if (rp == NULL || (!rp->schema_from && rp->schema_history == NULL))
        return 0;
    sl_schema_t *given = NULL;
    int rc;
    if (rp->schema_history != NULL) {
        char part[300];
        snprintf(part, sizeof part, "%s.schema", rp->schema_history);
        sl_history_loader_t ld;
        if ((rc = sl_history_loader_init(&ld, file, pos)) != 0)
            return rc;
        rc = sl_publish_read_internal(pub, part, history_cb, &ld);
        if (rc == 0 && !ld.have_snapshot)
            rc = SL_ENOTFOUND;
        if (rc != 0)
            snprintf(err, errlen,
                     "--schema-history %.200s: no table definitions at "
                     "%.200s:%llu in %s/%.250s: %s",
                     rp->schema_history, file, (unsigned long long)pos,
                     SL_PUBLISH_INTERNAL_TOPIC, part,
                     ld.err[0] ? ld.err : "no snapshot");
        given = ld.schema;
        ld.schema = NULL;
        sl_history_loader_free(&ld);
    } else {
        MYSQL *mysql;
        if ((rc = sl_source_connect(&mysql, source, err, errlen)) != 0)
            return rc;
        if ((rc = sl_schema_new(&given)) == 0)
            rc = sl_schema_load_live(given, mysql, NULL, NULL, err, errlen);
        mysql_close(mysql);
    }
    size_t added = 0;
    for (size_t i = 0; rc == 0 && i < sl_schema_count(given); i++) {
        const sl_schema_table_t *t = sl_schema_at(given, i);
        if (sl_schema_find(schema, t->db, strlen(t->db), t->name,
                           strlen(t->name)) != NULL)
            continue;
        rc = sl_schema_put(schema, t);
        added++;
    }
    sl_schema_free(given);
    if (rc == 0)
        sl_log_info("resumed replay: tables its history lacked were taken "
                    "from the definitions given",
                    "tables_added=%zu", added);
    return rc;
}

void sl_replay_hint(char *err, size_t errlen) {
    if (active == NULL)
        return;
    size_t len = strlen(err);
    snprintf(err + len, errlen - len,
             "; for a replay, give the table definitions: --schema-from "
             "mysql://USER@HOST:PORT (a server with these tables) or "
             "--schema-history NAME (the history of an earlier capture) and "
             "run the same replay again: it resumes here and takes the "
             "tables its history lacks from them");
}

/* ---- progress ---- */

static uint64_t started_ns, last_draw_ns;

static void human_bytes(uint64_t b, char *out, size_t outlen) {
    if (b >= (1ull << 30))
        snprintf(out, outlen, "%.2f GiB", b / 1073741824.0);
    else
        snprintf(out, outlen, "%.1f MiB", b / 1048576.0);
}

static void draw(int final) {
    sl_replay_t *rp = active;
    double secs = (sl_mono_ns() - started_ns) / 1e9;
    if (secs <= 0)
        secs = 1e-9;
    char done[32], total[32];
    human_bytes(rp->bytes_done, done, sizeof done);
    human_bytes(rp->bytes_total, total, sizeof total);
    double bps = rp->bytes_done / secs;
    double eta = bps > 0 && rp->bytes_total > rp->bytes_done
                     ? (rp->bytes_total - rp->bytes_done) / bps
                     : 0;
    fprintf(stderr,
            "\r\033[Kreplay: file %zu/%zu  %s/%s  %llu rows  %.0f rows/s  "
            "ETA %d:%02d%s",
            rp->file_index + 1, rp->nfiles, done, total,
            (unsigned long long)rp->rows, rp->rows / secs, (int)(eta / 60),
            (int)eta % 60, final ? "\n" : "");
}

void sl_replay_tick(uint64_t rows) {
    if (active == NULL)
        return;
    active->rows = rows;
    if (!active->progress)
        return;
    uint64_t now = sl_mono_ns();
    if (now - last_draw_ns >= 500000000ull) {
        last_draw_ns = now;
        draw(0);
    }
}

/* ---- main ---- */

static void replay_free(sl_replay_t *rp) {
    for (size_t i = 0; i < rp->nfiles; i++) {
        free(rp->files[i].path);
        free(rp->files[i].name);
    }
    free(rp->files);
    free(rp->include);
    free(rp->exclude);
    free(rp->schema_history);
}

/* Takes one of the replay's own options. */
static int take_option(sl_replay_t *rp, const char *name, const char *value,
                       char **schema_url, char *err, size_t errlen) {
    int rc = 0;
    if (strcmp(name, "from-file") == 0)
        return add_path(rp, value, err, errlen);
    if (strcmp(name, "start-position") == 0 ||
        strcmp(name, "stop-position") == 0) {
        uint64_t v;
        if (sl_parse_u64(value, &v) != 0 || (name[2] == 'a' && v < 4)) {
            snprintf(err, errlen, "--%s: want a position%s, not '%s'", name,
                     name[2] == 'a' ? " >= 4" : "", value);
            return SL_EUSAGE;
        }
        *(name[2] == 'a' ? &rp->start_pos : &rp->stop_pos) = v;
        return 0;
    }
    /* The filters that decide which transactions exist (not where the
     * replay ends) are part of its identity: see sl_capture_replay_main. */
    if (strcmp(name, "start-datetime") == 0 ||
        strcmp(name, "include-gtids") == 0 ||
        strcmp(name, "exclude-gtids") == 0) {
        rp->filter_hash ^= sl_hash_fnv1a(name, strlen(name)) * 31 +
                           sl_hash_fnv1a(value, strlen(value));
        if (rp->filter_hash == 0)
            rp->filter_hash = 1;
    }
    if (strcmp(name, "start-datetime") == 0 ||
        strcmp(name, "stop-datetime") == 0) {
        int64_t ms;
        if (sl_parse_time_ms(value, &ms) != 0) {
            snprintf(err, errlen,
                     "--%s: '%s' is no time (want 'YYYY-MM-DD HH:MM:SS' in "
                     "local time, with Z for UTC, or @EPOCH)",
                     name, value);
            return SL_EUSAGE;
        }
        *(name[2] == 'a' ? &rp->start_ms : &rp->stop_ms) = ms;
        return 0;
    }
    if (strcmp(name, "include-gtids") == 0 ||
        strcmp(name, "exclude-gtids") == 0) {
        int inc = name[0] == 'i';
        rc = parse_gtids(value, inc ? &rp->include : &rp->exclude,
                         inc ? &rp->ninclude : &rp->nexclude);
        if (rc == SL_EINVAL)
            snprintf(err, errlen,
                     "--%s: '%s' is no GTID set (want D-S-N, D-S-N1-N2, "
                     "D-*-N1-N2 or uuid:N[-M][:N[-M]], comma-separated)",
                     name, value);
        return rc == SL_EINVAL ? SL_EUSAGE : rc;
    }
    if (strcmp(name, "schema-from") == 0) {
        rp->schema_from = 1;
        *schema_url = (char *)value;
        return 0;
    }
    if (strcmp(name, "schema-history") == 0) {
        free(rp->schema_history);
        rp->schema_history = strdup(value);
        return rp->schema_history ? 0 : SL_ENOMEM;
    }
    /* progress */
    if (strcmp(value, "auto") == 0)
        rp->progress = isatty(STDERR_FILENO);
    else if (sl_parse_bool(value, &rp->progress) != 0) {
        snprintf(err, errlen, "--progress: want auto, yes or no");
        return SL_EUSAGE;
    }
    return 0;
}

/* Splits argv into the replay's options (taken) and the service's
 * (copied to *out). */
static int split_args(sl_replay_t *rp, int argc, char **argv, char **out,
                      int *nout, char **schema_url, const char **name,
                      const char **topic, char *err, size_t errlen) {
    int rc = 0, dashdash = 0;
    rp->progress = isatty(STDERR_FILENO);
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help_text, stdout);
            return SL_CONFIG_EXIT;
        }
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *arg = argv[i];
        if (dashdash || strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (!dashdash && strcmp(arg, "--") == 0) {
                dashdash = 1;
                continue;
            }
            rc = add_path(rp, arg, err, errlen); /* A file. */
            continue;
        }
        const char *opt = arg + 2;
        const char *eq = strchr(opt, '=');
        size_t olen = eq ? (size_t)(eq - opt) : strlen(opt);
        char oname[64];
        snprintf(oname, sizeof oname, "%.*s", (int)olen, opt);
        for (char *p = oname; *p; p++)
            if (*p == '_')
                *p = '-';
        if (strcmp(oname, "help") == 0) {
            fputs(help_text, stdout);
            return SL_CONFIG_EXIT;
        }
        if (strcmp(oname, "source") == 0 || strcmp(oname, "start") == 0) {
            snprintf(err, errlen,
                     "--%s does not apply to a replay of files (use "
                     "--start-position, --start-datetime or --schema-from)",
                     oname);
            return SL_EUSAGE;
        }
        int flag = is_in(service_flags, oname, strlen(oname));
        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL && !flag) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--%s needs a value", oname);
                return SL_EUSAGE;
            }
            value = argv[++i];
        }
        if (is_in(own_opts, oname, strlen(oname))) {
            rc = take_option(rp, oname, value, schema_url, err, errlen);
            continue;
        }
        if (strcmp(oname, "name") == 0) {
            *name = value;
            continue;
        }
        if (strcmp(oname, "topic") == 0)
            *topic = value;
        out[(*nout)++] = argv[eq || flag ? i : i - 1];
        if (!eq && !flag)
            out[(*nout)++] = argv[i];
    }
    return rc;
}

int sl_capture_replay_main(int argc, char **argv) {
    static sl_replay_t rp;
    memset(&rp, 0, sizeof rp);
    rp.start_pos = 4;
    rp.start_ms = rp.stop_ms = -1;
    char err[1024] = "";
    char **sargv = calloc((size_t)argc + 16, sizeof *sargv);
    if (sargv == NULL)
        return 1;
    int sargc = 1;
    sargv[0] = argv[0];
    char *schema_url = NULL;
    const char *name = NULL, *topic = "sluice";
    int status = 2;
    int rc = split_args(&rp, argc, argv, sargv, &sargc, &schema_url, &name,
                        &topic, err, sizeof err);
    if (rc == SL_CONFIG_EXIT) {
        status = 0;
        goto done;
    }
    if (rc == 0 && rp.nfiles == 0) {
        snprintf(err, sizeof err, "give --from-file FILE...");
        rc = SL_EUSAGE;
    }
    if (rc == 0 && rp.start_ms >= 0 && rp.stop_ms >= 0 &&
        rp.stop_ms <= rp.start_ms) {
        snprintf(err, sizeof err,
                 "--stop-datetime must be later than --start-datetime");
        rc = SL_EUSAGE;
    }
    if (rc == 0 && rp.schema_from && rp.schema_history != NULL) {
        snprintf(err, sizeof err,
                 "give --schema-from or --schema-history, not both");
        rc = SL_EUSAGE;
    }
    if (rc == 0 && rp.start_pos > rp.files[0].size) {
        snprintf(err, sizeof err, "--start-position %llu is past the end of %s",
                 (unsigned long long)rp.start_pos, rp.files[0].path);
        rc = SL_EUSAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "sluice-capture: %s\n", err);
        status = rc == SL_ENOMEM ? 1 : 2;
        goto done;
    }
    for (size_t i = 0; i < rp.nfiles; i++)
        rp.bytes_total += rp.files[i].size;
    rp.bytes_total -= rp.start_pos - 4;
    if (rp.stop_pos != 0 && rp.stop_pos < rp.files[rp.nfiles - 1].size)
        rp.bytes_total -= rp.files[rp.nfiles - 1].size - rp.stop_pos;

    char fullname[512], start[600];
    /* A replay that leaves transactions out publishes other messages at
     * the same positions than one that does not: it is a replay of its
     * own (name, checkpoint and producer), so a run resumed with other
     * filters never mixes the two. Where it stops is no part of it: a
     * later stop point continues the same replay. */
    if (rp.filter_hash != 0)
        snprintf(fullname, sizeof fullname, "%s.replay-%08x",
                 name ? name : topic, (unsigned)(rp.filter_hash & 0xffffffffu));
    else
        snprintf(fullname, sizeof fullname, "%s.replay", name ? name : topic);
    snprintf(start, sizeof start, "%s:%llu", rp.files[0].name,
             (unsigned long long)rp.start_pos);
    sargv[sargc++] = "--name";
    sargv[sargc++] = fullname;
    sargv[sargc++] = "--source";
    sargv[sargc++] =
        schema_url ? schema_url : "mysql://replay@replay.invalid:1";
    sargv[sargc++] = "--preflight";
    sargv[sargc++] = "no";
    sargv[sargc++] = "--schema-check";
    sargv[sargc++] = "no";
    /* A replay publishes what the files hold: there is no live table to
     * snapshot (docs/snapshot.md, docs/replay.md). */
    sargv[sargc++] = "--snapshot";
    sargv[sargc++] = "never";
    sargv[sargc++] = "--start";
    sargv[sargc++] = start;
    sargv[sargc] = NULL;

    active = &rp;
    started_ns = sl_mono_ns();
    if (rp.progress)
        draw(0);
    status = sl_capture_service_main(sargc, sargv);
    if (rp.progress)
        draw(1);
    double secs = (sl_mono_ns() - started_ns) / 1e9;
    char bytes[32];
    human_bytes(rp.bytes_done, bytes, sizeof bytes);
    fprintf(stderr,
            "sluice-capture: replay %s as %s: %zu file(s), %s, %llu events, "
            "%llu rows in %.1f s (%.0f rows/s); %llu transaction(s) left out "
            "by the filters%s\n",
            status == 0 && rp.finished ? "done" : "stopped", fullname,
            rp.file_index + 1, bytes, (unsigned long long)rp.events,
            (unsigned long long)rp.rows, secs, secs > 0 ? rp.rows / secs : 0.0,
            (unsigned long long)rp.trx_skipped,
            rp.stopped_at_datetime ? "; stopped at --stop-datetime" : "");
    active = NULL;
done:
    replay_free(&rp);
    free(sargv);
    return status;
}
