/*
 * Request dispatch of the Kafka listener: the request header, the API
 * table (what ApiVersions advertises), ApiVersions itself, SASL/PLAIN,
 * replies to unknown APIs and versions, and the kafka_* stats lines.
 *
 * Layouts (non-flexible; see codec.c for the primitive types):
 *   request header v1  api_key i16, api_version i16, correlation_id i32,
 *                      client_id nullable string (ApiVersions v3's header
 *                      v2 adds tagged fields after it, never read here).
 *   ApiVersions v0-2   request: empty (v3+: client software name and
 *                      version, never read). Response: error_code i16,
 *                      api_keys [api_key i16, min i16, max i16],
 *                      throttle_time_ms i32 (v1+). A request at v3 or above
 *                      gets UNSUPPORTED_VERSION in the v0 layout with the
 *                      whole table, so the client retries at v2 (KIP-511;
 *                      librdkafka and the Java client do).
 *   SaslHandshake v0-1 request: mechanism string. Response: error_code
 *                      i16, mechanisms [string]. After v0, the next frame
 *                      is the raw SASL token (i32 size, bytes), answered
 *                      by a raw frame; after v1 the token comes in
 *                      SaslAuthenticate.
 *   SaslAuthenticate   request: auth_bytes bytes. Response: error_code
 *   v0-1               i16, error_message nullable string, auth_bytes
 *                      bytes, session_lifetime_ms i64 (v1+).
 *   PLAIN token        [authzid] NUL authcid NUL password (RFC 4616); the
 *                      password must equal the broker secret, any user
 *                      name is accepted.
 *   Unknown API key or unsupported version of another API: a response
 *                      header with the request's correlation id and body
 *                      error_code i16 = 35 (UNSUPPORTED_VERSION), so the
 *                      client gets an answer instead of a hang.
 *
 * Before authentication (when the broker has a secret) only ApiVersions,
 * SaslHandshake and SaslAuthenticate are served; any other request closes
 * the connection, as Kafka does (kafka_errors_unauthenticated). A failed
 * authentication is answered, then the connection closes.
 */
#include "broker/kafka/internal.h"

#include "error.h"
#include "log.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <string.h>

static int h_api_versions(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                          sl_kreader_t *body, sl_kreply_t *reply);
static int h_sasl_handshake(sl_kafka_t *k, sl_kconn_t *conn,
                            const sl_kreq_t *req, sl_kreader_t *body,
                            sl_kreply_t *reply);
static int h_sasl_authenticate(sl_kafka_t *k, sl_kconn_t *conn,
                               const sl_kreq_t *req, sl_kreader_t *body,
                               sl_kreply_t *reply);

/* The APIs served, one row each: key, versions, handler. The data path's
 * and the group coordinator's rows go in their blocks. */
/* clang-format off */
static const sl_kapi_t apis[] = {
    {SL_KAPI_API_VERSIONS, 0, 2, h_api_versions},
    {SL_KAPI_SASL_HANDSHAKE, 0, 1, h_sasl_handshake},
    {SL_KAPI_SASL_AUTHENTICATE, 0, 1, h_sasl_authenticate},
    {SL_KAPI_METADATA, 0, 4, sl__kafka_h_metadata},
    {SL_KAPI_CREATE_TOPICS, 0, 4, sl__kafka_h_create_topics},

    /* The data path: Produce, Fetch, ListOffsets, InitProducerId. */
    /* Produce from 0: librdkafka compresses with gzip or snappy only when
     * version 0 is advertised (produce.c). */
    {SL_KAPI_PRODUCE, 0, 7, sl__kafka_h_produce},
    {SL_KAPI_FETCH, 4, 11, sl__kafka_h_fetch},
    {SL_KAPI_LIST_OFFSETS, 0, 2, sl__kafka_h_list_offsets},
    {SL_KAPI_INIT_PRODUCER_ID, 0, 1, sl__kafka_h_init_producer_id},

    /* (end of the data path's rows) */

    /* The group coordinator: FindCoordinator, JoinGroup, SyncGroup,
     * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch. */
    {SL_KAPI_FIND_COORDINATOR, 0, 2, sl__kafka_h_find_coordinator},
    {SL_KAPI_JOIN_GROUP, 0, 5, sl__kafka_h_join_group},
    {SL_KAPI_SYNC_GROUP, 0, 3, sl__kafka_h_sync_group},
    {SL_KAPI_HEARTBEAT, 0, 3, sl__kafka_h_heartbeat},
    {SL_KAPI_LEAVE_GROUP, 0, 3, sl__kafka_h_leave_group},
    {SL_KAPI_OFFSET_COMMIT, 2, 7, sl__kafka_h_offset_commit},
    {SL_KAPI_OFFSET_FETCH, 1, 5, sl__kafka_h_offset_fetch},

    /* (end of the group coordinator's rows) */
};
/* clang-format on */

#define NAPIS (sizeof apis / sizeof apis[0])

static const sl_kapi_t *api_find(int16_t key) {
    for (size_t i = 0; i < NAPIS; i++)
        if (apis[i].key == key)
            return &apis[i];
    return NULL;
}

/* ---- ApiVersions ---------------------------------------------------------
 */

static void write_api_table(sl_buf_t *b) {
    sl__kafka_w_i32(b, (int32_t)NAPIS);
    for (size_t i = 0; i < NAPIS; i++) {
        sl__kafka_w_i16(b, apis[i].key);
        sl__kafka_w_i16(b, apis[i].min_version);
        sl__kafka_w_i16(b, apis[i].max_version);
    }
}

static int h_api_versions(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                          sl_kreader_t *body, sl_kreply_t *reply) {
    (void)k;
    (void)conn;
    (void)body;
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    sl__kafka_w_i16(b, SL_KERR_NONE);
    write_api_table(b);
    if (req->version >= 1)
        sl__kafka_w_i32(b, 0);
    sl__kafka_reply_done(reply);
    return 0;
}

/* ApiVersions at a version above ours: UNSUPPORTED_VERSION in the v0
 * layout, whatever the request's version (its header may be flexible;
 * the response header never is). */
static int h_api_versions_fallback(sl_kafka_t *k, sl_kconn_t *conn,
                                   const sl_kreq_t *req, sl_kreader_t *body,
                                   sl_kreply_t *reply) {
    (void)k;
    (void)conn;
    (void)req;
    (void)body;
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    sl__kafka_w_i16(b, SL_KERR_UNSUPPORTED_VERSION);
    write_api_table(b);
    sl__kafka_reply_done(reply);
    return 0;
}

/* An unknown API, or a version outside an API's range: the error code
 * alone after the response header. */
static int h_unsupported(sl_kafka_t *k, sl_kconn_t *conn, const sl_kreq_t *req,
                         sl_kreader_t *body, sl_kreply_t *reply) {
    (void)k;
    (void)conn;
    (void)req;
    (void)body;
    sl__kafka_w_i16(sl__kafka_reply_buf(reply), SL_KERR_UNSUPPORTED_VERSION);
    sl__kafka_reply_done(reply);
    return 0;
}

/* ---- SASL/PLAIN ------------------------------------------------------- */

/* Checks a PLAIN token against the secret: 0 or SL_EAUTH. */
static int plain_check(const sl_kafka_t *k, const uint8_t *tok, size_t len) {
    const uint8_t *nul1 = memchr(tok, 0, len);
    if (nul1 == NULL)
        return SL_EAUTH;
    const uint8_t *user = nul1 + 1;
    const uint8_t *nul2 = memchr(user, 0, len - (size_t)(user - tok));
    if (nul2 == NULL)
        return SL_EAUTH;
    const uint8_t *pw = nul2 + 1;
    size_t pwlen = len - (size_t)(pw - tok);
    const char *secret = k->opts.secret;
    size_t slen = strlen(secret);
    /* Constant time in the password's content; its length is no secret
     * worth hiding from someone who may try as often as they like. */
    if (pwlen != slen || CRYPTO_memcmp(pw, secret, slen) != 0)
        return SL_EAUTH;
    return 0;
}

/* How long a failed authentication's answer (or, after SaslHandshake v0,
 * the close) is held back, so guessing the secret is slow; nothing more
 * is read from the connection meanwhile. */
#define AUTH_FAIL_DELAY_MS 1000

/* Logs failed authentications, at most one line a second (a flood of
 * wrong guesses must not flood the log). */
static void auth_failed(sl_kafka_t *k, sl_kconn_t *conn, const char *why) {
    k->st.err_auth++;
    k->auth_unlogged++;
    conn->close_after_flush = 1;
    uint64_t now = (uint64_t)uv_now(k->loop);
    if (k->auth_logged_ms != 0 && now - k->auth_logged_ms < 1000)
        return;
    sl_log_warn("kafka SASL authentication failed",
                "peer=%s reason=\"%s\" failures=%" PRIu64, conn->peer, why,
                k->auth_unlogged);
    k->auth_unlogged = 0;
    k->auth_logged_ms = now ? now : 1;
}

static void held_reply_cb(uv_timer_t *t) {
    sl_kconn_t *conn = t->data;
    sl_kreply_t *reply = conn->held;
    conn->held = NULL;
    conn->holding = 0;
    if (reply != NULL)
        sl__kafka_reply_done(reply);
    else
        sl__kafka_conn_close(conn);
}

static void held_cancel_cb(void *arg) {
    sl_kconn_t *conn = arg;
    conn->held = NULL;
    uv_timer_stop(&conn->timer);
}

/* Sends reply (NULL: closes) after AUTH_FAIL_DELAY_MS. */
static void hold(sl_kconn_t *conn, sl_kreply_t *reply) {
    conn->held = reply;
    conn->holding = 1;
    if (reply != NULL)
        sl__kafka_reply_on_cancel(reply, held_cancel_cb, conn);
    uv_timer_start(&conn->timer, held_reply_cb, AUTH_FAIL_DELAY_MS, 0);
}

static int h_sasl_handshake(sl_kafka_t *k, sl_kconn_t *conn,
                            const sl_kreq_t *req, sl_kreader_t *body,
                            sl_kreply_t *reply) {
    const char *mech;
    int16_t mlen;
    if (sl__kafka_r_str(body, &mech, &mlen) != 0)
        return body->err;
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    int16_t err = SL_KERR_NONE;
    if (k->opts.secret == NULL) {
        /* No secret: nothing to authenticate against, and no mechanism
         * to offer. */
        err = SL_KERR_UNSUPPORTED_SASL_MECHANISM;
    } else if (conn->authed || conn->sasl_mech) {
        err = SL_KERR_ILLEGAL_SASL_STATE;
    } else if (mlen != 5 || memcmp(mech, "PLAIN", 5) != 0) {
        err = SL_KERR_UNSUPPORTED_SASL_MECHANISM;
    }
    sl__kafka_w_i16(b, err);
    if (k->opts.secret == NULL) {
        sl__kafka_w_i32(b, 0);
    } else {
        sl__kafka_w_i32(b, 1);
        sl__kafka_w_cstr(b, "PLAIN");
    }
    if (err == SL_KERR_NONE) {
        conn->sasl_mech = 1;
        conn->sasl_raw = req->version == 0;
    } else {
        auth_failed(k, conn,
                    err == SL_KERR_ILLEGAL_SASL_STATE
                        ? "SaslHandshake out of order"
                        : "mechanism not offered (PLAIN only)");
    }
    sl__kafka_reply_done(reply);
    return 0;
}

static int h_sasl_authenticate(sl_kafka_t *k, sl_kconn_t *conn,
                               const sl_kreq_t *req, sl_kreader_t *body,
                               sl_kreply_t *reply) {
    const uint8_t *tok;
    int32_t tlen;
    if (sl__kafka_r_bytes(body, &tok, &tlen) != 0)
        return body->err;
    sl_buf_t *b = sl__kafka_reply_buf(reply);
    const char *msg = NULL;
    int16_t err = SL_KERR_NONE;
    if (!conn->sasl_mech || conn->authed) {
        err = SL_KERR_ILLEGAL_SASL_STATE;
        msg = "SaslAuthenticate without a SaslHandshake for PLAIN";
    } else if (tok == NULL || plain_check(k, tok, (size_t)tlen) != 0) {
        err = SL_KERR_SASL_AUTHENTICATION_FAILED;
        msg = "Authentication failed: invalid credentials";
    }
    sl__kafka_w_i16(b, err);
    sl__kafka_w_cstr(b, msg);
    sl__kafka_w_bytes(b, "", 0);
    if (req->version >= 1)
        sl__kafka_w_i64(b, 0);
    if (err == SL_KERR_NONE) {
        conn->authed = 1;
        sl__kafka_reply_done(reply);
    } else {
        auth_failed(k, conn, msg);
        hold(conn, reply);
    }
    return 0;
}

int sl__kafka_sasl_raw(sl_kafka_t *k, sl_kconn_t *conn, const uint8_t *frame,
                       size_t len) {
    conn->sasl_raw = 0;
    if (plain_check(k, frame, len) != 0) {
        /* The v0 exchange has no error reply: Kafka closes. */
        auth_failed(k, conn, "Authentication failed: invalid credentials");
        hold(conn, NULL);
        return 0;
    }
    conn->authed = 1;
    return sl__kafka_send_raw(conn, "", 0);
}

/* ---- dispatch ----------------------------------------------------------- */

static int pre_auth_ok(int16_t key) {
    return key == SL_KAPI_API_VERSIONS || key == SL_KAPI_SASL_HANDSHAKE ||
           key == SL_KAPI_SASL_AUTHENTICATE;
}

int sl__kafka_dispatch(sl_kafka_t *k, sl_kconn_t *conn, const uint8_t *frame,
                       size_t len) {
    sl_kreader_t r;
    sl_kreq_t req;
    sl__kafka_reader_init(&r, frame, len);
    req.key = sl__kafka_r_i16(&r);
    req.version = sl__kafka_r_i16(&r);
    req.corr = sl__kafka_r_i32(&r);
    if (r.err != 0) {
        k->st.err_malformed++;
        return r.err;
    }
    if (req.key >= 0 && req.key < 64)
        k->st.api[req.key]++;
    if (!conn->authed && !pre_auth_ok(req.key)) {
        k->st.err_unauth++;
        sl_log_debug("kafka request before SASL authentication; closing",
                     "peer=%s api=%d", conn->peer, req.key);
        return SL_EAUTH;
    }
    const sl_kapi_t *api = api_find(req.key);
    sl_kafka_handler_fn handler;
    if (api == NULL) {
        k->st.err_unknown_api++;
        handler = h_unsupported;
    } else if (req.version < api->min_version ||
               req.version > api->max_version) {
        k->st.err_version++;
        handler = req.key == SL_KAPI_API_VERSIONS ? h_api_versions_fallback
                                                  : h_unsupported;
    } else {
        handler = api->handler;
    }
    /* The client id; a header that ends before it is read as null only
     * for the replies that need nothing of the request. */
    if (sl__kafka_r_str(&r, &req.client_id, &req.client_id_len) != 0 &&
        handler != h_unsupported && handler != h_api_versions_fallback) {
        k->st.err_malformed++;
        return r.err;
    }
    r.err = 0;
    int rc = sl__kafka_run(k, conn, &req, &r, handler);
    if (rc != 0 && rc != SL_EAUTH) {
        k->st.err_malformed++;
        sl_log_debug("kafka request malformed; closing",
                     "peer=%s api=%d version=%d error=\"%s\"", conn->peer,
                     req.key, req.version, sl_strerror(rc));
    }
    return rc;
}

/* ---- stats -------------------------------------------------------------- */

void sl__kafka_stats(sl_kafka_t *k, sl_buf_t *o) {
    const sl_kstats_t *st = &k->st;
#define STAT(name, v) sl_buf_printf(o, "STAT " name " %" PRIu64 "\r\n", v)
    STAT("kafka_conns", k->nconns);
    STAT("kafka_conns_total", st->conns_total);
    STAT("kafka_conns_rejected", st->conns_rejected);
    STAT("kafka_requests", st->requests);
    STAT("kafka_bytes_read", st->bytes_read);
    STAT("kafka_bytes_written", st->bytes_sent);
    STAT("kafka_idle_closed", st->idle_closed);
    STAT("kafka_timeout_closed", st->timeouts);
    STAT("kafka_errors_size", st->err_size);
    STAT("kafka_errors_too_large", st->err_too_large);
    STAT("kafka_errors_malformed", st->err_malformed);
    STAT("kafka_errors_truncated", st->err_truncated);
    STAT("kafka_errors_unknown_api", st->err_unknown_api);
    STAT("kafka_errors_unsupported_version", st->err_version);
    STAT("kafka_errors_unauthenticated", st->err_unauth);
    STAT("kafka_errors_auth_failed", st->err_auth);
#undef STAT
    for (int key = 0; key < 64; key++)
        if (st->api[key] != 0)
            sl_buf_printf(o, "STAT kafka_requests_api_%d %" PRIu64 "\r\n", key,
                          st->api[key]);
    sl__kafka_data_stats(k, o);
    sl__kafka_groups_stats(k, o);
}
