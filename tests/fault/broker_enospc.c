/*
 * Fault test: the broker's disk fills up. The data directory is a small
 * tmpfs (mount -t tmpfs -o size=...; skipped when mounting is not
 * permitted) that a filler file fills to ENOSPC while several producers
 * put concurrently. Checked against the real binary:
 *
 * - puts are refused with `507 ID insufficient storage`, never a crash;
 * - the broker stays up; gets, offsets and committed keep answering, and
 *   a commit gets 200 or 507 and `committed` agrees with that reply;
 * - once the filler is deleted, puts succeed again without a restart;
 * - nothing acknowledged is lost: every producer's acknowledged messages
 *   are served exactly once and in order (a refused put stored nothing,
 *   so resending it cannot duplicate), also after a kill -9 and restart;
 * - a broker started on a full disk serves reads instead of dying while
 *   writing its start-up checkpoint, and takes puts once space returns.
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NPROD 4

/* ---- the tmpfs ------------------------------------------------------------
 */

static char mounted[8][600];
static int nmounted;

static void unmount_all(void) {
    for (int i = 0; i < nmounted; i++)
        if (mounted[i][0])
            umount2(mounted[i], MNT_DETACH);
}

/* Mounts a tmpfs of size bytes at DIR/mnt and returns that path; skips
 * the test when the system does not permit it. */
static const char *mount_small_fs(const char *size) {
    static char path[600];
    snprintf(path, sizeof path, "%s/mnt", sl_test_tmpdir());
    SL_CHECK(mkdir(path, 0755) == 0);
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s", size);
    if (mount("tmpfs", path, "tmpfs", 0, opts) != 0) {
        char why[256];
        snprintf(why, sizeof why,
                 "cannot mount a tmpfs (%s): needs root or "
                 "CAP_SYS_ADMIN",
                 strerror(errno));
        SL_SKIP(why);
    }
    if (nmounted == 0)
        atexit(unmount_all);
    if (nmounted < 8)
        snprintf(mounted[nmounted++], sizeof mounted[0], "%s", path);
    return path;
}

static void unmount_fs(const char *path) {
    for (int i = 0; i < nmounted; i++)
        if (strcmp(mounted[i], path) == 0)
            mounted[i][0] = '\0';
    umount2(path, MNT_DETACH);
}

/* Writes the filler file until the file system is full. */
static void fill(const char *filler) {
    int fd = open(filler, O_WRONLY | O_CREAT | O_APPEND, 0644);
    SL_CHECK(fd >= 0);
    static char block[65536];
    memset(block, 'F', sizeof block);
    size_t chunk = sizeof block;
    while (chunk > 0) {
        ssize_t w = write(fd, block, chunk);
        if (w < 0 && errno == ENOSPC)
            chunk /= 2;
        else if (w < 0)
            sl_test_fail(__FILE__, __LINE__, "filler: %s", strerror(errno));
    }
    close(fd);
}

/* ---- the broker ------------------------------------------------------------
 */

typedef sl_harness_broker_t broker_t;

/* The --fsync mode the brokers of the current test run with. */
static const char *fsync_mode = "always";

static void broker_start(broker_t *b) {
    const char *const flags[] = {
        "--segment-size", "1MiB", "--checkpoint-interval", "200ms", "--fsync",
        fsync_mode,       NULL};
    sl_harness_broker_start(b, flags, 10000);
}

/* Mounts a tmpfs of size (mount_small_fs()), starts the broker with its
 * data there and its log in TMPDIR, and writes the path of a filler file
 * on the same tmpfs to filler. Returns the mount path. */
static const char *start_on_small_fs(broker_t *b, const char *size,
                                     char *filler, size_t fl) {
    const char *mnt = mount_small_fs(size);
    snprintf(b->data, sizeof b->data, "%s/data", mnt);
    snprintf(b->log, sizeof b->log, "%s/broker.log", sl_test_tmpdir());
    snprintf(filler, fl, "%s/filler", mnt);
    broker_start(b);
    return mnt;
}

/* Fails the test when the broker process has exited. */
static void check_alive(const broker_t *b) {
    int st;
    if (waitpid(b->pid, &st, WNOHANG) == b->pid)
        sl_test_fail(__FILE__, __LINE__, "the broker died (status %d; see %s)",
                     st, b->log);
}

/* ---- a raw protocol connection, to check replies to the letter ------------
 */

typedef struct {
    int fd;
    char buf[1 << 16];
    size_t len;
} raw_t;

static void raw_connect(raw_t *r, const broker_t *b) {
    memset(r, 0, sizeof *r);
    r->fd = sl_harness_tcp_connect(b->port, 0, 30000, 0);
    SL_CHECK(r->fd >= 0);
}

/* Sends req and returns the reply's status line (without the line end). */
static const char *raw_cmd(raw_t *r, const char *req) {
    size_t n = strlen(req);
    SL_CHECK(send(r->fd, req, n, MSG_NOSIGNAL) == (ssize_t)n);
    static char line[4096];
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl != NULL) {
            size_t l = (size_t)(nl - r->buf);
            size_t keep = l > 0 && r->buf[l - 1] == '\r' ? l - 1 : l;
            SL_CHECK(keep < sizeof line);
            memcpy(line, r->buf, keep);
            line[keep] = '\0';
            memmove(r->buf, nl + 1, r->len - l - 1);
            r->len -= l + 1;
            return line;
        }
        SL_CHECK(r->len < sizeof r->buf);
        ssize_t got = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
        if (got <= 0)
            sl_test_fail(__FILE__, __LINE__,
                         "broker closed the connection "
                         "after '%.60s'",
                         req);
        r->len += (size_t)got;
    }
}

/* A put request of 1000 bytes of payload into topic load. */
static const char *big_put(int id, const char *part) {
    static char req[1200];
    int n = snprintf(req, sizeof req, "put %d load %s 1000\r\n", id, part);
    memset(req + n, 'z', 1000);
    memcpy(req + n + 1000, "\r\n", 3);
    return req;
}

/* Puts 1000-byte messages (ids from id) until one gets `507 ID
 * insufficient storage`; every other reply must be a stored put. Returns
 * how many were refused (0 when none was within 20 puts). */
static int put_until_refused(raw_t *r, const char *part, int id) {
    for (int i = 0; i < 20; i++, id++) {
        const char *line = raw_cmd(r, big_put(id, part));
        char want[64];
        snprintf(want, sizeof want, "507 %d insufficient storage", id);
        if (strcmp(line, want) == 0)
            return 1;
        snprintf(want, sizeof want, "200 %d ", id);
        if (strncmp(line, want, strlen(want)) != 0)
            sl_test_fail(__FILE__, __LINE__, "put reply '%s'", line);
    }
    return 0;
}

/* ---- producers ------------------------------------------------------------
 */

typedef struct {
    int idx;
    const broker_t *b;
    int idempotent; /* Pipelined with producer id and sequences. */
    volatile int stop;
    volatile uint64_t limit;   /* Sends no sequence from here on. */
    volatile uint64_t acked;   /* Sequences 0..acked-1 are acknowledged. */
    volatile uint64_t refused; /* 507 replies. */
    uint64_t other;            /* Any other failure (must stay 0). */
    char why[256];
} prod_t;

/* Plain producers put one message at a time: a 507 stored nothing, so
 * the same sequence is sent again until it is acknowledged. Idempotent
 * producers pipeline a window of puts with producer id and sequence (as
 * capture does) and resend from the first one not acknowledged; after a
 * 507 no later put of the window may be stored (or the resend would be
 * taken for a duplicate). Either way the partition must then hold each
 * producer's sequences 0, 1, 2, ... exactly once. */
static void *producer(void *arg) {
    prod_t *p = arg;
    char part[8];
    snprintf(part, sizeof part, "p%d", p->idx % 2);
    sl_client_opts_t o = {NULL, 5000, 30000, -1};
    sl_client_t *cl;
    if (sl_client_connect(p->b->addr, &o, &cl) != 0) {
        snprintf(p->why, sizeof p->why, "connect failed");
        p->other++;
        return NULL;
    }
    int window = p->idempotent ? 50 : 1;
    char m[1200];
    while (!p->stop && p->other == 0) {
        uint64_t from = p->acked;
        int err = 0, sent = 0;
        if (from >= p->limit) {
            sl_harness_sleep_ms(5);
            continue;
        }
        for (; sent < window && err == 0 && from + (uint64_t)sent < p->limit;
             sent++) {
            /* Sizable messages fill the log's pages quickly. */
            int len = snprintf(m, sizeof m, "P%d:%llu:", p->idx,
                               (unsigned long long)(from + (uint64_t)sent));
            memset(m + len, 'x', 700);
            sl_client_msg_t msg = {m, (size_t)len + 700};
            err = sl_client_put_send(cl, "load", part, &msg, 1,
                                     p->idempotent ? 7000 + p->idx : -1,
                                     from + (uint64_t)sent, NULL);
            /* Spread the window over several group commits, so that
             * groups of different sizes meet the full disk. */
            if (err == 0 && p->idempotent && sent % 3 == 2) {
                err = sl_client_flush(cl);
                struct timespec ts = {0, 100000L * (sent % 4)};
                nanosleep(&ts, NULL);
            }
        }
        int refused = 0;
        for (int i = 0; i < sent && err == 0; i++) {
            sl_client_ack_t ack;
            err = sl_client_put_ack(cl, &ack);
            if (ack.code == 200 && !refused && !ack.dup) {
                err = 0;
                p->acked++;
            } else if (ack.code == 200) {
                snprintf(p->why, sizeof p->why,
                         "seq %llu stored after an "
                         "earlier one was refused (dup=%d)",
                         (unsigned long long)(from + (uint64_t)i), ack.dup);
                p->other++;
            } else if (ack.code == 507) {
                err = 0;
                refused = 1;
                p->refused++;
            } else {
                snprintf(p->why, sizeof p->why,
                         "put failed: err=%s code=%d "
                         "(%s)",
                         sl_strerror(err), ack.code, sl_client_error(cl));
                p->other++;
                err = SL_EIO;
            }
        }
        if (err != 0 && p->other == 0) {
            snprintf(p->why, sizeof p->why, "put failed: %s (%s)",
                     sl_strerror(err), sl_client_error(cl));
            p->other++;
        }
        if (refused)
            sl_harness_sleep_ms(2);
    }
    sl_client_close(cl);
    return NULL;
}

/* Reads both partitions and checks each producer's sequences: exactly
 * 0..want[i]-1, in order, each once, at dense offsets. */
static void verify(const broker_t *b, const uint64_t want[NPROD]) {
    uint64_t counts[NPROD];
    sl_harness_check_producer_log(b->addr, "load", NPROD, 30000, 1, counts);
    for (int i = 0; i < NPROD; i++)
        if (counts[i] != want[i])
            sl_test_fail(__FILE__, __LINE__,
                         "producer %d: %llu acknowledged, "
                         "%llu stored",
                         i, (unsigned long long)want[i],
                         (unsigned long long)counts[i]);
}

static uint64_t total(const prod_t *prods, int refused) {
    uint64_t n = 0;
    for (int i = 0; i < NPROD; i++)
        n += refused ? prods[i].refused : prods[i].acked;
    return n;
}

static void check_producers(const prod_t *prods) {
    for (int i = 0; i < NPROD; i++)
        if (prods[i].other)
            sl_test_fail(__FILE__, __LINE__, "producer %d: %s", i,
                         prods[i].why);
}

/* Commits under a full disk with long group names (each record needs
 * room in meta.log) until one is refused; every reply must be 200 or 507
 * and `committed` must agree with it. Returns how many were refused. */
static int commit_while_full(raw_t *r) {
    char group[260], req[600], want[64];
    int refused = 0;
    for (int i = 0; i < 200 && refused < 3; i++) {
        memset(group, 'g', 240);
        snprintf(group + 240, sizeof group - 240, "%04d", i);
        snprintf(req, sizeof req, "commit %d %s load p0 %d\r\n", 1000 + i,
                 group, i + 1);
        const char *line = raw_cmd(r, req);
        char line_copy[256];
        snprintf(line_copy, sizeof line_copy, "%s", line);
        snprintf(want, sizeof want, "200 %d %d", 1000 + i, i + 1);
        int ok = strcmp(line_copy, want) == 0;
        snprintf(want, sizeof want, "507 %d insufficient storage", 1000 + i);
        if (!ok && strcmp(line_copy, want) != 0)
            sl_test_fail(__FILE__, __LINE__, "commit reply '%s'", line_copy);
        refused += !ok;
        snprintf(req, sizeof req, "committed %d %s load p0\r\n", 5000 + i,
                 group);
        line = raw_cmd(r, req);
        if (ok)
            snprintf(want, sizeof want, "200 %d %d", 5000 + i, i + 1);
        else
            snprintf(want, sizeof want, "404 %d no committed offset", 5000 + i);
        if (strcmp(line, want) != 0)
            sl_test_fail(__FILE__, __LINE__,
                         "commit answered '%s', then "
                         "committed '%s' (expected '%s')",
                         line_copy, line, want);
    }
    return refused;
}

static void run_load(int idempotent) {
    broker_t b = {0};
    char filler[700];
    const char *mnt = start_on_small_fs(&b, "6m", filler, sizeof filler);

    prod_t prods[NPROD];
    pthread_t th[NPROD];
    for (int i = 0; i < NPROD; i++) {
        memset(&prods[i], 0, sizeof prods[i]);
        prods[i].idx = i;
        prods[i].b = &b;
        prods[i].idempotent = idempotent;
        prods[i].limit = UINT64_MAX;
        SL_CHECK_OK(pthread_create(&th[i], NULL, producer, &prods[i]));
    }
    /* Let the load run, then fill the disk in the middle of it. */
    for (int w = 0; w < 3000 && total(prods, 0) < 400; w++)
        sl_harness_sleep_ms(10);
    SL_CHECK(total(prods, 0) >= 400);
    fill(filler);
    /* Every producer is refused, none fails otherwise. */
    int all_refused = 0;
    for (int w = 0; w < 6000 && !all_refused; w++) {
        all_refused = 1;
        for (int i = 0; i < NPROD; i++)
            all_refused &= prods[i].refused >= 20;
        check_producers(prods);
        sl_harness_sleep_ms(10);
    }
    SL_CHECK(all_refused);
    check_alive(&b);

    /* While full: the exact refusal text, reads, offsets, commits. */
    raw_t r;
    raw_connect(&r, &b);
    /* A put may still fit in a page the log holds (a refused group is
     * cut back to where it started); a few more fill it. Each reply is
     * a stored put or the refusal, to the letter. */
    const char *line;
    SL_CHECK(put_until_refused(&r, "raw", 200) > 0);
    SL_CHECK(put_until_refused(&r, "brand-new", 300) > 0);
    line = raw_cmd(&r, "offsets 9 load p0\r\n");
    SL_CHECK(strncmp(line, "200 9 0 ", 8) == 0);
    int refused_commits = commit_while_full(&r);
    SL_CHECK(refused_commits > 0);
    check_alive(&b);
    check_producers(prods);

    /* Space returns: puts resume by themselves, no restart. The producers
     * then stop after 60 more each, far less than the filler freed, so the
     * checks below have room. */
    for (int i = 0; i < NPROD; i++)
        prods[i].limit = prods[i].acked + 60;
    SL_CHECK(unlink(filler) == 0);
    int all_moved = 0;
    for (int w = 0; w < 6000 && !all_moved; w++) {
        all_moved = 1;
        for (int i = 0; i < NPROD; i++)
            all_moved &= prods[i].acked == prods[i].limit;
        check_producers(prods);
        sl_harness_sleep_ms(10);
    }
    SL_CHECK(all_moved);
    line = raw_cmd(&r, "put 10 load after-space 5\r\nhello\r\n");
    SL_CHECK_STR(line, "200 10 0");
    line = raw_cmd(&r, "commit 11 g load p0 3\r\n");
    SL_CHECK_STR(line, "200 11 3");
    /* The refusals are counted. */
    SL_CHECK(send(r.fd, "stats 12\r\n", 10, MSG_NOSIGNAL) == 10);
    int saw_full = 0, saw_refused = 0;
    for (line = raw_cmd(&r, ""); strcmp(line, "END") != 0;
         line = raw_cmd(&r, "")) {
        if (strcmp(line, "STAT disk_full 0") == 0)
            saw_full = 1;
        if (strncmp(line, "STAT nospace_refused ", 21) == 0 &&
            strcmp(line + 21, "0") != 0)
            saw_refused = 1;
    }
    SL_CHECK(saw_full && saw_refused);
    close(r.fd);

    for (int i = 0; i < NPROD; i++)
        prods[i].stop = 1;
    for (int i = 0; i < NPROD; i++)
        pthread_join(th[i], NULL);
    check_producers(prods);
    uint64_t want[NPROD];
    for (int i = 0; i < NPROD; i++)
        want[i] = prods[i].acked;
    verify(&b, want);

    /* Nothing acknowledged is lost across a kill -9 and restart either. */
    sl_harness_stop(b.pid, SIGKILL, 5000);
    broker_start(&b);
    verify(&b, want);
    raw_connect(&r, &b);
    line = raw_cmd(&r, "committed 13 g load p0\r\n");
    SL_CHECK_STR(line, "200 13 3");
    close(r.fd);
    sl_harness_stop(b.pid, SIGTERM, 10000);
    unmount_fs(mnt);
}

SL_TEST(broker_enospc_multi_producer_load) {
    fsync_mode = "always";
    run_load(0);
}

SL_TEST(broker_enospc_pipelined_idempotent_producers) {
    fsync_mode = "always";
    run_load(1);
}

/* Interval mode acks before the fsync: what a refused group cuts back
 * must not touch the acked but not yet synced bytes before it. */
SL_TEST(broker_enospc_fsync_interval) {
    fsync_mode = "interval 20";
    run_load(1);
    fsync_mode = "always";
}

/* Found: on a full disk the broker restarted, died writing its start-up
 * checkpoint, and repeated. It must come up and serve reads. */
static void startup_on_full_disk(int kill9) {
    broker_t b = {0};
    char filler[700];
    const char *mnt = start_on_small_fs(&b, "4m", filler, sizeof filler);
    sl_client_opts_t o = {NULL, 5000, 30000, -1};
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(b.addr, &o, &cl));
    char m[64];
    for (int i = 0; i < 300; i++) {
        snprintf(m, sizeof m, "msg-%d", i);
        uint64_t off;
        SL_CHECK_OK(sl_client_put(cl, "t", i % 2 ? "a" : "b", m, strlen(m), -1,
                                  0, &off, NULL));
        SL_CHECK_UINT(off, (uint64_t)(i / 2));
    }
    SL_CHECK_OK(sl_client_commit(cl, "g", "t", "a", 42));
    sl_client_close(cl);
    sl_harness_stop(b.pid, kill9 ? SIGKILL : SIGTERM, 10000);

    fill(filler);
    broker_start(&b);
    /* Give it time to try (and skip) its start-up checkpoint. */
    sl_harness_sleep_ms(1000);
    check_alive(&b);
    raw_t r;
    raw_connect(&r, &b);
    const char *line = raw_cmd(&r, "offsets 1 t a\r\n");
    SL_CHECK_STR(line, "200 1 0 150");
    line = raw_cmd(&r, "committed 2 g t a\r\n");
    SL_CHECK_STR(line, "200 2 42");
    line = raw_cmd(&r, "get 3 t b 149 1000\r\n");
    SL_CHECK_STR(line, "200 3 1 150 150");
    line = raw_cmd(&r, "");
    SL_CHECK(strncmp(line, "149 ", 4) == 0);
    line = raw_cmd(&r, "");
    SL_CHECK_STR(line, "msg-298");
    /* Puts are refused until space returns, then taken. Several, so that
     * at least one needs a page the full tmpfs does not have. */
    int refused = 0;
    char req[128];
    for (int i = 0; i < 40 && !refused; i++) {
        snprintf(req, sizeof req, "put %d t a 1000\r\n", 100 + i);
        size_t n = strlen(req);
        char big[1200];
        memcpy(big, req, n);
        memset(big + n, 'z', 1000);
        memcpy(big + n + 1000, "\r\n", 3);
        line = raw_cmd(&r, big);
        char want[64];
        snprintf(want, sizeof want, "507 %d insufficient storage", 100 + i);
        if (strcmp(line, want) == 0)
            refused = 1;
        else
            SL_CHECK(strncmp(line, "200 ", 4) == 0);
    }
    SL_CHECK(refused);
    check_alive(&b);
    SL_CHECK(unlink(filler) == 0);
    line = raw_cmd(&r, "offsets 4 t a\r\n");
    uint64_t e, latest;
    SL_CHECK(sscanf(line, "200 4 %" SCNu64 " %" SCNu64, &e, &latest) == 2);
    char want[64];
    snprintf(want, sizeof want, "200 5 %" PRIu64, latest);
    line = raw_cmd(&r, "put 5 t a 5\r\nafter\r\n");
    SL_CHECK_STR(line, want);
    close(r.fd);
    /* A clean stop now writes its checkpoint; a restart serves it all. */
    SL_CHECK_INT(sl_harness_stop(b.pid, SIGTERM, 10000), 0);
    broker_start(&b);
    raw_connect(&r, &b);
    snprintf(want, sizeof want, "200 6 0 %" PRIu64, latest + 1);
    line = raw_cmd(&r, "offsets 6 t a\r\n");
    SL_CHECK_STR(line, want);
    close(r.fd);
    sl_harness_stop(b.pid, SIGTERM, 10000);
    unmount_fs(mnt);
}

SL_TEST(broker_enospc_startup_on_full_disk_serves_reads) {
    startup_on_full_disk(0);
}

SL_TEST(broker_enospc_startup_on_full_disk_after_kill9) {
    startup_on_full_disk(1);
}

/* The value of one `stats` line. */
static uint64_t stat_u64(raw_t *r, const char *name) {
    static int id = 90000;
    char req[64];
    snprintf(req, sizeof req, "stats %d\r\n", id++);
    const char *line = raw_cmd(r, req);
    SL_CHECK(strncmp(line, "200 ", 4) == 0);
    uint64_t v = UINT64_MAX;
    size_t nl = strlen(name);
    for (line = raw_cmd(r, ""); strcmp(line, "END") != 0; line = raw_cmd(r, ""))
        if (strncmp(line, "STAT ", 5) == 0 &&
            strncmp(line + 5, name, nl) == 0 && line[5 + nl] == ' ')
            SL_CHECK(sscanf(line + 6 + nl, "%" SCNu64, &v) == 1);
    if (v == UINT64_MAX)
        sl_test_fail(__FILE__, __LINE__, "no stat %s", name);
    return v;
}

static int count_segments(const char *data) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ls %s/log | grep -c '\\.log$'", data);
    FILE *p = popen(cmd, "r");
    SL_CHECK(p != NULL);
    int n = -1;
    SL_CHECK(fscanf(p, "%d", &n) == 1);
    pclose(p);
    return n;
}

/* The disk fills while the first segment's last page has room, so the
 * put that needs a new segment fails creating or writing it: the new
 * segment is deleted again, the put refused, and once space returns the
 * log goes on in a new segment with nothing lost. */
SL_TEST(broker_enospc_at_segment_roll) {
    broker_t b = {0};
    char filler[700];
    const char *mnt = start_on_small_fs(&b, "4m", filler, sizeof filler);
    raw_t r;
    raw_connect(&r, &b);
    /* Fill the first segment (1 MiB) up to its last page. */
    int n = 0;
    char want[64];
    while (stat_u64(&r, "log_end") < (1u << 20) - 4096 + 100) {
        snprintf(want, sizeof want, "200 %d %d", n, n);
        SL_CHECK_STR(raw_cmd(&r, big_put(n, "p0")), want);
        n++;
    }
    SL_CHECK(stat_u64(&r, "log_end") < (1u << 20) - 1100);
    SL_CHECK_INT(count_segments(b.data), 1);
    fill(filler);
    /* Puts fill the page, then the roll fails: 507, one segment left. */
    int refused = 0;
    for (int i = 0; i < 20 && refused < 3; i++, n++) {
        const char *line = raw_cmd(&r, big_put(n, "p0"));
        snprintf(want, sizeof want, "507 %d insufficient storage", n);
        if (strcmp(line, want) == 0) {
            refused++;
            n--; /* Refused: the offset was not used. */
            continue;
        }
        snprintf(want, sizeof want, "200 %d %d", n, n);
        SL_CHECK_STR(line, want);
    }
    SL_CHECK_INT(refused, 3);
    check_alive(&b);
    SL_CHECK_INT(count_segments(b.data), 1);
    SL_CHECK(stat_u64(&r, "disk_full") == 1);
    snprintf(want, sizeof want, "200 %d 0 %d", n + 1000, n);
    char req[64];
    snprintf(req, sizeof req, "offsets %d load p0\r\n", n + 1000);
    SL_CHECK_STR(raw_cmd(&r, req), want);
    SL_CHECK(unlink(filler) == 0);
    for (int i = 0; i < 5; i++, n++) {
        snprintf(want, sizeof want, "200 %d %d", n, n);
        SL_CHECK_STR(raw_cmd(&r, big_put(n, "p0")), want);
    }
    SL_CHECK_INT(count_segments(b.data), 2);
    close(r.fd);
    /* Every offset once, in order, after a kill -9 too. */
    sl_harness_stop(b.pid, SIGKILL, 5000);
    broker_start(&b);
    sl_client_opts_t o = {NULL, 5000, 30000, 5000};
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(b.addr, &o, &cl));
    uint64_t off = 0;
    while (off < (uint64_t)n) {
        sl_client_fetch_t f;
        SL_CHECK_OK(sl_client_get(cl, "load", "p0", off, 1 << 20, 0, &f));
        SL_CHECK(f.count > 0);
        for (size_t i = 0; i < f.count; i++) {
            SL_CHECK_UINT(f.recs[i].offset, off + i);
            SL_CHECK_UINT(f.recs[i].len, 1000);
        }
        off = f.next;
    }
    SL_CHECK_UINT(off, (uint64_t)n);
    sl_client_close(cl);
    sl_harness_stop(b.pid, SIGTERM, 10000);
    unmount_fs(mnt);
}

/* max-partitions: creating one more partition than allowed is refused
 * with 429 and a message naming the option, existing ones keep working
 * (also after a restart), and stats report what the index files cost. */
SL_TEST(broker_max_partitions_refused_with_429) {
    broker_t b = {0};
    for (int round = 0; round < 2; round++) {
        const char *const flags[] = {"--max-partitions", "5",
                                     "--checkpoint-interval", "100ms", NULL};
        sl_harness_broker_start(&b, flags, 10000);
        raw_t r;
        raw_connect(&r, &b);
        char req[128], want[128];
        for (int i = 0; i < 5; i++) {
            snprintf(req, sizeof req, "put %d t part%d 2\r\nhi\r\n", i, i);
            /* part0 got a second message in the first round. */
            snprintf(want, sizeof want, "200 %d %d", i,
                     round == 0 ? 0
                     : i == 0   ? 2
                                : 1);
            SL_CHECK_STR(raw_cmd(&r, req), want);
        }
        SL_CHECK_STR(raw_cmd(&r, "put 7 t part5 2\r\nhi\r\n"),
                     "429 7 partition limit reached (max-partitions 5)");
        /* The refused put's payload was consumed: the connection goes on. */
        snprintf(want, sizeof want, "200 8 %d", round == 0 ? 1 : 3);
        SL_CHECK_STR(raw_cmd(&r, "put 8 t part0 2\r\nhi\r\n"), want);
        SL_CHECK_STR(raw_cmd(&r, "offsets 9 t part5\r\n"),
                     "404 9 unknown partition");
        SL_CHECK(stat_u64(&r, "partitions") == 5);
        SL_CHECK(stat_u64(&r, "max_partitions") == 5);
        /* After a checkpoint every partition has its index file. */
        uint64_t files = 0;
        for (int w = 0; w < 500 && files < 5; w++) {
            sl_harness_sleep_ms(20);
            files = stat_u64(&r, "index_files");
        }
        SL_CHECK_UINT(files, 5);
        uint64_t bytes = stat_u64(&r, "index_bytes");
        uint64_t disk = stat_u64(&r, "index_disk_bytes");
        SL_CHECK(bytes >= 5 * 40 && bytes % 40 == 0);
        SL_CHECK(disk >= bytes && disk % 5 == 0);
        SL_CHECK_UINT(stat_u64(&r, "index_disk_bytes_per_partition"), disk / 5);
        close(r.fd);
        SL_CHECK_INT(sl_harness_stop(b.pid, SIGTERM, 10000), 0);
    }
}
