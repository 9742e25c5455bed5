/*
 * Consumer-group administration over the text protocol
 * (docs/protocol.md, "groups" and "greset"): listing every group's
 * committed offsets with lag and live members, and moving a group's
 * committed offset, refused while the group has live members.
 *
 * A live member is a consumer that would overwrite a reset with its next
 * commit: a member of the group in the Kafka listener's coordinator, or an
 * open text-protocol connection that committed an offset for the group.
 */
#ifndef SL_BROKER_SERVER_GROUPS_INT_H
#define SL_BROKER_SERVER_GROUPS_INT_H

#include "broker/proto.h"

typedef struct sl_conn_s sl_conn_t;

/* `groups ID [GROUP]`: 200 ID N, N lines, END. */
void sl__server_groups(sl_conn_t *conn, const sl_cmd_t *cmd);

/* `greset ID GROUP TOPIC PARTITION OFFSET`: returns 0 when the reset may
 * go ahead as a commit (the caller commits it), else 1 with the refusal
 * written (409 live members, 404 no such partition, 416 out of range). */
int sl__server_group_reset_check(sl_conn_t *conn, const sl_cmd_t *cmd);

/* Notes that conn commits for cmd->group (a member while it stays open). */
void sl__server_groups_saw_commit(sl_conn_t *conn, const sl_cmd_t *cmd);

#endif
