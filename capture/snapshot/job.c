/* A chunk's job built from the cursor and the table's definition: the
 * columns and how each is read, the primary key, and the tables a
 * snapshot cannot read; see internal.h for the job. */
#include "error.h"
#include "internal.h"
#include "state_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl__snap_free_pk(sl_snap_t *snap) {
    for (size_t i = 0; i < snap->npk; i++)
        free(snap->pknames[i]);
    free(snap->pknames);
    snap->pknames = NULL;
    snap->npk = 0;
}

/* How a snapshot reads column c of t (*kind 0: not published), or why it
 * cannot read the table. */
static int column_kind(sl_snap_t *snap, const sl_schema_table_t *t,
                       const sl_schema_col_t *c, sl__snap_kind_t *kind,
                       char *err, size_t errlen) {
    *kind = 0;
    if (c->hidden ||
        !snap->o.want_column(snap->o.ctx, t->db, t->name, c->name)) {
        if (!c->is_pk)
            return 0;
        snprintf(err, errlen,
                 "snapshot of %s.%s: primary-key column %s is "
                 "excluded, so read rows could not be matched "
                 "with the stream",
                 t->db, t->name, c->name);
        return SL_EUNSUPPORTED;
    }
    *kind = sl__snap_kind(c->data_type, c->charset);
    if (*kind == 0 || (c->is_pk && *kind == SL__SNAP_JSON) ||
        (c->is_pk && strcmp(c->data_type, "enum") == 0) ||
        (c->is_pk && strcmp(c->data_type, "set") == 0) ||
        (c->is_pk && (strcmp(c->data_type, "float") == 0 ||
                      strcmp(c->data_type, "double") == 0))) {
        snprintf(err, errlen,
                 "snapshot of %s.%s: column %s of type %s cannot be "
                 "read by a snapshot%s; exclude it (--exclude-column) "
                 "or the table (--exclude), or run with "
                 "--snapshot never",
                 t->db, t->name, c->name, c->column_type,
                 c->is_pk ? " as a primary-key column" : "");
        return SL_EUNSUPPORTED;
    }
    return 0;
}

static int refuse_keyless(const sl_schema_table_t *t, char *err,
                          size_t errlen) {
    snprintf(err, errlen,
             "snapshot of %s.%s refused: the table has no primary key, "
             "so chunks cannot be read in key order nor merged with "
             "the stream exactly; add a primary key, exclude the table "
             "(--exclude), or copy it in one consistent read "
             "(--snapshot-copy keyless, MariaDB; docs/snapshot.md, "
             "tables without a primary key)",
             t->db, t->name);
    return SL_EUNSUPPORTED;
}

int sl__snap_check_table(sl_snap_t *snap, const sl_schema_table_t *t, char *err,
                         size_t errlen) {
    size_t npk = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        sl__snap_kind_t kind;
        int rc = column_kind(snap, t, &t->cols[i], &kind, err, errlen);
        if (rc != 0)
            return rc;
        npk += t->cols[i].is_pk != 0;
    }
    if (npk == 0 && snap->o.copy_mode == SL_SNAP_COPY_NO)
        return refuse_keyless(t, err, errlen);
    return 0;
}

/* Builds the next chunk's job from the cursor and the table's definition
 * in the schema history. */
int sl__snap_build_job(sl_snap_t *snap, sl__snap_job_t *job,
                       const sl_schema_table_t *t, const char *last,
                       uint64_t chunk, char *err, size_t errlen) {
    sl__snap_job_clear(job);
    sl__snap_free_pk(snap);
    snprintf(job->db, sizeof job->db, "%s", snap->db);
    snprintf(job->table, sizeof job->table, "%s", snap->table);
    job->cols = calloc(t->ncols ? t->ncols : 1, sizeof *job->cols);
    job->pk = calloc(t->ncols ? t->ncols : 1, sizeof *job->pk);
    snap->pknames = calloc(t->ncols ? t->ncols : 1, sizeof *snap->pknames);
    if (job->cols == NULL || job->pk == NULL || snap->pknames == NULL)
        return SL_ENOMEM;
    size_t npk = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        const sl_schema_col_t *c = &t->cols[i];
        npk += c->is_pk != 0;
        sl__snap_kind_t kind;
        int rc = column_kind(snap, t, c, &kind, err, errlen);
        if (rc != 0)
            return rc;
        if (kind == 0)
            continue; /* Not published. */
        job->cols[job->ncols].name = strdup(c->name);
        job->cols[job->ncols].kind = kind;
        if (job->cols[job->ncols].name == NULL)
            return SL_ENOMEM;
        job->ncols++;
    }
    if (npk == 0 && !snap->copy_dropping)
        return refuse_keyless(t, err, errlen);
    for (int seq = 1; (size_t)seq <= npk; seq++)
        for (size_t i = 0; i < job->ncols; i++) {
            const sl_schema_col_t *c = NULL;
            for (size_t j = 0; j < t->ncols; j++)
                if (strcmp(t->cols[j].name, job->cols[i].name) == 0)
                    c = &t->cols[j];
            if (c != NULL && c->pk_seq == seq) {
                job->pk[job->npk++] = i;
                snap->pknames[snap->npk] = strdup(c->name);
                if (snap->pknames[snap->npk++] == NULL)
                    return SL_ENOMEM;
            }
        }
    if (job->npk != npk) {
        snprintf(err, errlen,
                 "snapshot of %s.%s: the schema history's primary key is "
                 "inconsistent",
                 t->db, t->name);
        return SL_EINVAL;
    }
    int frc = sl__snap_fmt_job(job, snap->o.format, t);
    if (frc != 0)
        return frc;
    job->last = last ? strdup(last) : NULL;
    job->where = snap->where ? strdup(snap->where) : NULL;
    job->limit = snap->chunk_size;
    job->want_estimate = chunk == 0;
    snap->mark_seq++;
    snprintf(job->lw, sizeof job->lw, "%.40s:%llu:L:%016llx%llx", snap->id,
             (unsigned long long)chunk, (unsigned long long)snap->nonce,
             (unsigned long long)snap->mark_seq);
    snprintf(job->hw, sizeof job->hw, "%.40s:%llu:H:%016llx%llx", snap->id,
             (unsigned long long)chunk, (unsigned long long)snap->nonce,
             (unsigned long long)snap->mark_seq);
    return 0;
}
