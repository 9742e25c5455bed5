/* Table and column filters; see filter.h. */
#include "filter.h"

#include "error.h"
#include "strmap.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pcre2_code **codes;
    size_t count;
} rules_t;

struct sl_filter_s {
    rules_t include, exclude, columns;
    pcre2_match_data *match;
    sl_strmap_t decisions; /* "db.table" -> KEEP or DROP. */
    char *name;            /* Scratch for "db.table[.column]". */
    size_t name_cap;
};

static void rules_free(rules_t *rules) {
    for (size_t i = 0; i < rules->count; i++)
        pcre2_code_free(rules->codes[i]);
    free(rules->codes);
}

static int rules_compile(rules_t *rules, const char *const *patterns,
                         size_t count, const char *what, char *err,
                         size_t errlen) {
    rules->codes = calloc(count ? count : 1, sizeof *rules->codes);
    if (rules->codes == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        int code;
        PCRE2_SIZE offset;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
                          PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF, &code,
                          &offset, NULL);
        if (re == NULL) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof msg);
            snprintf(err, errlen,
                     "%s pattern '%s' is not a valid regular "
                     "expression at offset %zu: %s",
                     what, patterns[i], (size_t)offset, (char *)msg);
            return SL_ECONFIG;
        }
        /* JIT is an optimisation: where it is unavailable the interpreter
         * gives the same answers. */
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        rules->codes[rules->count++] = re;
    }
    return 0;
}

void sl_filter_free(sl_filter_t *filter) {
    if (filter == NULL)
        return;
    rules_free(&filter->include);
    rules_free(&filter->exclude);
    rules_free(&filter->columns);
    if (filter->match != NULL)
        pcre2_match_data_free(filter->match);
    sl_strmap_free(&filter->decisions);
    free(filter->name);
    free(filter);
}

int sl_filter_new(sl_filter_t **out, const char *const *include,
                  size_t ninclude, const char *const *exclude, size_t nexclude,
                  const char *const *exclude_columns, size_t nexclude_columns,
                  char *err, size_t errlen) {
    *out = NULL;
    sl_filter_t *filter = calloc(1, sizeof *filter);
    if (filter == NULL)
        return SL_ENOMEM;
    int rc;
    if ((rc = rules_compile(&filter->include, include, ninclude, "include", err,
                            errlen)) != 0 ||
        (rc = rules_compile(&filter->exclude, exclude, nexclude, "exclude", err,
                            errlen)) != 0 ||
        (rc = rules_compile(&filter->columns, exclude_columns, nexclude_columns,
                            "exclude-column", err, errlen)) != 0) {
        sl_filter_free(filter);
        return rc;
    }
    filter->match = pcre2_match_data_create(1, NULL);
    if (filter->match == NULL || sl_strmap_init(&filter->decisions) != 0) {
        sl_filter_free(filter);
        return SL_ENOMEM;
    }
    *out = filter;
    return 0;
}

static int any_match(sl_filter_t *filter, const rules_t *rules,
                     const char *name, size_t len) {
    for (size_t i = 0; i < rules->count; i++) {
        int rc = pcre2_match(rules->codes[i], (PCRE2_SPTR)name, len, 0, 0,
                             filter->match, NULL);
        if (rc >= 0)
            return 1;
    }
    return 0;
}

/* Builds "a.b[.c]" into filter->name; returns its length or 0 on ENOMEM. */
static size_t join(sl_filter_t *filter, const char *a, size_t alen,
                   const char *b, size_t blen, const char *c, size_t clen) {
    size_t len = alen + 1 + blen + (c ? 1 + clen : 0);
    if (len + 1 > filter->name_cap) {
        char *name = realloc(filter->name, len + 1);
        if (name == NULL)
            return 0;
        filter->name = name;
        filter->name_cap = len + 1;
    }
    char *p = filter->name;
    memcpy(p, a, alen);
    p[alen] = '.';
    memcpy(p + alen + 1, b, blen);
    if (c != NULL) {
        p[alen + 1 + blen] = '.';
        memcpy(p + alen + 2 + blen, c, clen);
    }
    p[len] = '\0';
    return len;
}

/* Cached decisions are stored as these two addresses. */
static char keep_mark, drop_mark;

int sl_filter_table(sl_filter_t *filter, const char *db, size_t db_len,
                    const char *table, size_t table_len) {
    size_t len = join(filter, db, db_len, table, table_len, NULL, 0);
    if (len == 0)
        return 1; /* Out of memory: keeping a row is the safe side. */
    void *cached = sl_strmap_get(&filter->decisions, filter->name, len);
    if (cached != NULL)
        return cached == &keep_mark;
    int keep = (filter->include.count == 0 ||
                any_match(filter, &filter->include, filter->name, len)) &&
               !any_match(filter, &filter->exclude, filter->name, len);
    /* A failed insert only costs a regex match next time. */
    sl_strmap_put(&filter->decisions, filter->name, len,
                  keep ? &keep_mark : &drop_mark);
    return keep;
}

int sl_filter_column(sl_filter_t *filter, const char *db, size_t db_len,
                     const char *table, size_t table_len, const char *column,
                     size_t column_len) {
    if (filter->columns.count == 0)
        return 1;
    size_t len = join(filter, db, db_len, table, table_len, column, column_len);
    if (len == 0)
        return 0; /* Out of memory: dropping an excluded column is safer. */
    return !any_match(filter, &filter->columns, filter->name, len);
}

int sl_filter_has_column_rules(const sl_filter_t *filter) {
    return filter->columns.count > 0;
}
