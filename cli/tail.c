/*
 * sluice tail / consume: kcat's everyday reading options over the text
 * protocol (tail.h). Several partitions are read in turns: a get without
 * waiting on each; when a whole turn found nothing and --follow is on,
 * each partition is long-polled briefly in turn, so none waits behind
 * another for long.
 *
 * --from (kcat -o): earliest (or beginning), latest (or end), an offset
 * N, -N (N messages before the end, as kcat's -o -N), or s@MS (the first
 * message appended at or after MS milliseconds since the epoch, kcat's
 * s@). With --group G, a partition starts at the group's committed offset
 * when it has one (else at --from), and the offset after the last message
 * written is committed after every batch, so the next run goes on there.
 */
#include "cli/tail.h"

#include "error.h"
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The short options and the long ones they stand for; a value follows
 * those that take one. */
static const struct {
    const char *s, *l;
    int value;
} shorts[] = {
    {"-c", "--count", 1},     {"-e", "--exit", 0},   {"-o", "--from", 1},
    {"-p", "--partition", 1}, {"-G", "--group", 1},  {"-f", "--format", 1},
    {"-k", "--key", 1},       {"-H", "--header", 1},
};

char **sl_cli_short_flags(int argc, char **argv) {
    char **out = calloc((size_t)argc + 1, sizeof *out);
    if (out == NULL)
        return NULL;
    for (int i = 0; i < argc; i++) {
        out[i] = argv[i];
        if (i == 0 || strcmp(argv[i], "--") == 0) {
            if (i > 0) /* The rest are arguments. */
                for (i++; i < argc; i++)
                    out[i] = argv[i];
            continue;
        }
        for (size_t k = 0; k < sizeof shorts / sizeof shorts[0]; k++)
            if (strcmp(argv[i], shorts[k].s) == 0) {
                out[i] = (char *)shorts[k].l;
                if (shorts[k].value && i + 1 < argc) {
                    i++; /* Its value, as given (-o -10 stays -10). */
                    out[i] = argv[i];
                }
                break;
            }
    }
    return out;
}

typedef struct {
    char *name;
    uint64_t offset;
    int at_end; /* The last get found nothing (the end for now). */
} part_t;

typedef struct {
    const char *topic;
    const char *format;
    const char *group;
    part_t *parts;
    size_t nparts;
    uint64_t count, written;
    int follow, exit_at_end;
    int meta; /* The format writes keys or headers: get with meta=1. */
} tail_t;

static int fail(sl_client_t *cl, const char *what, int err) {
    fprintf(stderr, "sluice: %s: %s\n", what,
            cl && sl_client_error(cl)[0] ? sl_client_error(cl)
                                         : sl_strerror(err));
    return 1;
}

/* Writes a record's headers as kcat's %h does: "name=value" joined by
 * ",", a null value written as "NULL" (kcat's choice, kept so that the
 * two tools print the same). */
static void write_headers(const sl_client_meta_t *m) {
    size_t pos = 0;
    sl_client_header_t h;
    for (int n = 0; m != NULL && sl_client_header_next(m, &pos, &h); n++) {
        if (n > 0)
            fputc(',', stdout);
        fwrite(h.name, 1, h.name_len, stdout);
        fputc('=', stdout);
        if (h.value != NULL)
            fwrite(h.value, 1, h.value_len, stdout);
        else
            fputs("NULL", stdout);
    }
}

/* Writes one message as the format says. %k and %h come from the get's
 * meta=1 reply (read_part asks for it only when the format has them); a
 * null key writes nothing, as in kcat. */
static void write_msg(const tail_t *t, const part_t *p,
                      const sl_client_rec_t *rec, const sl_client_meta_t *m) {
    for (const char *f = t->format; *f; f++) {
        if (*f == '\\' && f[1]) {
            f++;
            fputc(*f == 'n'   ? '\n'
                  : *f == 't' ? '\t'
                  : *f == '0' ? '\0'
                              : *f,
                  stdout);
            continue;
        }
        if (*f != '%' || !f[1]) {
            fputc(*f, stdout);
            continue;
        }
        switch (*++f) {
        case 't': fputs(t->topic, stdout); break;
        case 'p': fputs(p->name, stdout); break;
        case 'o': printf("%llu", (unsigned long long)rec->offset); break;
        case 'T': printf("%lld", (long long)rec->ts); break;
        case 's': fwrite(rec->data, 1, rec->len, stdout); break;
        case 'S': printf("%zu", rec->len); break;
        case 'k':
            if (m != NULL && m->has_key)
                fwrite(m->key, 1, m->key_len, stdout);
            break;
        case 'h': write_headers(m); break;
        case '%': fputc('%', stdout); break;
        default: fputc('%', stdout); fputc(*f, stdout);
        }
    }
}

/* Where partition p starts: the group's committed offset, else --from. */
static int start_offset(tail_t *t, sl_client_t *cl, part_t *p,
                        const char *from) {
    uint64_t earliest, latest, v;
    int err;
    if (t->group != NULL) {
        err = sl_client_committed(cl, t->group, t->topic, p->name, &v);
        if (err == 0) {
            p->offset = v;
            return 0;
        }
        if (err != SL_ENOTFOUND)
            return fail(cl, "committed", err);
    }
    if ((err = sl_client_offsets(cl, t->topic, p->name, &earliest, &latest)) !=
        0)
        return fail(cl, p->name, err);
    if (strcmp(from, "earliest") == 0 || strcmp(from, "beginning") == 0) {
        p->offset = earliest;
    } else if (strcmp(from, "latest") == 0 || strcmp(from, "end") == 0) {
        p->offset = latest;
    } else if (from[0] == '-' && sl_parse_u64(from + 1, &v) == 0) {
        p->offset = latest - earliest > v ? latest - v : earliest;
    } else if (strncmp(from, "s@", 2) == 0) {
        int64_t ts;
        if (sl_parse_i64(from + 2, &ts) != 0)
            goto bad;
        if ((err = sl_client_offset_for_time(cl, t->topic, p->name, ts,
                                             &p->offset)) != 0)
            return fail(cl, "offsets ts", err);
    } else if (sl_parse_u64(from, &v) == 0) {
        p->offset = v;
    } else {
        goto bad;
    }
    return 0;
bad:
    fprintf(stderr,
            "sluice: bad --from '%s' (earliest, latest, N, -N or s@MS)\n",
            from);
    return 2;
}

/* Reads one batch of p (waiting up to wait_ms for one) and writes it.
 * Returns 0, or the exit status. */
static int read_part(tail_t *t, sl_client_t *cl, part_t *p, uint64_t wait_ms) {
    sl_client_fetch_t f;
    int err = t->meta ? sl_client_get_meta(cl, t->topic, p->name, p->offset,
                                           1u << 20, wait_ms, &f)
                      : sl_client_get(cl, t->topic, p->name, p->offset,
                                      1u << 20, wait_ms, &f);
    if (err == SL_EGONE) {
        fprintf(stderr,
                "sluice: %s/%s offset %llu was deleted by retention; "
                "continuing at %llu\n",
                t->topic, p->name, (unsigned long long)p->offset,
                (unsigned long long)f.earliest);
        p->offset = f.earliest;
        return 0;
    }
    if (err == SL_EDAMAGED) {
        fflush(stdout);
        fprintf(stderr,
                "sluice: %s/%s offsets %llu-%llu are damaged on the broker "
                "(quarantined) and cannot be read; the next readable offset "
                "is %llu (--from %llu skips them)\n",
                t->topic, p->name, (unsigned long long)p->offset,
                (unsigned long long)(f.next - 1), (unsigned long long)f.next,
                (unsigned long long)f.next);
        return 1;
    }
    if (err != 0)
        return fail(cl, "get", err);
    size_t i = 0;
    for (; i < f.count && (t->count == 0 || t->written < t->count); i++) {
        write_msg(t, p, &f.recs[i], f.meta ? &f.meta[i] : NULL);
        t->written++;
        p->offset = f.recs[i].offset + 1;
    }
    if (i == f.count)
        p->offset = f.next;
    p->at_end = f.count == 0;
    fflush(stdout);
    if (ferror(stdout)) {
        fprintf(stderr, "sluice: writing the messages failed\n");
        return 1;
    }
    if (t->group != NULL && i > 0 &&
        (err = sl_client_commit(cl, t->group, t->topic, p->name, p->offset)) !=
            0)
        return fail(cl, "commit", err);
    return 0;
}

/* The partitions of the whole topic, from the broker's listing
 * ("TOPIC PARTITION EARLIEST LATEST" lines). */
static int list_parts(tail_t *t, sl_client_t *cl) {
    sl_buf_t text = SL_BUF_INIT;
    int err = sl_client_partitions(cl, t->topic, &text);
    if (err != 0) {
        sl_buf_free(&text);
        return fail(cl, "partitions", err);
    }
    const char *cstr;
    if (sl_buf_cstr(&text, &cstr) != 0) {
        sl_buf_free(&text);
        return 1;
    }
    char *copy = strdup(cstr), *save = NULL;
    sl_buf_free(&text);
    if (copy == NULL)
        return 1;
    for (char *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char topic[1024], name[1024];
        if (sscanf(line, "%1023s %1023s", topic, name) != 2 ||
            strcmp(topic, t->topic) != 0)
            continue;
        part_t *np = realloc(t->parts, (t->nparts + 1) * sizeof *np);
        if (np == NULL || (np[t->nparts].name = strdup(name)) == NULL) {
            if (np != NULL)
                t->parts = np;
            free(copy);
            return 1;
        }
        t->parts = np;
        t->parts[t->nparts].offset = 0;
        t->parts[t->nparts].at_end = 0;
        t->nparts++;
    }
    free(copy);
    if (t->nparts == 0) {
        fprintf(stderr, "sluice: topic '%s' has no partitions\n", t->topic);
        return 1;
    }
    return 0;
}

static int add_part(tail_t *t, const char *name) {
    part_t *np = realloc(t->parts, (t->nparts + 1) * sizeof *np);
    if (np == NULL)
        return 1;
    t->parts = np;
    memset(&t->parts[t->nparts], 0, sizeof *np);
    if ((t->parts[t->nparts].name = strdup(name)) == NULL)
        return 1;
    t->nparts++;
    return 0;
}

static int run(tail_t *t, sl_client_t *cl) {
    for (;;) {
        int any = 0, rc;
        for (size_t i = 0; i < t->nparts; i++) {
            if (t->count != 0 && t->written >= t->count)
                return 0;
            if ((rc = read_part(t, cl, &t->parts[i], 0)) != 0)
                return rc;
            any |= !t->parts[i].at_end;
        }
        if (t->count != 0 && t->written >= t->count)
            return 0;
        if (any)
            continue;
        /* Every partition is at its end. */
        if (!t->follow || t->exit_at_end)
            return 0;
        /* Following: wait briefly on each in turn (a long poll on one
         * alone would keep the others waiting). */
        uint64_t wait = t->nparts == 1 ? 10000 : 200;
        for (size_t i = 0; i < t->nparts; i++)
            if ((rc = read_part(t, cl, &t->parts[i], wait)) != 0)
                return rc;
    }
}

int sl_cli_tail(sl_config_t *cfg, sl_client_t *cl, size_t nargs, char **args) {
    tail_t t;
    memset(&t, 0, sizeof t);
    t.topic = args[1];
    t.format = sl_config_get(cfg, "format");
    t.group = sl_config_get(cfg, "group");
    /* Keys and headers cost bytes on the wire: asked for only when the
     * format may write them (a literal "%%k" also matches; harmless). */
    t.meta = strstr(t.format, "%k") != NULL || strstr(t.format, "%h") != NULL;
    int rc = 2;
    if (sl_config_get_u64(cfg, "count", &t.count) != 0 ||
        sl_config_get_bool(cfg, "follow", &t.follow) != 0 ||
        sl_config_get_bool(cfg, "exit", &t.exit_at_end) != 0) {
        fprintf(stderr, "sluice: %s\n", cfg->err);
        return 2;
    }
    rc = 1;
    for (size_t i = 2; i < nargs; i++)
        if (add_part(&t, args[i]) != 0)
            goto out;
    const sl_strlist_t *pl = sl_config_is_set(cfg, "partition")
                                 ? sl_config_get_list(cfg, "partition")
                                 : NULL;
    for (size_t i = 0; pl != NULL && i < pl->count; i++)
        if (add_part(&t, pl->items[i]) != 0)
            goto out;
    if (t.nparts == 0 && (rc = list_parts(&t, cl)) != 0)
        goto out;
    for (size_t i = 0; i < t.nparts; i++)
        if ((rc = start_offset(&t, cl, &t.parts[i],
                               sl_config_get(cfg, "from"))) != 0)
            goto out;
    rc = run(&t, cl);
out:
    for (size_t i = 0; i < t.nparts; i++)
        free(t.parts[i].name);
    free(t.parts);
    return rc;
}
