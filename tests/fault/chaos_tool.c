/*
 * The helper of the chaos test (tests/fault/chaos.sh drives it; see
 * docs/chaos.md). One program, two jobs, chosen by CHAOS_MODE:
 *
 *   workload  CHAOS_WORKERS processes, each with its own connection to the
 *             source and its own keys, run seeded random transactions for
 *             CHAOS_SECONDS at about CHAOS_RATE transactions per second in
 *             total: inserts, updates, primary-key changes, deletes,
 *             multi-row statements, multi-table transactions, a keyless
 *             table, and rolled-back transactions. Every committed
 *             transaction also inserts its number into chaos.ledger, and
 *             the number is appended to CHAOS_DIR/acks.W once COMMIT
 *             returned OK: that file is what the workload saw committed.
 *
 *   verify    Waits (bounded) until capture's checkpoint reaches the
 *             source's end and apply's offsets reach every partition's end,
 *             then checks: each target table equals its source table (a
 *             hash over all rows in key order, computed by each server);
 *             each partition equals what `sluice-capture --from-file`
 *             decodes from the source's binlogs (grouped by table, commit
 *             events in every partition a transaction touched), with
 *             contiguous offsets and strictly increasing source
 *             coordinates (file, pos, row); every acknowledged transaction
 *             is in the source's, the target's and the broker's ledger.
 *             Each check prints "CHECK ok NAME detail" or
 *             "CHECK fail NAME detail"; the script turns them into PASS and
 *             FAIL lines.
 *
 * Without CHAOS_MODE (the integration runner runs every program in
 * tests/fault/) it skips: it is not a test by itself.
 */
#include "buf.h"
#include "client.h"
#include "error.h"
#include "harness.h"
#include "jsonread.h"
#include "sl_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *env_or(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ */
/* Workload                                                            */
/* ------------------------------------------------------------------ */

/* A splitmix64 stream: the same seed gives the same transactions. */
static uint64_t rnd_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int rnd_below(uint64_t *state, int n) {
    return n <= 1 ? 0 : (int)(rnd_next(state) % (uint64_t)n);
}

typedef struct {
    int64_t *ids;
    size_t n, cap;
} idset_t;

static void idset_add(idset_t *s, int64_t id) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->ids = realloc(s->ids, s->cap * sizeof *s->ids);
        if (s->ids == NULL)
            abort();
    }
    s->ids[s->n++] = id;
}

static void idset_del_at(idset_t *s, size_t i) { s->ids[i] = s->ids[--s->n]; }

/* One worker's view of its own rows (no other worker touches them, so the
 * view is exact while every transaction's outcome is known). */
typedef struct {
    int w, nworkers;
    uint64_t rng;
    MYSQL *mysql;
    idset_t acct, item, pair;
    int64_t next_key; /* Key counter: keys are w + nworkers * counter. */
    int64_t owner_seq;
    /* Statistics. */
    long committed, rolled_back, failed, rows, reconnects;
    long kinds[8];
    int ackfd;
    char err[512];
} worker_t;

static int64_t new_key(worker_t *wk) {
    return (int64_t)wk->w + (int64_t)wk->nworkers * wk->next_key++;
}

/* Runs one statement; adds its affected rows. Returns 0 or -1 (wk->err). */
static int wexec(worker_t *wk, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int wexec(worker_t *wk, const char *fmt, ...) {
    static char sql[1 << 18];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (mysql_query(wk->mysql, sql) != 0) {
        snprintf(wk->err, sizeof wk->err, "%u %s", mysql_errno(wk->mysql),
                 mysql_error(wk->mysql));
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(wk->mysql);
    if (res != NULL)
        mysql_free_result(res);
    else
        wk->rows += (long)mysql_affected_rows(wk->mysql);
    return 0;
}

static MYSQL *wconnect(const char *db) {
    MYSQL *m = mysql_init(NULL);
    unsigned timeout = 10;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    if (mysql_real_connect(m, "127.0.0.1", getenv("SL_SOURCE_USER"),
                           sl_harness_password("SOURCE"), db,
                           sl_harness_port("SOURCE"), NULL, 0) == NULL) {
        mysql_close(m);
        return NULL;
    }
    /* Read committed: no gap locks between the workers' key ranges. */
    mysql_query(m, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    mysql_query(m, "SET SESSION innodb_lock_wait_timeout = 5");
    return m;
}

static int load_ids(worker_t *wk, const char *sql, idset_t *s) {
    s->n = 0;
    if (mysql_query(wk->mysql, sql) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(wk->mysql);
    if (res == NULL)
        return -1;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL)
        idset_add(s, strtoll(row[0], NULL, 10));
    mysql_free_result(res);
    return 0;
}

/* Re-reads the worker's rows from the source: after an error the outcome
 * of the failed transaction is whatever the source says. */
static int reload(worker_t *wk) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id FROM acct WHERE id %% %d = %d",
             wk->nworkers, wk->w);
    if (load_ids(wk, sql, &wk->acct) != 0)
        return -1;
    snprintf(sql, sizeof sql, "SELECT id FROM item WHERE id %% %d = %d",
             wk->nworkers, wk->w);
    if (load_ids(wk, sql, &wk->item) != 0)
        return -1;
    snprintf(sql, sizeof sql, "SELECT b FROM pair WHERE a = %d", wk->w);
    if (load_ids(wk, sql, &wk->pair) != 0)
        return -1;
    return 0;
}

static int64_t pick(worker_t *wk, idset_t *s) {
    return s->ids[rnd_below(&wk->rng, (int)s->n)];
}

/* One random transaction's statements (without BEGIN/COMMIT). The model
 * changes are staged in *next and adopted only when COMMIT succeeded. */
typedef struct {
    idset_t acct, item, pair;
} model_t;

static void model_copy(model_t *dst, const worker_t *wk) {
    dst->acct.n = dst->item.n = dst->pair.n = 0;
    for (size_t i = 0; i < wk->acct.n; i++)
        idset_add(&dst->acct, wk->acct.ids[i]);
    for (size_t i = 0; i < wk->item.n; i++)
        idset_add(&dst->item, wk->item.ids[i]);
    for (size_t i = 0; i < wk->pair.n; i++)
        idset_add(&dst->pair, wk->pair.ids[i]);
}

static void model_adopt(worker_t *wk, model_t *m) {
    idset_t t;
    t = wk->acct, wk->acct = m->acct, m->acct = t;
    t = wk->item, wk->item = m->item, m->item = t;
    t = wk->pair, wk->pair = m->pair, m->pair = t;
}

static int insert_acct(worker_t *wk, model_t *m) {
    int64_t id = new_key(wk);
    wk->owner_seq++;
    if (wexec(wk,
              "INSERT INTO acct VALUES (%lld, 'w%d-o%lld', %d.%02d, "
              "'note \\'%lld\\' é\\\\', NOW(6))",
              (long long)id, wk->w, (long long)wk->owner_seq,
              rnd_below(&wk->rng, 100000), rnd_below(&wk->rng, 100),
              (long long)id) != 0)
        return -1;
    idset_add(&m->acct, id);
    return 0;
}

static int insert_items(worker_t *wk, model_t *m, int64_t acct, int n) {
    static char sql[1 << 18];
    size_t len = (size_t)snprintf(sql, sizeof sql, "INSERT INTO item VALUES ");
    for (int i = 0; i < n && len < sizeof sql - 400; i++) {
        int64_t id = new_key(wk);
        len += (size_t)snprintf(
            sql + len, sizeof sql - len,
            "%s(%lld, %lld, %d, 't%d', REPEAT('b', %d))", i ? "," : "",
            (long long)id, (long long)acct, rnd_below(&wk->rng, 1000),
            rnd_below(&wk->rng, 50), rnd_below(&wk->rng, 300));
        idset_add(&m->item, id);
    }
    return wexec(wk, "%s", sql);
}

static int run_kind(worker_t *wk, model_t *m, int kind) {
    uint64_t *r = &wk->rng;
    switch (kind) {
    case 0: /* New accounts with items: a multi-table transaction. */
        for (int i = 0, n = 1 + rnd_below(r, 2); i < n; i++) {
            if (insert_acct(wk, m) != 0)
                return -1;
            if (insert_items(wk, m, m->acct.ids[m->acct.n - 1],
                             1 + rnd_below(r, 4)) != 0)
                return -1;
        }
        if (rnd_below(r, 2) == 0) {
            int64_t b = new_key(wk);
            if (wexec(wk, "INSERT INTO pair VALUES (%d, %lld, %d)", wk->w,
                      (long long)b, rnd_below(r, 1000)) != 0)
                return -1;
            idset_add(&m->pair, b);
        }
        return 0;
    case 1: /* A transfer between two accounts, and an item's quantity. */
        if (m->acct.n < 2 || m->item.n == 0)
            return run_kind(wk, m, 0);
        {
            int amount = 1 + rnd_below(r, 500);
            if (wexec(wk,
                      "UPDATE acct SET bal = bal - %d, ts = NOW(6) "
                      "WHERE id = %lld",
                      amount, (long long)pick(wk, &m->acct)) != 0 ||
                wexec(wk,
                      "UPDATE acct SET bal = bal + %d, note = "
                      "CONCAT(LEFT(IFNULL(note, ''), 150), '+') "
                      "WHERE id = %lld",
                      amount, (long long)pick(wk, &m->acct)) != 0 ||
                wexec(wk,
                      "UPDATE item SET qty = qty + 1, tag = NULL "
                      "WHERE id = %lld",
                      (long long)pick(wk, &m->item)) != 0)
                return -1;
        }
        return 0;
    case 2: /* Primary-key changes: an account, its items' reference, a
             * composite key. */
        if (m->acct.n == 0)
            return run_kind(wk, m, 0);
        {
            size_t i = (size_t)rnd_below(r, (int)m->acct.n);
            int64_t old = m->acct.ids[i], id = new_key(wk);
            if (wexec(wk, "UPDATE acct SET id = %lld WHERE id = %lld",
                      (long long)id, (long long)old) != 0 ||
                wexec(wk, "UPDATE item SET acct = %lld WHERE acct = %lld",
                      (long long)id, (long long)old) != 0)
                return -1;
            m->acct.ids[i] = id;
            if (m->item.n > 0) {
                size_t j = (size_t)rnd_below(r, (int)m->item.n);
                int64_t nid = new_key(wk);
                if (wexec(wk, "UPDATE item SET id = %lld WHERE id = %lld",
                          (long long)nid, (long long)m->item.ids[j]) != 0)
                    return -1;
                m->item.ids[j] = nid;
            }
            if (m->pair.n > 0) {
                size_t j = (size_t)rnd_below(r, (int)m->pair.n);
                int64_t nb = new_key(wk);
                if (wexec(wk,
                          "UPDATE pair SET b = %lld, v = v + 1 WHERE "
                          "a = %d AND b = %lld",
                          (long long)nb, wk->w, (long long)m->pair.ids[j]) != 0)
                    return -1;
                m->pair.ids[j] = nb;
            }
        }
        return 0;
    case 3: /* Deletes: an account with its items, a pair row. */
        if (m->acct.n < 5)
            return run_kind(wk, m, 0);
        {
            size_t i = (size_t)rnd_below(r, (int)m->acct.n);
            int64_t id = m->acct.ids[i];
            /* The items go too; which ids they had is re-read below. */
            if (wexec(wk, "DELETE FROM item WHERE acct = %lld",
                      (long long)id) != 0 ||
                wexec(wk, "DELETE FROM acct WHERE id = %lld", (long long)id) !=
                    0)
                return -1;
            idset_del_at(&m->acct, i);
            if (m->pair.n > 3) {
                size_t j = (size_t)rnd_below(r, (int)m->pair.n);
                if (wexec(wk, "DELETE FROM pair WHERE a = %d AND b = %lld",
                          wk->w, (long long)m->pair.ids[j]) != 0)
                    return -1;
                idset_del_at(&m->pair, j);
            }
        }
        return 1; /* The item set must be re-read after commit. */
    case 4:       /* Bulk: one multi-row insert, one multi-row update. */
        if (m->acct.n == 0)
            return run_kind(wk, m, 0);
        if (insert_items(wk, m, pick(wk, &m->acct), 20 + rnd_below(r, 60)) !=
                0 ||
            wexec(wk,
                  "UPDATE item SET qty = qty * 2 %% 100000, tag = 'bulk' "
                  "WHERE id %% %d = %d AND qty < %d LIMIT 50",
                  wk->nworkers, wk->w, rnd_below(r, 1000)) != 0)
            return -1;
        return 0;
    case 5: /* The keyless table: duplicates, deletes of one of them. */
    {
        int k = wk->w * 1000 + rnd_below(r, 20);
        if (wexec(wk, "INSERT INTO bag VALUES (%d, 'v%d'), (%d, 'v%d')", k,
                  k % 3, k, k % 3) != 0 ||
            wexec(wk,
                  "DELETE FROM bag WHERE k = %d AND v = 'v%d' "
                  "LIMIT 1",
                  wk->w * 1000 + rnd_below(r, 20), rnd_below(r, 3)) != 0 ||
            wexec(wk, "UPDATE bag SET v = 'v%d' WHERE k = %d LIMIT 1",
                  rnd_below(r, 3), wk->w * 1000 + rnd_below(r, 20)) != 0)
            return -1;
    }
        return 0;
    case 6: /* A big transaction: up to ~2,000 rows in one statement, so
             * that kills land inside transactions being streamed. */
        if (m->acct.n == 0)
            return run_kind(wk, m, 0);
        if (rnd_below(r, 2) == 0 || m->item.n < 500)
            return insert_items(wk, m, pick(wk, &m->acct),
                                500 + rnd_below(r, 1500));
        {
            int64_t lo = pick(wk, &m->item);
            return wexec(wk,
                         "UPDATE item SET qty = qty + 1 WHERE id BETWEEN "
                         "%lld AND %lld AND id %% %d = %d",
                         (long long)lo, (long long)lo + 2000 * wk->nworkers,
                         wk->nworkers, wk->w);
        }
    default: return 0;
    }
}

/* Appends a number to the worker's ack file, one write per line, so a
 * killed workload never leaves half a line. */
static void ack(worker_t *wk, int64_t n) {
    char line[32];
    int len = snprintf(line, sizeof line, "%lld\n", (long long)n);
    if (write(wk->ackfd, line, (size_t)len) != len)
        abort();
}

/* Reconnects (bounded) and settles an uncertain COMMIT by the ledger. */
static int recover(worker_t *wk, int64_t trx, int commit_sent, long rows) {
    mysql_close(wk->mysql);
    wk->mysql = NULL;
    for (int i = 0; i < 300 && wk->mysql == NULL; i++) {
        wk->mysql = wconnect(env_or("CHAOS_DB", "chaos"));
        if (wk->mysql == NULL)
            sleep_s(0.1);
    }
    if (wk->mysql == NULL)
        return -1;
    wk->reconnects++;
    if (commit_sent) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "SELECT COUNT(*) FROM ledger WHERE trx = "
                 "%lld",
                 (long long)trx);
        char *v = sl_harness_query_value(wk->mysql, sql);
        if (v != NULL && strcmp(v, "1") == 0) {
            ack(wk, trx);
            wk->committed++;
            wk->rows += rows;
        }
        free(v);
    }
    return reload(wk);
}

static int worker_main(int w, int nworkers, uint64_t seed, double seconds,
                       double rate) {
    worker_t wk;
    memset(&wk, 0, sizeof wk);
    wk.w = w;
    wk.nworkers = nworkers;
    wk.rng = seed * 1000003u + (uint64_t)w;
    char path[1024];
    snprintf(path, sizeof path, "%s/acks.%d", env_or("CHAOS_DIR", "."), w);
    wk.ackfd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (wk.ackfd < 0)
        return 1;
    wk.mysql = wconnect(env_or("CHAOS_DB", "chaos"));
    if (wk.mysql == NULL || reload(&wk) != 0)
        return 1;
    wk.next_key = 1;
    model_t m;
    memset(&m, 0, sizeof m);
    double start = now_s(), interval = (double)nworkers / rate;
    /* CHAOS_BIG=0 leaves out the multi-row kinds (bulk, big). */
    int weights[] = {30, 25, 12, 10, 6, 10, 1};
    if (strcmp(env_or("CHAOS_BIG", "1"), "0") == 0)
        weights[4] = weights[6] = 0;
    int total = 0;
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++)
        total += weights[i];
    for (int64_t k = 0; now_s() - start < seconds; k++) {
        double due = start + (double)k * interval;
        if (due - now_s() > 0)
            sleep_s(due - now_s());
        else if (now_s() - due > 1.0)
            /* Far behind: do not burst, start the schedule again. */
            start = now_s() - (double)k * interval;
        int64_t trx = (int64_t)k * nworkers + w + 1;
        int roll = rnd_below(&wk.rng, total), kind = 0;
        while (roll >= weights[kind])
            roll -= weights[kind++];
        int rollback = rnd_below(&wk.rng, 25) == 0;
        model_copy(&m, &wk);
        long rows_before = wk.rows;
        int rc = wexec(&wk, "BEGIN");
        int reread = 0;
        if (rc == 0) {
            rc = run_kind(&wk, &m, kind);
            if (rc == 1) {
                reread = 1;
                rc = 0;
            }
        }
        if (rc == 0 && !rollback)
            rc = wexec(&wk, "INSERT INTO ledger VALUES (%lld, %d, %d, NOW(6))",
                       (long long)trx, w, kind);
        if (rc == 0 && rollback) {
            wk.rows = rows_before;
            if (wexec(&wk, "ROLLBACK") == 0) {
                wk.rolled_back++;
                continue;
            }
            rc = -1;
        }
        int commit_sent = 0;
        if (rc == 0) {
            commit_sent = 1;
            rc = wexec(&wk, "COMMIT");
        }
        if (rc == 0) {
            ack(&wk, trx);
            wk.committed++;
            wk.kinds[kind]++;
            model_adopt(&wk, &m);
            if (!reread || reload(&wk) == 0)
                continue;
            /* Committed and acknowledged; only the re-read failed. */
            if (recover(&wk, trx, 0, 0) != 0) {
                fprintf(stderr, "workload %d: cannot reconnect\n", w);
                return 1;
            }
            continue;
        }
        wk.failed++;
        long trx_rows = wk.rows - rows_before;
        wk.rows = rows_before;
        fprintf(stderr, "workload %d: transaction %lld: %s\n", w,
                (long long)trx, wk.err);
        if (recover(&wk, trx, commit_sent, trx_rows) != 0) {
            fprintf(stderr, "workload %d: cannot reconnect\n", w);
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/workload.%d", env_or("CHAOS_DIR", "."), w);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "%ld %ld %ld %ld %ld", wk.committed, wk.rolled_back, wk.failed,
            wk.rows, wk.reconnects);
    for (int i = 0; i < 7; i++)
        fprintf(f, " %ld", wk.kinds[i]);
    fprintf(f, "\n");
    fclose(f);
    close(wk.ackfd);
    mysql_close(wk.mysql);
    return wk.failed > 0 ? 3 : 0;
}

static void workload(void) {
    int nworkers = atoi(env_or("CHAOS_WORKERS", "3"));
    uint64_t seed = strtoull(env_or("CHAOS_SEED", "1"), NULL, 10);
    double seconds = atof(env_or("CHAOS_SECONDS", "10"));
    double rate = atof(env_or("CHAOS_RATE", "100"));
    SL_CHECK(nworkers >= 1 && nworkers <= 16 && rate > 0);
    pid_t pids[16];
    fflush(stdout);
    for (int w = 0; w < nworkers; w++) {
        pids[w] = fork();
        SL_CHECK(pids[w] >= 0);
        if (pids[w] == 0)
            _exit(worker_main(w, nworkers, seed, seconds, rate));
    }
    int bad = 0, errors = 0;
    for (int w = 0; w < nworkers; w++) {
        int status = 0;
        waitpid(pids[w], &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
            errors++;
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad++;
    }
    long sum[12] = {0};
    for (int w = 0; w < nworkers; w++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/workload.%d", env_or("CHAOS_DIR", "."),
                 w);
        FILE *f = fopen(path, "r");
        long v[12] = {0};
        if (f != NULL) {
            for (int i = 0; i < 12; i++)
                if (fscanf(f, "%ld", &v[i]) != 1)
                    break;
            fclose(f);
        }
        for (int i = 0; i < 12; i++)
            sum[i] += v[i];
    }
    printf("# workload: %ld transactions committed, %ld rolled back, %ld "
           "failed (%ld reconnects), %ld rows changed; by kind: new %ld, "
           "transfer %ld, pk-change %ld, delete %ld, bulk %ld, keyless %ld, "
           "big %ld\n",
           sum[0], sum[1], sum[2], sum[4], sum[3], sum[5], sum[6], sum[7],
           sum[8], sum[9], sum[10], sum[11]);
    printf("WORKLOAD committed=%ld rolled_back=%ld failed=%ld rows=%ld\n",
           sum[0], sum[1], sum[2], sum[3]);
    if (errors > 0)
        printf("# workload: %d workers saw errors (see workload.err)\n",
               errors);
    SL_CHECK_INT(bad, 0);
}

/* ------------------------------------------------------------------ */
/* Verify                                                              */
/* ------------------------------------------------------------------ */

static int nfail;

static void check(int ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check(int ok, const char *name, const char *fmt, ...) {
    char detail[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    printf("CHECK %s %s %s\n", ok ? "ok" : "fail", name, detail);
    fflush(stdout);
    if (!ok)
        nfail++;
}

static const char *const tables[] = {"acct", "item", "pair", "bag", "ledger"};
#define NTABLES 5

/* Per table: the row count and an MD5 over the rows' MD5s in key order,
 * every column included; both servers compute it. */
#define ROWHASH(cols, order, table)                                            \
    "SELECT CONCAT(COUNT(*), ':', "                                            \
    "IFNULL(MD5(GROUP_CONCAT(MD5(CONCAT_WS('|', " cols ")) ORDER BY " order    \
    " SEPARATOR '')), '-')) FROM %s." table
static const char *const hashes[NTABLES] = {
    ROWHASH("id, owner, bal, note, ts", "id", "acct"),
    ROWHASH("id, acct, qty, IFNULL(tag, 'NULL'), body", "id", "item"),
    ROWHASH("a, b, v", "a, b", "pair"),
    ROWHASH("k, v", "k, v", "bag"),
    ROWHASH("trx, worker, kind, ts", "trx", "ledger"),
};

/* Like sl_harness_query_value, but an error is a NULL (the target may be
 * restarting while we poll). */
static char *try_value(MYSQL *m, const char *sql) {
    if (m == NULL || mysql_query(m, sql) != 0)
        return NULL;
    MYSQL_RES *res = mysql_store_result(m);
    if (res == NULL)
        return NULL;
    MYSQL_ROW row = mysql_fetch_row(res);
    char *v = row != NULL && row[0] != NULL ? strdup(row[0]) : NULL;
    mysql_free_result(res);
    return v;
}

static int checkpoint_at(sl_client_t *cl, const char *name, const char *file,
                         const char *pos) {
    uint64_t earliest, latest;
    if (sl_client_offsets(cl, "__sluice_capture", name, &earliest, &latest) !=
            0 ||
        latest == 0)
        return 0;
    sl_client_fetch_t fetch;
    if (sl_client_get(cl, "__sluice_capture", name, latest - 1, 1 << 16, 0,
                      &fetch) != 0 ||
        fetch.count < 1)
        return 0;
    char want[300];
    snprintf(want, sizeof want, "\"file\":\"%s\",\"pos\":%s", file, pos);
    return memmem(fetch.recs[0].data, fetch.recs[0].len, want, strlen(want)) !=
           NULL;
}

/* How many events the offline decoder finds in the source's binlogs from
 * file:pos on: none means nothing is left to capture (a source that
 * restarted after a crash writes a Binlog_checkpoint event after its last
 * transaction, which no checkpoint of capture's needs to pass). */
static long events_after(const char *file, const char *pos) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && ls binlog.[0-9]* | awk '$0 >= \"%s\"' | "
             "xargs '%s' --start-position %s --from-file | wc -l",
             getenv("SL_SOURCE_DATADIR"), file,
             sl_harness_bin("sluice-capture"), pos);
    FILE *pipe = popen(cmd, "r");
    long n = -1;
    if (pipe != NULL) {
        if (fscanf(pipe, "%ld", &n) != 1)
            n = -1;
        pclose(pipe);
    }
    return n;
}

/* The checkpoint's file and pos, or 0 when there is none. */
static int checkpoint_of(sl_client_t *cl, const char *name, char *file,
                         size_t filelen, char *pos, size_t poslen) {
    uint64_t earliest, latest;
    if (sl_client_offsets(cl, "__sluice_capture", name, &earliest, &latest) !=
            0 ||
        latest == 0)
        return 0;
    sl_client_fetch_t fetch;
    if (sl_client_get(cl, "__sluice_capture", name, latest - 1, 1 << 16, 0,
                      &fetch) != 0 ||
        fetch.count < 1)
        return 0;
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    int ok = sl_jr_parse(&doc, (const char *)fetch.recs[0].data,
                         fetch.recs[0].len) == 0;
    uint64_t p = 0;
    if (ok) {
        uint32_t tok = sl_jr_get(&doc, 0, "file");
        size_t len = 0;
        const char *raw = tok != SL_JR_NONE ? sl_jr_raw(&doc, tok, &len) : "";
        snprintf(file, filelen, "%.*s", (int)len, raw);
        ok = sl_jr_u64(&doc, sl_jr_get(&doc, 0, "pos"), &p) == 0;
        snprintf(pos, poslen, "%llu", (unsigned long long)p);
    }
    sl_jr_free(&doc);
    return ok;
}

typedef struct {
    char name[128];
    uint64_t latest;
} partinfo_t;

static size_t list_parts(sl_client_t *cl, const char *topic, partinfo_t *parts,
                         size_t max) {
    sl_buf_t out;
    sl_buf_init(&out);
    size_t n = 0;
    if (sl_client_partitions(cl, topic, &out) == 0) {
        char *text = strndup((const char *)out.data, out.len);
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line != NULL && n < max;
             line = strtok_r(NULL, "\n", &save)) {
            char t[128], p[128];
            unsigned long long e, l;
            if (sscanf(line, "%127s %127s %llu %llu", t, p, &e, &l) == 4 &&
                strcmp(t, topic) == 0) {
                snprintf(parts[n].name, sizeof parts[n].name, "%s", p);
                parts[n].latest = l;
                n++;
            }
        }
        free(text);
    }
    sl_buf_free(&out);
    return n;
}

/* The decoder counts transactions from where it started, so "trx.seq"
 * differs between a live run that restarted and one offline pass; it is
 * removed before comparing. */
static void strip_seq(char *s) {
    char *p = strstr(s, "\"trx\":{\"seq\":");
    if (p == NULL)
        return;
    char *digits = p + strlen("\"trx\":{\"seq\":");
    char *end = digits;
    while (*end >= '0' && *end <= '9')
        end++;
    if (*end == ',')
        end++;
    memmove(digits - strlen("\"seq\":"), end, strlen(end) + 1);
}

static void str_member(sl_jr_doc_t *doc, uint32_t obj, const char *name,
                       char *out, size_t outlen) {
    uint32_t tok = sl_jr_get(doc, obj, name);
    size_t len = 0;
    const char *raw = "";
    if (tok != SL_JR_NONE && sl_jr_type(doc, tok) == SL_JR_STRING)
        raw = sl_jr_raw(doc, tok, &len);
    snprintf(out, outlen, "%.*s", (int)len, raw);
}

/* Splits the offline decoder's output into one file per partition (the
 * table), the way capture routes it. Returns the number of row events. */
static long oracle(const char *dir, const char *db, const char *start_file,
                   const char *start_pos) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && ls binlog.[0-9]* | awk '$0 >= \"%s\"' | "
             "xargs '%s' --start-position %s --from-file",
             getenv("SL_SOURCE_DATADIR"), start_file,
             sl_harness_bin("sluice-capture"), start_pos);
    FILE *pipe = popen(cmd, "r");
    SL_CHECK(pipe != NULL);
    FILE *files[NTABLES] = {NULL};
    for (int t = 0; t < NTABLES; t++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/oracle.%s.%s", dir, db, tables[t]);
        files[t] = fopen(path, "w");
        SL_CHECK(files[t] != NULL);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    int touched[NTABLES] = {0};
    long rows = 0;
    while ((n = getline(&line, &cap, pipe)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        SL_CHECK_OK(sl_jr_parse(&doc, line, (size_t)n));
        char kind[32], evdb[128], table[128];
        str_member(&doc, 0, "kind", kind, sizeof kind);
        if (strcmp(kind, "begin") == 0) {
            memset(touched, 0, sizeof touched);
        } else if (strcmp(kind, "row") == 0) {
            str_member(&doc, 0, "db", evdb, sizeof evdb);
            str_member(&doc, 0, "table", table, sizeof table);
            if (strcmp(evdb, db) != 0)
                continue;
            int t = 0;
            while (t < NTABLES && strcmp(tables[t], table) != 0)
                t++;
            SL_CHECK(t < NTABLES);
            strip_seq(line);
            fprintf(files[t], "%s\n", line);
            touched[t] = 1;
            rows++;
        } else if (strcmp(kind, "commit") == 0 ||
                   strcmp(kind, "rollback") == 0 ||
                   strcmp(kind, "xa_prepare") == 0) {
            strip_seq(line);
            for (int t = 0; t < NTABLES; t++)
                if (touched[t])
                    fprintf(files[t], "%s\n", line);
            memset(touched, 0, sizeof touched);
        }
    }
    free(line);
    sl_jr_free(&doc);
    for (int t = 0; t < NTABLES; t++)
        SL_CHECK(fclose(files[t]) == 0);
    SL_CHECK_INT(pclose(pipe), 0);
    return rows;
}

/* Source coordinates of one message, for the order check. */
typedef struct {
    char file[128];
    uint64_t pos;
    int64_t row;
} coord_t;

static int coord_cmp(const coord_t *a, const coord_t *b) {
    int c = strcmp(a->file, b->file);
    if (c != 0)
        return c;
    if (a->pos != b->pos)
        return a->pos < b->pos ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

typedef struct {
    long messages, rows, commits;
    long order_errors, offset_gaps, differ;
    char first_diff[1536];
    char first_order[512];
    int64_t *ledger; /* trx numbers inserted into the ledger partition */
    size_t nledger, capledger;
} partcheck_t;

static void note_ledger(partcheck_t *pc, sl_jr_doc_t *doc) {
    uint32_t after = sl_jr_get(doc, 0, "after");
    uint64_t trx;
    char op[16];
    str_member(doc, 0, "op", op, sizeof op);
    if (strcmp(op, "insert") != 0 || after == SL_JR_NONE ||
        sl_jr_u64(doc, sl_jr_get(doc, after, "trx"), &trx) != 0)
        return;
    if (pc->nledger == pc->capledger) {
        pc->capledger = pc->capledger ? pc->capledger * 2 : 4096;
        pc->ledger = realloc(pc->ledger, pc->capledger * sizeof *pc->ledger);
        SL_CHECK(pc->ledger != NULL);
    }
    pc->ledger[pc->nledger++] = (int64_t)trx;
}

/* Reads a partition from offset 0 and compares it, message by message,
 * with the oracle file; checks offsets and source coordinates. */
static void check_partition(sl_client_t *cl, const char *topic,
                            const char *part, const char *oracle_path,
                            partcheck_t *pc) {
    FILE *want = fopen(oracle_path, "r");
    SL_CHECK(want != NULL);
    char *wline = NULL, *got = NULL;
    size_t wcap = 0, gotcap = 0;
    sl_jr_doc_t doc;
    sl_jr_init(&doc);
    coord_t last = {"", 0, -1};
    int have_last = 0;
    uint64_t offset = 0;
    int done = 0;
    for (long guard = 0; guard < 100000000 && !done; guard++) {
        sl_client_fetch_t fetch;
        int rc = sl_client_get(cl, topic, part, offset, 1 << 20, 0, &fetch);
        if (rc == SL_ERANGE || rc == SL_ENOTFOUND ||
            (rc == 0 && fetch.count == 0))
            break;
        if (rc != 0)
            sl_test_fail(__FILE__, __LINE__, "get %s at %llu: %s", part,
                         (unsigned long long)offset, sl_client_error(cl));
        for (size_t i = 0; i < fetch.count; i++) {
            const sl_client_rec_t *rec = &fetch.recs[i];
            if (rec->offset != offset + i) {
                pc->offset_gaps++;
            }
            if (gotcap < rec->len + 1) {
                gotcap = rec->len + 1;
                got = realloc(got, gotcap);
                SL_CHECK(got != NULL);
            }
            memcpy(got, rec->data, rec->len);
            got[rec->len] = '\0';
            pc->messages++;
            if (sl_jr_parse(&doc, got, rec->len) != 0) {
                pc->order_errors++;
                continue;
            }
            char kind[32];
            str_member(&doc, 0, "kind", kind, sizeof kind);
            coord_t c = {"", 0, 0};
            uint32_t src = sl_jr_get(&doc, 0, "src");
            str_member(&doc, src, "file", c.file, sizeof c.file);
            sl_jr_u64(&doc, sl_jr_get(&doc, src, "pos"), &c.pos);
            if (strcmp(kind, "row") == 0) {
                sl_jr_i64(&doc, sl_jr_get(&doc, 0, "row"), &c.row);
                pc->rows++;
                if (strcmp(part + strlen(part) - 7, ".ledger") == 0)
                    note_ledger(pc, &doc);
            } else if (strcmp(kind, "commit") == 0) {
                pc->commits++;
            }
            if (have_last && coord_cmp(&last, &c) >= 0) {
                if (pc->order_errors++ == 0)
                    snprintf(pc->first_order, sizeof pc->first_order,
                             "offset %llu (%s:%llu row %lld) does not follow "
                             "%s:%llu row %lld",
                             (unsigned long long)rec->offset, c.file,
                             (unsigned long long)c.pos, (long long)c.row,
                             last.file, (unsigned long long)last.pos,
                             (long long)last.row);
            }
            last = c;
            have_last = 1;
            strip_seq(got);
            ssize_t wn = getline(&wline, &wcap, want);
            if (wn > 0 && wline[wn - 1] == '\n')
                wline[--wn] = '\0';
            if (wn <= 0 || strcmp(wline, got) != 0) {
                if (pc->differ++ == 0)
                    snprintf(pc->first_diff, sizeof pc->first_diff,
                             "offset %llu:\n  broker %.600s\n  binlog %.600s",
                             (unsigned long long)rec->offset, got,
                             wn > 0 ? wline
                                    : "(nothing: the binlog has fewer "
                                      "messages)");
            }
        }
        offset = fetch.next;
    }
    /* Whatever the oracle has beyond the partition's end is missing. */
    ssize_t wn;
    while ((wn = getline(&wline, &wcap, want)) > 0) {
        if (pc->differ++ == 0) {
            if (wline[wn - 1] == '\n')
                wline[--wn] = '\0';
            snprintf(pc->first_diff, sizeof pc->first_diff,
                     "offset %llu: the partition ends; the binlog has "
                     "%.600s",
                     (unsigned long long)offset, wline);
        }
    }
    sl_jr_free(&doc);
    free(wline);
    free(got);
    fclose(want);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t *read_acks(const char *dir, int nworkers, size_t *n) {
    size_t cap = 4096;
    int64_t *acks = malloc(cap * sizeof *acks);
    *n = 0;
    for (int w = 0; w < nworkers; w++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/acks.%d", dir, w);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        long long v;
        while (fscanf(f, "%lld", &v) == 1) {
            if (*n == cap) {
                cap *= 2;
                acks = realloc(acks, cap * sizeof *acks);
            }
            acks[(*n)++] = v;
        }
        fclose(f);
    }
    qsort(acks, *n, sizeof *acks, cmp_i64);
    return acks;
}

/* How many of the sorted acks are missing from the sorted have[]. */
static size_t missing(const int64_t *acks, size_t nacks, const int64_t *have,
                      size_t nhave, int64_t *first) {
    size_t miss = 0, j = 0;
    for (size_t i = 0; i < nacks; i++) {
        while (j < nhave && have[j] < acks[i])
            j++;
        if (j == nhave || have[j] != acks[i]) {
            if (miss++ == 0)
                *first = acks[i];
        }
    }
    return miss;
}

static int64_t *ledger_of(MYSQL *m, const char *db, size_t *n) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT trx FROM %s.ledger ORDER BY trx", db);
    *n = 0;
    if (mysql_query(m, sql) != 0)
        return NULL;
    MYSQL_RES *res = mysql_store_result(m);
    if (res == NULL)
        return NULL;
    int64_t *v = malloc((mysql_num_rows(res) + 1) * sizeof *v);
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL)
        v[(*n)++] = strtoll(row[0], NULL, 10);
    mysql_free_result(res);
    return v;
}

static void verify(void) {
    const char *dir = env_or("CHAOS_DIR", ".");
    const char *db = env_or("CHAOS_DB", "chaos");
    const char *dst = env_or("CHAOS_DST", "chaos_dst");
    const char *meta = env_or("CHAOS_META", "chaos_meta");
    const char *topic = env_or("CHAOS_TOPIC", "chaos");
    const char *group = env_or("CHAOS_GROUP", "chaos");
    const char *broker = getenv("CHAOS_BROKER");
    const char *start_file = getenv("CHAOS_START_FILE");
    const char *start_pos = getenv("CHAOS_START_POS");
    double bound = atof(env_or("CHAOS_WAIT", "120"));
    SL_CHECK(broker != NULL && start_file != NULL && start_pos != NULL);
    MYSQL *src = sl_harness_mysql("SOURCE", NULL);
    sl_harness_exec(src, "SET SESSION group_concat_max_len = 1073741824");
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(broker, NULL, &cl));

    /* 1. Capture caught up: its checkpoint is the source's end. */
    double t0 = now_s();
    SL_CHECK_OK(mysql_query(src, "SHOW MASTER STATUS"));
    MYSQL_RES *res = mysql_store_result(src);
    MYSQL_ROW row = mysql_fetch_row(res);
    char end_file[128], end_pos[32];
    snprintf(end_file, sizeof end_file, "%s", row[0]);
    snprintf(end_pos, sizeof end_pos, "%s", row[1]);
    mysql_free_result(res);
    int caught = 0;
    double last_scan = 0;
    char cp_file[128] = "", cp_pos[32] = "";
    long left = -1;
    while (!(caught = checkpoint_at(cl, topic, end_file, end_pos)) &&
           now_s() - t0 < bound) {
        if (now_s() - last_scan > 3 &&
            checkpoint_of(cl, topic, cp_file, sizeof cp_file, cp_pos,
                          sizeof cp_pos)) {
            last_scan = now_s();
            if ((left = events_after(cp_file, cp_pos)) == 0) {
                caught = 1;
                break;
            }
        }
        sleep_s(0.2);
    }
    if (left != 0)
        checkpoint_of(cl, topic, cp_file, sizeof cp_file, cp_pos,
                      sizeof cp_pos);
    check(caught, "capture_caught_up",
          "source end %s:%s; checkpoint %s:%s%s after %.1f s", end_file,
          end_pos, cp_file, cp_pos,
          left == 0 ? " (only non-transaction events after it)" : "",
          now_s() - t0);

    /* 2. Apply caught up: every partition's offsets row at its end. */
    partinfo_t parts[64];
    size_t nparts = list_parts(cl, topic, parts, 64);
    MYSQL *dstm = NULL;
    int applied = 0;
    char lag[4096] = "";
    while (!applied && now_s() - t0 < 2 * bound) {
        if (dstm == NULL) {
            dstm = mysql_init(NULL);
            if (mysql_real_connect(dstm, "127.0.0.1", getenv("SL_TARGET_USER"),
                                   sl_harness_password("TARGET"), NULL,
                                   sl_harness_port("TARGET"), NULL,
                                   0) == NULL) {
                mysql_close(dstm);
                dstm = NULL;
                sleep_s(0.5);
                continue;
            }
        }
        applied = 1;
        lag[0] = '\0';
        for (size_t i = 0; i < nparts; i++) {
            char sql[1024];
            snprintf(sql, sizeof sql,
                     "SELECT next_offset FROM %.64s.sluice_offsets WHERE "
                     "group_name = '%.64s' AND topic = '%.64s' AND "
                     "part = '%.127s'",
                     meta, group, topic, parts[i].name);
            char *v = try_value(dstm, sql);
            uint64_t next = v != NULL ? strtoull(v, NULL, 10) : 0;
            free(v);
            if (next != parts[i].latest) {
                applied = 0;
                snprintf(lag + strlen(lag), sizeof lag - strlen(lag),
                         " %.100s:%llu/%llu", parts[i].name,
                         (unsigned long long)next,
                         (unsigned long long)parts[i].latest);
            }
        }
        if (!applied) {
            sleep_s(0.3);
            nparts = list_parts(cl, topic, parts, 64);
        }
    }
    check(applied && nparts == NTABLES, "apply_caught_up",
          "%zu partitions applied to their end after %.1f s%s%s", nparts,
          now_s() - t0, applied ? "" : "; behind (next/end):", lag);
    SL_CHECK(dstm != NULL);
    sl_harness_exec(dstm, "SET SESSION group_concat_max_len = 1073741824");

    /* 3. Tables equal. */
    char detail[2048] = "";
    int equal = 1;
    for (int t = 0; t < NTABLES; t++) {
        char sql[1024];
        snprintf(sql, sizeof sql, hashes[t], db);
        char *want = sl_harness_query_value(src, sql);
        snprintf(sql, sizeof sql, hashes[t], dst);
        char *got = try_value(dstm, sql);
        int same = want != NULL && got != NULL && strcmp(want, got) == 0;
        equal &= same;
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
                 " %s %s%s%s", tables[t], want ? want : "?",
                 same ? "" : " target ", same ? "" : (got ? got : "?"));
        free(want);
        free(got);
    }
    check(equal, "tables_equal", "(rows:md5)%s", detail);

    /* 4. Partitions: equal to the binlog, in order, contiguous. */
    long want_rows = oracle(dir, db, start_file, start_pos);
    long total_msgs = 0, total_rows = 0, commits = 0;
    int all_same = 1, all_ordered = 1;
    char pdetail[4096] = "", odetail[1024] = "";
    partcheck_t ledger_pc;
    memset(&ledger_pc, 0, sizeof ledger_pc);
    for (int t = 0; t < NTABLES; t++) {
        char part[256], path[1024];
        snprintf(part, sizeof part, "%s.%s", db, tables[t]);
        snprintf(path, sizeof path, "%s/oracle.%s.%s", dir, db, tables[t]);
        partcheck_t pc;
        memset(&pc, 0, sizeof pc);
        check_partition(cl, topic, part, path, &pc);
        total_msgs += pc.messages;
        total_rows += pc.rows;
        commits += pc.commits;
        if (pc.differ > 0) {
            all_same = 0;
            snprintf(pdetail + strlen(pdetail),
                     sizeof pdetail - strlen(pdetail),
                     "\n  %s: %ld messages differ from the binlog; first at "
                     "%s",
                     part, pc.differ, pc.first_diff);
        }
        if (pc.order_errors > 0 || pc.offset_gaps > 0) {
            all_ordered = 0;
            snprintf(odetail + strlen(odetail),
                     sizeof odetail - strlen(odetail),
                     " %s: %ld out of order, %ld offset gaps; first %s;", part,
                     pc.order_errors, pc.offset_gaps, pc.first_order);
        }
        if (strcmp(tables[t], "ledger") == 0)
            ledger_pc = pc;
        else
            free(pc.ledger);
    }
    check(all_same && total_rows == want_rows, "partitions_match_binlog",
          "%ld messages, %ld rows in the broker, %ld rows in the binlog%s",
          total_msgs, total_rows, want_rows, pdetail);
    check(all_ordered, "partitions_in_order",
          "source coordinates strictly increase and offsets are contiguous "
          "in %d partitions (%ld commit events)%s",
          NTABLES, commits, odetail);

    /* 5. Every transaction the workload saw committed is everywhere. */
    size_t nacks, nsrc, ndst;
    int64_t *acks = read_acks(dir, atoi(env_or("CHAOS_WORKERS", "3")), &nacks);
    int64_t *srcl = ledger_of(src, db, &nsrc);
    int64_t *dstl = ledger_of(dstm, dst, &ndst);
    qsort(ledger_pc.ledger, ledger_pc.nledger, sizeof(int64_t), cmp_i64);
    int64_t f1 = 0, f2 = 0, f3 = 0;
    size_t m1 = missing(acks, nacks, srcl, nsrc, &f1);
    size_t m2 = missing(acks, nacks, dstl, ndst, &f2);
    size_t m3 = missing(acks, nacks, ledger_pc.ledger, ledger_pc.nledger, &f3);
    check(nacks > 0 && m1 == 0 && m2 == 0 && m3 == 0, "acked_commits_present",
          "%zu acknowledged transactions; missing from the source %zu "
          "(first %lld), the target %zu (first %lld), the broker %zu "
          "(first %lld)",
          nacks, m1, (long long)f1, m2, (long long)f2, m3, (long long)f3);
    printf("VERIFY messages=%ld rows=%ld commits=%ld acked=%zu\n", total_msgs,
           total_rows, commits, nacks);
    free(acks);
    free(srcl);
    free(dstl);
    free(ledger_pc.ledger);
    sl_client_close(cl);
    mysql_close(src);
    mysql_close(dstm);
    SL_CHECK_INT(nfail, 0);
}

SL_TEST(chaos_tool) {
    const char *mode = getenv("CHAOS_MODE");
    if (mode == NULL)
        SL_SKIP("a helper of tests/fault/chaos.sh, which runs it");
    if (strcmp(mode, "workload") == 0)
        workload();
    else if (strcmp(mode, "verify") == 0)
        verify();
    else
        sl_test_fail(__FILE__, __LINE__, "unknown CHAOS_MODE %s", mode);
}
