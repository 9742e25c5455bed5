/* Snapshot windows of one partition; see snapwin.h. */
#include "apply/snapwin.h"

#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static void free_list(sl_snapwin_entry_t *e, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(e[i].db);
        free(e[i].table);
        free(e[i].id);
    }
    free(e);
}

void sl_snapwin_free(sl_snapwin_t *w) {
    free_list(w->work, w->nwork);
    free_list(w->done, w->ndone);
    free_list(w->staged, w->nstaged);
    *w = (sl_snapwin_t)SL_SNAPWIN_INIT;
}

/* Sets e to copies of the strings; 0 or SL_ENOMEM (e then holds what it
 * got, for free_list). */
static int set_entry(sl_snapwin_entry_t *e, const char *db, const char *table,
                     const char *id) {
    e->db = strdup(db);
    e->table = strdup(table);
    e->id = strdup(id);
    return e->db && e->table && e->id ? 0 : SL_ENOMEM;
}

/* A copy of n entries into *out (NULL for none). */
static int copy_list(const sl_snapwin_entry_t *from, size_t n,
                     sl_snapwin_entry_t **out) {
    *out = NULL;
    if (n == 0)
        return 0;
    sl_snapwin_entry_t *e = calloc(n, sizeof *e);
    if (e == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (set_entry(&e[i], from[i].db, from[i].table, from[i].id) != 0) {
            free_list(e, i + 1);
            return SL_ENOMEM;
        }
    *out = e;
    return 0;
}

static ptrdiff_t find(const sl_snapwin_entry_t *e, size_t n, const char *db,
                      const char *table) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].db, db) == 0 && strcmp(e[i].table, table) == 0)
            return (ptrdiff_t)i;
    return -1;
}

int sl_snapwin_open(const sl_snapwin_t *w, const char *db, const char *table) {
    return w->nwork > 0 && find(w->work, w->nwork, db, table) >= 0;
}

/* Appends a copy to *list; 0 or SL_ENOMEM. */
static int append(sl_snapwin_entry_t **list, size_t *n, const char *db,
                  const char *table, const char *id) {
    sl_snapwin_entry_t *e = realloc(*list, (*n + 1) * sizeof *e);
    if (e == NULL)
        return SL_ENOMEM;
    *list = e;
    memset(&e[*n], 0, sizeof e[*n]);
    if (set_entry(&e[*n], db, table, id) != 0) {
        free(e[*n].db);
        free(e[*n].table);
        free(e[*n].id);
        return SL_ENOMEM;
    }
    (*n)++;
    return 0;
}

int sl_snapwin_load(sl_snapwin_t *w, const char *db, const char *table,
                    const char *id) {
    w->dirty = 1;
    return append(&w->done, &w->ndone, db, table, id);
}

int sl_snapwin_reset(sl_snapwin_t *w) {
    if (!w->dirty)
        return 0;
    sl_snapwin_entry_t *e;
    int rc = copy_list(w->done, w->ndone, &e);
    if (rc != 0)
        return rc;
    free_list(w->work, w->nwork);
    w->work = e;
    w->nwork = w->ndone;
    w->dirty = 0;
    return 0;
}

int sl_snapwin_stage(sl_snapwin_t *w) {
    free_list(w->staged, w->nstaged);
    w->staged = NULL;
    w->nstaged = 0;
    if (!w->dirty)
        return 0;
    int rc = copy_list(w->work, w->nwork, &w->staged);
    if (rc == 0)
        w->nstaged = w->nwork;
    return rc;
}

void sl_snapwin_committed(sl_snapwin_t *w) {
    if (!w->dirty)
        return;
    free_list(w->done, w->ndone);
    w->done = w->staged;
    w->ndone = w->nstaged;
    w->staged = NULL;
    w->nstaged = 0;
    w->dirty = 0;
}

int sl_snapwin_change(sl_snapwin_t *w, int start, const char *db,
                      const char *table, const char *id, int *mismatch) {
    ptrdiff_t i = find(w->work, w->nwork, db, table);
    *mismatch = 0;
    if (!start) {
        if (i < 0)
            return 0;
        if (strcmp(w->work[i].id, id) != 0) {
            *mismatch = 1;
            return 0;
        }
        free(w->work[i].db);
        free(w->work[i].table);
        free(w->work[i].id);
        w->work[i] = w->work[--w->nwork];
        w->dirty = 1;
        return 0;
    }
    if (i >= 0) {
        char *nid = strdup(id);
        if (nid == NULL)
            return SL_ENOMEM;
        free(w->work[i].id);
        w->work[i].id = nid;
        w->dirty = 1;
        return 0;
    }
    int rc = append(&w->work, &w->nwork, db, table, id);
    if (rc == 0)
        w->dirty = 1;
    return rc;
}

/* The string member name of object tok as a C string in b (reset first);
 * absent or not a string leaves b empty and returns 1. */
static int str_member(const sl_jr_doc_t *doc, uint32_t tok, const char *name,
                      sl_buf_t *b) {
    sl_buf_reset(b);
    uint32_t v = tok != SL_JR_NONE && sl_jr_type(doc, tok) == SL_JR_OBJECT
                     ? sl_jr_get(doc, tok, name)
                     : SL_JR_NONE;
    if (v == SL_JR_NONE || sl_jr_type(doc, v) != SL_JR_STRING) {
        sl_buf_append_u8(b, 0);
        return sl_buf_error(b) != 0 ? SL_ENOMEM : 1;
    }
    if (sl_jr_unescape(doc, v, b) != 0 || sl_buf_append_u8(b, 0) != 0)
        return SL_ENOMEM;
    return 0;
}

int sl_snapwin_marker(const sl_jr_doc_t *doc, const sl_event_t *ev,
                      sl_buf_t *db, sl_buf_t *table, sl_buf_t *id) {
    int r1 = str_member(doc, 0, "db", db);
    if (r1 < 0)
        return r1;
    int r2 = str_member(doc, 0, "table", table);
    if (r2 < 0)
        return r2;
    int r3 = str_member(doc, ev->snapshot, "id", id);
    if (r3 < 0)
        return r3;
    return r1 | r2 | r3 ? 1 : 0;
}

int sl_snapwin_event(sl_snapwin_t *w, const char *part, uint64_t offset,
                     int start, const char *db, const char *table,
                     const char *id) {
    ptrdiff_t i = find(w->work, w->nwork, db, table);
    if (start && i >= 0 && strcmp(w->work[i].id, id) == 0) {
        /* The window is open already for this snapshot (capture's early
         * start, then a one-shot copy's own start at its position): it
         * stays as it is. */
        sl_log_debug("snapshot window already open",
                     "part=%s offset=%llu db=%s table=%s snapshot=%s", part,
                     (unsigned long long)offset, db, table, id);
        return 1;
    }
    int mismatch;
    int rc = sl_snapwin_change(w, start, db, table, id, &mismatch);
    if (rc != 0)
        return rc;
    if (mismatch)
        sl_log_warn("snapshot_done of another snapshot than the open one; "
                    "the table stays tolerant",
                    "part=%s offset=%llu db=%s table=%s snapshot=%s", part,
                    (unsigned long long)offset, db, table, id);
    else
        sl_log_info(start ? "snapshot window opened" : "snapshot window closed",
                    "part=%s offset=%llu db=%s table=%s snapshot=%s", part,
                    (unsigned long long)offset, db, table, id);
    return 0;
}
