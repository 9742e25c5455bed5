/*
 * Cache-key templates: which Redis/memcached keys a row change invalidates.
 *
 * The --keys file has one table per line, then its templates, separated by
 * spaces or tabs; '#' starts a comment line:
 *
 *   shop.users     user:{id}  user:email:{email}
 *   shop.orders    order:{id} user:{user_id}:orders
 *   shop.*         table:{_table}
 *
 * The table is `db.table`; `db.*` matches every table of db that has no
 * line of its own. A plain database name ends at the first '.', a plain
 * table name at the next blank. Either part may instead be backquoted as
 * in MySQL, which is how names with spaces, dots or a leading backtick are
 * written; inside the quotes "``" is one backtick:
 *
 *   `my db`.`my table`   k:{id}
 *   `v1.2`.users         u:{id}
 *   shop.`*`             star:{id}     (a table really named "*")
 *
 * Only an unquoted `*` is the wildcard. Each name is at most
 * SL_KEYTPL_NAME_MAX bytes after decoding. In a template `{col}` is replaced by
 * the value of column col, `{{` and `}}` stand for literal braces; a lone `}`,
 * an unterminated
 * `{` or an empty `{}` are errors when the file is loaded. Two pseudo
 * columns exist: `{_db}` and `{_table}` (the source names).
 *
 * Each template is evaluated on the before image AND the after image of a
 * change (an update that changes the e-mail invalidates the old and the
 * new key); identical keys of one row are deleted once.
 *
 * Value rendering (docs/apply.md): strings are their UTF-8 bytes, numbers
 * their exact text as the event holds it, true/false 1/0, binary values
 * ({"base64": ...}) their decoded bytes, JSON documents their JSON text.
 * Then every byte below 0x21, 0x7F and '%' is written as %XX (upper-case
 * hex), so a key never holds spaces or control bytes (memcached forbids
 * them) and the rendering is injective. A NULL value makes that template
 * produce no key for that image (the row had no such key). A column the
 * image does not contain at all is an error (partial row images cannot
 * name the keys to invalidate; we refuse rather than miss one).
 */
#ifndef SL_APPLY_KEYTPL_H
#define SL_APPLY_KEYTPL_H

#include "buf.h"
#include "jsonread.h"

#include <stddef.h>
#include <stdint.h>

/* Longest database or table name, in bytes, a keys file may give. */
#define SL_KEYTPL_NAME_MAX 256

typedef struct sl_keytpl_set_s sl_keytpl_set_t;
typedef struct sl_keytpl_table_s sl_keytpl_table_t;

/* Parses a keys file's text. On success *out is owned by the caller and
 * freed with sl_keytpl_free(). On SL_ECONFIG err holds "line N: ...". */
int sl_keytpl_parse(const char *text, size_t len, sl_keytpl_set_t **out,
                    char *err, size_t errlen);
/* Reads and parses the file at path (err names the file). */
int sl_keytpl_load(const char *path, sl_keytpl_set_t **out, char *err,
                   size_t errlen);
void sl_keytpl_free(sl_keytpl_set_t *set);

/* The templates for db.table (exact line first, then `db.*`), or NULL.
 * The pointer lives as long as the set. */
const sl_keytpl_table_t *sl_keytpl_find(const sl_keytpl_set_t *set,
                                        const char *db, size_t db_len,
                                        const char *table, size_t table_len);

/* Number of table lines, and the table of line i as the file writes it
 * (for messages). */
size_t sl_keytpl_count(const sl_keytpl_set_t *set);
const char *sl_keytpl_name(const sl_keytpl_set_t *set, size_t i);
/* The decoded database and table names of line i (quotes removed; table
 * is "*" on a wildcard line). Returns 1 for a `db.*` line, else 0. The
 * strings live as long as the set. */
int sl_keytpl_names(const sl_keytpl_set_t *set, size_t i, const char **db,
                    const char **table);
const sl_keytpl_table_t *sl_keytpl_at(const sl_keytpl_set_t *set, size_t i);

/* Checks that every column the templates name is in cols. SL_ECONFIG with
 * err naming the table, the template and the unknown column. */
int sl_keytpl_validate(const sl_keytpl_table_t *tt, const char *const *cols,
                       size_t ncols, char *err, size_t errlen);

/* The keys of one row change, appended to a list. */
typedef struct {
    sl_buf_t bytes; /* Key bytes, back to back. Owned. */
    size_t *off;    /* Start of key i in bytes; count + 1 entries. */
    size_t count;
    size_t cap;
} sl_keylist_t;

void sl_keylist_init(sl_keylist_t *kl);
void sl_keylist_reset(sl_keylist_t *kl);
void sl_keylist_free(sl_keylist_t *kl);
static inline const char *sl_keylist_key(const sl_keylist_t *kl, size_t i,
                                         size_t *len) {
    *len = kl->off[i + 1] - kl->off[i];
    return (const char *)kl->bytes.data + kl->off[i];
}

/* Evaluates the templates on the images before and after (token indexes
 * in doc, each an object, or SL_JR_NONE / a null token for none) and
 * appends the keys to kl, each at most once per call. db and table fill
 * {_db} and {_table}. SL_ECORRUPT with err set when an image lacks a
 * column or a value cannot be rendered; SL_ENOMEM. */
int sl_keytpl_eval(const sl_keytpl_table_t *tt, const sl_jr_doc_t *doc,
                   uint32_t before, uint32_t after, const char *db,
                   size_t db_len, const char *table, size_t table_len,
                   sl_keylist_t *kl, char *err, size_t errlen);

#endif
