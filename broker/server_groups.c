/*
 * Consumer-group administration commands of the text protocol; see
 * server_groups_int.h and docs/protocol.md.
 *
 * Text-protocol members: the connections that committed for a group are
 * remembered here (group name -> up to MAX_SEEN connections, each with
 * the time it connected, so a freed and reused connection address is not
 * mistaken for the old one). A remembered connection counts as a live
 * member while it is still in the server's list of connections and not
 * closing. The table is per process and only grows with the number of
 * groups ever committed to in it (each holds MAX_SEEN slots).
 */
#include "broker/server_groups_int.h"

#include "broker/server_int.h"
#include "broker/store_int.h"
#include "bytes.h"
#include "status.h"
#include "strmap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEEN 8

typedef struct {
    const sl_conn_t *conn[MAX_SEEN];
    uint64_t connected_ms[MAX_SEEN];
    unsigned next; /* Slot to overwrite next. */
} seen_t;

static sl_strmap_t seen_map;
static int seen_init;

static int conn_open(const sl_server_t *srv, const sl_conn_t *c,
                     uint64_t connected_ms) {
    for (const sl_conn_t *x = srv->conns; x != NULL; x = x->next)
        if (x == c)
            return !x->closing && x->connected_ms == connected_ms;
    return 0;
}

/* Live members of group: Kafka coordinator members and open connections
 * that committed for it. */
static unsigned live_members(const sl_server_t *srv, const char *group,
                             size_t glen) {
    unsigned n = 0;
    if (srv->ext.members != NULL)
        n += srv->ext.members(srv->ext.arg, group, glen);
    seen_t *s = seen_init ? sl_strmap_get(&seen_map, group, glen) : NULL;
    for (unsigned i = 0; s != NULL && i < MAX_SEEN; i++)
        if (s->conn[i] != NULL &&
            conn_open(srv, s->conn[i], s->connected_ms[i]))
            n++;
    return n;
}

void sl__server_groups_saw_commit(sl_conn_t *conn, const sl_cmd_t *cmd) {
    if (!seen_init) {
        if (sl_strmap_init(&seen_map) != 0)
            return;
        seen_init = 1;
    }
    seen_t *s = sl_strmap_get(&seen_map, cmd->group.p, cmd->group.len);
    if (s == NULL) {
        if ((s = calloc(1, sizeof *s)) == NULL)
            return;
        if (sl_strmap_put(&seen_map, cmd->group.p, cmd->group.len, s) != 0) {
            free(s);
            return;
        }
    }
    for (unsigned i = 0; i < MAX_SEEN; i++)
        if (s->conn[i] == conn && s->connected_ms[i] == conn->connected_ms)
            return;
    s->conn[s->next] = conn;
    s->connected_ms[s->next] = conn->connected_ms;
    s->next = (s->next + 1) % MAX_SEEN;
}

/* The group offsets held by the store, as (group, partition, offset):
 * keys are "group\0" u32be partition id. */
typedef int (*each_cb)(void *ctx, const char *group, size_t glen,
                       sl_part_t *part, uint64_t offset);

static int each_offset(sl_store_t *store, each_cb cb, void *ctx) {
    for (size_t b = 0; b < store->groups.nbuckets; b++)
        for (sl_strmap_node_t *n = store->groups.buckets[b]; n; n = n->next) {
            const uint64_t *off = n->value;
            if (n->klen < 5 || off == NULL || *off == SL__GROUP_NONE)
                continue;
            size_t glen = n->klen - 5;
            uint32_t id = sl_get_u32be((const uint8_t *)n->key + glen + 1);
            if (id == 0 || id > sl_store_nparts(store))
                continue;
            int rc =
                cb(ctx, n->key, glen, sl_store_part_by_id(store, id), *off);
            if (rc != 0)
                return rc;
        }
    return 0;
}

typedef struct {
    sl_conn_t *conn;
    const sl_cmd_t *cmd;
    uint32_t count;
    int write;
} list_t;

static int list_cb(void *ctx, const char *group, size_t glen, sl_part_t *part,
                   uint64_t offset) {
    list_t *l = ctx;
    if (l->cmd->group.len > 0 &&
        (glen != l->cmd->group.len || memcmp(group, l->cmd->group.p, glen)))
        return 0;
    l->count++;
    if (!l->write)
        return 0;
    sl_server_t *srv = l->conn->srv;
    uint64_t a = 0, b = 0;
    sl_store_bounds(srv->store, part, &a, &b);
    uint64_t lag = b > offset ? b - offset : 0;
    sl_buf_printf(&l->conn->out,
                  "%.*s %s %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                  " %u\r\n",
                  (int)glen, group, part->topic, part->name, offset, a, b, lag,
                  live_members(srv, group, glen));
    return 0;
}

void sl__server_groups(sl_conn_t *conn, const sl_cmd_t *cmd) {
    sl_server_t *srv = conn->srv;
    srv->st.cmd_other++;
    list_t l = {conn, cmd, 0, 0};
    each_offset(srv->store, list_cb, &l);
    sl__server_reply(conn, SL_STATUS_OK, cmd->reqid, 1, "%" PRIu32, l.count);
    l.write = 1;
    each_offset(srv->store, list_cb, &l);
    sl_buf_append(&conn->out, "END\r\n", 5);
    sl__server_mark_dirty(conn);
}

int sl__server_group_reset_check(sl_conn_t *conn, const sl_cmd_t *cmd) {
    sl_server_t *srv = conn->srv;
    srv->st.cmd_other++;
    unsigned live = live_members(srv, cmd->group.p, cmd->group.len);
    if (live > 0) {
        sl__server_reply(conn, SL_STATUS_CONFLICT, cmd->reqid, 1,
                         "group %.*s has %u live member(s); stop its "
                         "consumers before moving its offsets",
                         (int)cmd->group.len, cmd->group.p, live);
        return 1;
    }
    sl_part_t *part = NULL;
    if (sl_store_part(srv->store, cmd->topic.p, cmd->topic.len, cmd->part.p,
                      cmd->part.len, 0, &part) != 0 ||
        part == NULL) {
        srv->st.err_not_found++;
        sl__server_reply(conn, SL_STATUS_NOT_FOUND, cmd->reqid, 1,
                         "no such partition");
        return 1;
    }
    uint64_t a = 0, b = 0;
    sl_store_bounds(srv->store, part, &a, &b);
    if (cmd->offset < a || cmd->offset > b) {
        sl__server_reply(conn, SL_STATUS_OUT_OF_RANGE, cmd->reqid, 1,
                         "%" PRIu64 " %" PRIu64 " offset outside the stored "
                         "range",
                         a, b);
        return 1;
    }
    return 0;
}
