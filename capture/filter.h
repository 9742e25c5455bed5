/*
 * Which tables and columns capture publishes.
 *
 * Rules are PCRE2 regular expressions matched against the whole name
 * (anchored at both ends, as Debezium's include lists are): tables as
 * "database.table", columns as "database.table.column". A table is
 * captured when it matches an include rule (or there are none) and no
 * exclude rule. Column exclusions drop a column from every image (for
 * example PII). Patterns are compiled once, with PCRE2's JIT where the
 * platform has it, and each table's decision is cached, so a row costs a
 * hash lookup, not a regex match.
 */
#ifndef SL_CAPTURE_FILTER_H
#define SL_CAPTURE_FILTER_H

#include <stddef.h>

typedef struct sl_filter_s sl_filter_t;

/* Compiles the rules (each array may be NULL when its count is 0). On a
 * bad pattern returns SL_ECONFIG with err naming it and the offset of the
 * problem. *out is owned by the caller (sl_filter_free()). */
int sl_filter_new(sl_filter_t **out, const char *const *include,
                  size_t ninclude, const char *const *exclude, size_t nexclude,
                  const char *const *exclude_columns, size_t nexclude_columns,
                  char *err, size_t errlen);
void sl_filter_free(sl_filter_t *filter);

/* 1 when db.table is captured, else 0. */
int sl_filter_table(sl_filter_t *filter, const char *db, size_t db_len,
                    const char *table, size_t table_len);

/* 1 when db.table.column is kept, else 0 (always 1 with no column rules). */
int sl_filter_column(sl_filter_t *filter, const char *db, size_t db_len,
                     const char *table, size_t table_len, const char *column,
                     size_t column_len);

/* 1 when some column rules exist (so images must be filtered). */
int sl_filter_has_column_rules(const sl_filter_t *filter);

#endif
