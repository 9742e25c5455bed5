/*
 * The broker's network side on libuv: the listener, connections, request
 * dispatch, long polls and replies. Replies on one connection always come
 * in request order; acknowledgements of puts and commits are sent only
 * once the store reports them durable.
 *
 * Ownership: the server owns its connections and handles; the caller owns
 * the loop and the store (which must outlive the server). Everything runs
 * on the loop thread.
 */
#ifndef SL_BROKER_SERVER_H
#define SL_BROKER_SERVER_H

#include "broker/proto.h"
#include "broker/store.h"

#include <stdint.h>
#include <uv.h>

typedef struct {
    const char *host; /* Listen address (127.0.0.1 by default). */
    uint16_t port;
    uint64_t max_conns;
    uint64_t idle_ms;    /* Close connections idle this long (0: never). */
    uint64_t request_ms; /* A started request must be complete (header
                            and payload) this long after its first
                            byte, or the connection closes (0: never). */
    uint64_t auth_ms;    /* With a secret: auth must succeed this long
                            after the connect (0: never). */
    uint64_t max_output; /* Stop reading and executing requests of a
                            connection while its pending output is at
                            this. */
    uint64_t max_memory; /* One budget for request buffers, pending
                            output and the store's staging together: at
                            it, reading stops on every connection and
                            only puts already buffered are executed
                            (0: no budget). */
    sl_proto_limits_t limits;
    const char *secret; /* Shared secret, or NULL. Not copied. */
    /* TLS (lib/tls.h): with a certificate and key the listener speaks
     * only TLS; with a client CA too, clients must present a certificate
     * it signed. NULL: plaintext. Read at start only. */
    const char *tls_cert, *tls_key, *tls_client_ca;
} sl_server_opts_t;

typedef struct sl_server_s sl_server_t;

/* Binds and starts accepting. On error nothing is left running. The store
 * must have been opened with sl_server_acks_cb/sl_server_advance_cb and
 * its data pointer set with sl_server_attach(). */
int sl_server_start(uv_loop_t *loop, sl_store_t *store,
                    const sl_server_opts_t *opts, sl_server_t **out);

/* Stops listening and closes every connection; cb (may be NULL) fires
 * when every handle is closed and the server is freed. */
void sl_server_stop(sl_server_t *srv, void (*cb)(void *data), void *data);

/* Frees the server after sl_server_stop()'s callback fired and the store
 * was closed (the store may deliver acks to closing connections until
 * then). */
void sl_server_free(sl_server_t *srv);

/* The store callbacks that route durable acks and new data to the server
 * whose pointer the store holds in store->data. */
void sl_server_acks_cb(sl_store_t *store, sl_ack_t *acks, size_t n);
void sl_server_advance_cb(sl_store_t *store, sl_part_t *part);

/* A second listener on the same loop and store (the Kafka listener,
 * broker/kafka/) shares the server's store callbacks, memory budget,
 * connection limit and stats reply through these hooks. Acks of kind
 * SL_SERVER_ACK_EXT (outside the server's own kinds) go to ack(); every
 * advance also goes to advance(); flush() runs at the end of each batch
 * of acks or advance and whenever the budget is crossed (either way), so
 * the listener writes what completed and re-checks its reading; stats()
 * appends STAT lines to the stats reply. Any hook may be NULL. The struct
 * is copied. */
#define SL_SERVER_ACK_EXT 0x100
typedef struct {
    void *arg;
    void (*ack)(void *arg, const sl_ack_t *ack);
    void (*advance)(void *arg, sl_part_t *part);
    void (*flush)(void *arg);
    void (*stats)(void *arg, sl_buf_t *out);
    /* Members the group has in the listener (server_groups.c). */
    unsigned (*members)(void *arg, const char *group, size_t glen);
} sl_server_ext_t;
void sl_server_set_ext(sl_server_t *srv, const sl_server_ext_t *ext);

/* Makes room in a connection's input buffer (unparsed from *in_off) for
 * the next read: a chunk, or the rest of a request of need bytes being
 * received at its exact size (sl_buf_reserve() would round it up to a
 * power of two, and the budget counts what is allocated). Consumed input
 * is dropped first when that makes room. Shared by both listeners. */
int sl_server_input_reserve(sl_buf_t *in, size_t *in_off, size_t need);

/* Accounts a connection of the second listener in the memory budget:
 * *held is what it counted so far (starting at 0), now what it holds; the
 * budget is re-checked. */
void sl_server_mem_account(sl_server_t *srv, size_t *held, size_t now);
/* The largest empty buffer a connection should keep for reuse now (large
 * while the budget is far, small near it). */
size_t sl_server_keep_limit(const sl_server_t *srv);
/* Whether the memory budget is reached (reading must pause). */
int sl_server_mem_full(const sl_server_t *srv);
/* The text listener's TLS context (lib/tls.h), or NULL: the Kafka
 * listener speaks TLS with the same certificate when there is one. */
struct sl_tls_ctx_s *sl_server_tls(const sl_server_t *srv);
/* Takes one connection slot of max_connections for the second listener:
 * 0, or SL_ELIMIT when every slot is taken. Give it back with
 * sl_server_conn_release(). */
int sl_server_conn_admit(sl_server_t *srv);
void sl_server_conn_release(sl_server_t *srv);

#endif
