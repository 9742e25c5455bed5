/*
 * Configuration: a `key = value` file (read with Debian's libinih) plus
 * command-line flags, with one table of known keys per program.
 *
 * Every key is also a flag: `--fsync always` or `--fsync=always`; a dash
 * and an underscore are the same character in names. Flags override the
 * file whatever their order on the command line. Unknown keys, in the file
 * or as flags, are usage errors: a typo never silently falls back to a
 * default. Keys marked SL_OPT_MULTI may repeat; their values accumulate in
 * order (file values first, then flags). Any other key given twice in the
 * config file, or twice on the command line (in any spelling: --x v,
 * --x=v, --x_y), is a usage error naming it, so a second value never
 * silently replaces the first; a flag overriding the file's value is the
 * one intended override. --config itself may be given once.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    SL_OPT_MULTI = 1 << 0,  /* May repeat; keeps every value. */
    SL_OPT_FLAG = 1 << 1,   /* Boolean that may be given as a bare --name. */
    SL_OPT_SECRET = 1 << 2, /* Never printed. Only file paths should be keys. */
    /* An old name kept: def holds the name of the option it stands for
     * (given as either, it is the same option); --help does not list it. */
    SL_OPT_ALIAS = 1 << 3
};

typedef struct {
    const char *name; /* "fsync"; NULL ends the table. */
    const char *def;  /* Default value, or NULL for none. */
    unsigned flags;   /* SL_OPT_*. */
    const char *help; /* One line for --help (wrapped there). */
} sl_opt_t;

typedef struct {
    char **items;
    size_t count;
} sl_strlist_t;

typedef struct {
    const char *program;  /* "sluice-broker", for messages. Not owned. */
    const char *usage;    /* Synopsis printed by --help. Not owned. */
    const sl_opt_t *opts; /* The table. Not owned. */
    size_t nopts;
    sl_strlist_t *values;  /* One list per option; owned. */
    unsigned char *origin; /* Per option: where its value came from
                            * (internal); owned. */
    sl_strlist_t args;     /* Positional arguments; owned. */
    char err[512];         /* The last error message. */
} sl_config_t;

/* Prepares cfg for the table opts (which must outlive cfg). */
int sl_config_init(sl_config_t *cfg, const char *program, const char *usage,
                   const sl_opt_t *opts);
void sl_config_free(sl_config_t *cfg);

/* Loads a key = value file. Lines starting with # or ; are comments;
 * [sections] are not used and are errors. Returns SL_ECONFIG with cfg->err
 * naming the file and line on any bad line, unknown key, or key that is
 * not SL_OPT_MULTI given a second time (in this file or an earlier one). */
int sl_config_load_file(sl_config_t *cfg, const char *path);

/* Sets key to value (appending for SL_OPT_MULTI keys, replacing any
 * earlier value otherwise: this is the program's own override, not a
 * user's repetition). */
int sl_config_set(sl_config_t *cfg, const char *key, const char *value);

/* Parses argv: --help and --version print and return SL_CONFIG_EXIT (the
 * caller exits 0); --config FILE is loaded before every other flag is
 * applied; anything not starting with "--" is positional ("--" ends flags).
 * On a bad flag, or a flag that is not SL_OPT_MULTI given twice, returns
 * SL_EUSAGE with cfg->err set (the caller exits 2). */
#define SL_CONFIG_EXIT 1
int sl_config_parse_args(sl_config_t *cfg, int argc, char **argv);

/* Prints the --help text (usage and the table with defaults) to out. */
void sl_config_print_help(const sl_config_t *cfg, FILE *out);

/* The last value set for key, else its default, else NULL. key must be in
 * the table (asking for an unknown key is a programming error and aborts). */
const char *sl_config_get(const sl_config_t *cfg, const char *key);
/* Every value of an SL_OPT_MULTI key (the default alone when none set). */
const sl_strlist_t *sl_config_get_list(const sl_config_t *cfg, const char *key);
/* 1 when the key was set in the file or on the command line. */
int sl_config_is_set(const sl_config_t *cfg, const char *key);

/* Typed getters: SL_ECONFIG with cfg->err naming the key and value when
 * the value does not parse. A key with no value and no default is
 * SL_ENOTFOUND. */
int sl_config_get_u64(sl_config_t *cfg, const char *key, uint64_t *v);
int sl_config_get_size(sl_config_t *cfg, const char *key, uint64_t *v);
int sl_config_get_ms(sl_config_t *cfg, const char *key, uint64_t *v);
int sl_config_get_bool(sl_config_t *cfg, const char *key, int *v);

#endif
