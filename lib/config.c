#include "config.h"

#include "error.h"
#include "log.h"
#include "parse.h"
#include "version.h"

#include <ini.h>
#include <stdlib.h>
#include <string.h>

/* Compares option names treating '-' and '_' as the same character. */
static int name_eq(const char *a, const char *b, size_t blen) {
    size_t i = 0;
    for (; i < blen && a[i]; i++) {
        char x = a[i] == '_' ? '-' : a[i];
        char y = b[i] == '_' ? '-' : b[i];
        if (x != y)
            return 0;
    }
    return i == blen && a[i] == '\0';
}

static long find_opt(const sl_config_t *cfg, const char *name, size_t len) {
    for (size_t i = 0; i < cfg->nopts; i++)
        if (name_eq(cfg->opts[i].name, name, len)) {
            const char *to = cfg->opts[i].def;
            /* An alias never names another alias (one step at most). */
            if ((cfg->opts[i].flags & SL_OPT_ALIAS) && to != NULL)
                for (size_t k = 0; k < cfg->nopts; k++)
                    if (!(cfg->opts[k].flags & SL_OPT_ALIAS) &&
                        name_eq(cfg->opts[k].name, to, strlen(to)))
                        return (long)k;
            return (long)i;
        }
    return -1;
}

static int list_push(sl_strlist_t *list, const char *value) {
    char *copy = strdup(value);
    if (copy == NULL)
        return SL_ENOMEM;
    /* One more slot: the list stays NULL-terminated (kafka-opt lists go to
     * lib/stream.h as they are). */
    char **items = realloc(list->items, (list->count + 2) * sizeof *items);
    if (items == NULL) {
        free(copy);
        return SL_ENOMEM;
    }
    items[list->count++] = copy;
    items[list->count] = NULL;
    list->items = items;
    return 0;
}

static void list_clear(sl_strlist_t *list) {
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

int sl_config_init(sl_config_t *cfg, const char *program, const char *usage,
                   const sl_opt_t *opts) {
    memset(cfg, 0, sizeof *cfg);
    cfg->program = program;
    cfg->usage = usage;
    cfg->opts = opts;
    while (opts[cfg->nopts].name != NULL)
        cfg->nopts++;
    cfg->values = calloc(cfg->nopts ? cfg->nopts : 1, sizeof *cfg->values);
    cfg->origin = calloc(cfg->nopts ? cfg->nopts : 1, sizeof *cfg->origin);
    if (cfg->values == NULL || cfg->origin == NULL) {
        free(cfg->values);
        free(cfg->origin);
        cfg->values = NULL;
        cfg->origin = NULL;
        return SL_ENOMEM;
    }
    return 0;
}

void sl_config_free(sl_config_t *cfg) {
    if (cfg->values != NULL)
        for (size_t i = 0; i < cfg->nopts; i++)
            list_clear(&cfg->values[i]);
    free(cfg->values);
    free(cfg->origin);
    list_clear(&cfg->args);
    cfg->values = NULL;
    cfg->origin = NULL;
}

/* Where an option's current value came from. */
enum { ORIGIN_NONE = 0, ORIGIN_API, ORIGIN_FILE, ORIGIN_ARGS };

/* Sets option i from origin. A key that is not SL_OPT_MULTI may be set
 * once per origin: a second value in the config files, or a second flag,
 * is SL_EEXIST (the caller words the error); a flag replaces the file's
 * value, and the API replaces anything. */
static int set_index(sl_config_t *cfg, long i, const char *value,
                     unsigned char origin) {
    sl_strlist_t *list = &cfg->values[i];
    if (!(cfg->opts[i].flags & SL_OPT_MULTI)) {
        if (origin != ORIGIN_API && cfg->origin[i] == origin)
            return SL_EEXIST;
        list_clear(list);
    }
    int rc = list_push(list, value);
    if (rc == 0)
        cfg->origin[i] = origin;
    return rc;
}

int sl_config_set(sl_config_t *cfg, const char *key, const char *value) {
    long i = find_opt(cfg, key, strlen(key));
    if (i < 0) {
        snprintf(cfg->err, sizeof cfg->err, "unknown option '%s'", key);
        return SL_EUSAGE;
    }
    return set_index(cfg, i, value, ORIGIN_API);
}

typedef struct {
    sl_config_t *cfg;
    int err;
} ini_ctx_t;

/* `kafka.KEY = VALUE` in a file is `--kafka-opt KEY=VALUE`. */
static int kafka_line(ini_ctx_t *ctx, long i, const char *key,
                      const char *value) {
    char *kv = NULL;
    if (asprintf(&kv, "%s=%s", key, value) < 0 ||
        set_index(ctx->cfg, i, kv, ORIGIN_FILE) != 0)
        ctx->err = SL_ENOMEM;
    free(kv);
    return ctx->err == 0;
}

static int ini_cb(void *user, const char *section, const char *name,
                  const char *value) {
    ini_ctx_t *ctx = user;
    if (section != NULL && *section != '\0') {
        snprintf(ctx->cfg->err, sizeof ctx->cfg->err,
                 "sections are not used ([%s])", section);
        ctx->err = SL_ECONFIG;
        return 0;
    }
    long i = find_opt(ctx->cfg, name, strlen(name));
    if (i < 0 && strncmp(name, "kafka.", 6) == 0 &&
        (i = find_opt(ctx->cfg, "kafka-opt", 9)) >= 0)
        return kafka_line(ctx, i, name + 6, value); /* docs/kafka.md */
    if (i < 0) {
        snprintf(ctx->cfg->err, sizeof ctx->cfg->err, "unknown key '%s'", name);
        ctx->err = SL_ECONFIG;
        return 0;
    }
    int rc = set_index(ctx->cfg, i, value, ORIGIN_FILE);
    if (rc == SL_EEXIST) {
        snprintf(ctx->cfg->err, sizeof ctx->cfg->err,
                 "key '%s' is given twice (it is not repeatable; keep one)",
                 ctx->cfg->opts[i].name);
        ctx->err = SL_ECONFIG;
        return 0;
    }
    if (rc != 0) {
        ctx->err = SL_ENOMEM;
        return 0;
    }
    return 1;
}

int sl_config_load_file(sl_config_t *cfg, const char *path) {
    ini_ctx_t ctx = {cfg, 0};
    int line = ini_parse(path, ini_cb, &ctx);
    if (line == -1) {
        snprintf(cfg->err, sizeof cfg->err, "cannot open config file %s", path);
        return SL_ECONFIG;
    }
    if (line != 0) {
        /* Bounded precisions keep the message within cfg->err. */
        char detail[200];
        snprintf(detail, sizeof detail, "%.199s",
                 ctx.err != 0 ? cfg->err : "expected 'key = value'");
        snprintf(cfg->err, sizeof cfg->err, "%.280s:%d: %s", path, line,
                 detail);
        return ctx.err == SL_ENOMEM ? SL_ENOMEM : SL_ECONFIG;
    }
    return 0;
}

/* One option of --help: the name in a 26-column field (a longer one on a
 * line of its own), the text wrapped at 79 columns under itself. */
#define HELP_COL 28
#define HELP_WIDTH 79
static void help_line(FILE *out, const char *name, const char *text) {
    int col = fprintf(out, "  %s", name);
    if (col + 1 >= HELP_COL) {
        fputc('\n', out);
        col = 0;
    }
    fprintf(out, "%*s", HELP_COL - col, "");
    col = HELP_COL;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w == 0)
            break;
        if (col > HELP_COL && col + 1 + (int)w > HELP_WIDTH) {
            fprintf(out, "\n%*s", HELP_COL, "");
            col = HELP_COL;
        } else if (col > HELP_COL) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += (int)w;
        p += w;
    }
    fputc('\n', out);
}

void sl_config_print_help(const sl_config_t *cfg, FILE *out) {
    fprintf(out, "Usage: %s\n\nOptions (each is also a config-file key):\n",
            cfg->usage);
    help_line(out, "--config FILE", "read key = value lines from FILE");
    for (size_t i = 0; i < cfg->nopts; i++) {
        const sl_opt_t *opt = &cfg->opts[i];
        if (opt->flags & SL_OPT_ALIAS)
            continue;
        char name[96], text[1024];
        snprintf(name, sizeof name, "--%s", opt->name);
        const char *help = opt->help ? opt->help : "";
        int n = snprintf(text, sizeof text, "%s", help);
        /* The annotations, unless the text already says so (no
         * "(default: X) (default: X)"); a flag's "no" is no default. */
        if (opt->def != NULL && opt->def[0] != '\0' &&
            strstr(help, "default") == NULL &&
            !((opt->flags & SL_OPT_FLAG) && strcmp(opt->def, "no") == 0) &&
            n >= 0 && (size_t)n < sizeof text)
            n += snprintf(text + n, sizeof text - (size_t)n, " (default: %s)",
                          opt->def);
        if ((opt->flags & SL_OPT_MULTI) && strstr(help, "repeatable") == NULL &&
            n >= 0 && (size_t)n < sizeof text)
            snprintf(text + n, sizeof text - (size_t)n, " (repeatable)");
        help_line(out, name, text);
    }
    help_line(out, "--help", "print this help");
    help_line(out, "--version", "print the version");
}

int sl_config_parse_args(sl_config_t *cfg, int argc, char **argv) {
    /* Pass 1: --help, --version and --config, so that the file is loaded
     * before the flags that override it. */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0)
            break;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            sl_config_print_help(cfg, stdout);
            return SL_CONFIG_EXIT;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("%s %s\n", cfg->program, SL_VERSION);
            return SL_CONFIG_EXIT;
        }
    }
    int configs = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0)
            break;
        const char *path = NULL;
        if ((strcmp(arg, "--config") == 0 ||
             strncmp(arg, "--config=", 9) == 0) &&
            configs++ > 0) {
            snprintf(cfg->err, sizeof cfg->err,
                     "option '--config' is given twice (it is not "
                     "repeatable; keep one)");
            return SL_EUSAGE;
        }
        if (strcmp(arg, "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(cfg->err, sizeof cfg->err, "--config needs a file");
                return SL_EUSAGE;
            }
            path = argv[++i];
        } else if (strncmp(arg, "--config=", 9) == 0) {
            path = arg + 9;
        } else if (strncmp(arg, "--", 2) == 0) {
            /* Skip the value of a flag that takes one. */
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            long o =
                find_opt(cfg, name, eq ? (size_t)(eq - name) : strlen(name));
            if (!eq && o >= 0 && !(cfg->opts[o].flags & SL_OPT_FLAG))
                i++;
        }
        if (path != NULL) {
            int err = sl_config_load_file(cfg, path);
            if (err != 0)
                return err == SL_ENOMEM ? err : SL_EUSAGE;
        }
    }
    /* Pass 2: the flags themselves. */
    int flags_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (flags_done || strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (!flags_done && strcmp(arg, "--") == 0) {
                flags_done = 1;
                continue;
            }
            if (!flags_done && arg[0] == '-' && arg[1] != '\0') {
                snprintf(cfg->err, sizeof cfg->err, "unknown option '%s'", arg);
                return SL_EUSAGE;
            }
            if (list_push(&cfg->args, arg) != 0)
                return SL_ENOMEM;
            continue;
        }
        if (strcmp(arg, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(arg, "--config=", 9) == 0)
            continue;
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        long o = find_opt(cfg, name, len);
        if (o < 0) {
            snprintf(cfg->err, sizeof cfg->err, "unknown option '--%.*s'",
                     (int)len, name);
            return SL_EUSAGE;
        }
        const char *value;
        if (eq != NULL) {
            value = eq + 1;
        } else if (cfg->opts[o].flags & SL_OPT_FLAG) {
            value = "yes";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(cfg->err, sizeof cfg->err, "option '--%s' needs a value",
                     cfg->opts[o].name);
            return SL_EUSAGE;
        }
        int rc = set_index(cfg, o, value, ORIGIN_ARGS);
        if (rc == SL_EEXIST) {
            snprintf(cfg->err, sizeof cfg->err,
                     "option '--%s' is given twice (it is not repeatable; "
                     "keep one)",
                     cfg->opts[o].name);
            return SL_EUSAGE;
        }
        if (rc != 0)
            return SL_ENOMEM;
    }
    return 0;
}

static long must_find(const sl_config_t *cfg, const char *key) {
    long i = find_opt(cfg, key, strlen(key));
    if (i < 0) {
        sl_log_error("config key not in table", "key=%s", key);
        SL_ASSERT(i >= 0);
    }
    return i;
}

const char *sl_config_get(const sl_config_t *cfg, const char *key) {
    long i = must_find(cfg, key);
    const sl_strlist_t *list = &cfg->values[i];
    if (list->count > 0)
        return list->items[list->count - 1];
    return cfg->opts[i].def;
}

const sl_strlist_t *sl_config_get_list(const sl_config_t *cfg,
                                       const char *key) {
    long i = must_find(cfg, key);
    const sl_strlist_t *list = &cfg->values[i];
    if (list->count == 0 && cfg->opts[i].def != NULL) {
        /* Materialise the default once so callers see a uniform list. */
        sl_strlist_t *mut = (sl_strlist_t *)list;
        if (list_push(mut, cfg->opts[i].def) != 0)
            return list;
    }
    return list;
}

int sl_config_is_set(const sl_config_t *cfg, const char *key) {
    return cfg->values[must_find(cfg, key)].count > 0;
}

typedef int (*parse_fn)(const char *, uint64_t *);

static int get_typed(sl_config_t *cfg, const char *key, uint64_t *v,
                     parse_fn fn, const char *what) {
    const char *text = sl_config_get(cfg, key);
    if (text == NULL) {
        snprintf(cfg->err, sizeof cfg->err, "option '%s' is required", key);
        return SL_ENOTFOUND;
    }
    if (fn(text, v) != 0) {
        snprintf(cfg->err, sizeof cfg->err, "option '%s': '%s' is not %s", key,
                 text, what);
        return SL_ECONFIG;
    }
    return 0;
}

int sl_config_get_u64(sl_config_t *cfg, const char *key, uint64_t *v) {
    return get_typed(cfg, key, v, sl_parse_u64, "a whole number");
}

int sl_config_get_size(sl_config_t *cfg, const char *key, uint64_t *v) {
    return get_typed(cfg, key, v, sl_parse_size,
                     "a size (e.g. 512, 64k, 16MiB, 1g)");
}

int sl_config_get_ms(sl_config_t *cfg, const char *key, uint64_t *v) {
    return get_typed(cfg, key, v, sl_parse_duration_ms,
                     "a duration (e.g. 500ms, 5s, 2m, 7d)");
}

int sl_config_get_bool(sl_config_t *cfg, const char *key, int *v) {
    const char *text = sl_config_get(cfg, key);
    if (text == NULL) {
        *v = 0;
        return 0;
    }
    if (sl_parse_bool(text, v) != 0) {
        snprintf(cfg->err, sizeof cfg->err,
                 "option '%s': '%s' is not yes or no", key, text);
        return SL_ECONFIG;
    }
    return 0;
}
