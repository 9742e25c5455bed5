/*
 * Fault test: kill -9 the broker during a multi-producer load, restart it,
 * and check that every acknowledged message is present exactly once, in
 * order, in its partition.
 *
 * Two variants: plain producers, which stop at the first error (acked
 * messages must be there exactly once; unacked ones may or may not be),
 * and idempotent producers (producer id + sequence), which reconnect and
 * resend everything unacknowledged across several kills, the way capture
 * publishes: the result must be every sequence exactly once, no gap.
 */
#include "client.h"
#include "error.h"
#include "harness.h"
#include "sl_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NPROD 4
#define WINDOW 200

typedef sl_harness_broker_t broker_t;

/* Restarts listen on the same port: the producers keep their address. */
static void broker_start(broker_t *b) {
    static const char *const flags[] = {"--checkpoint-interval", "300ms", NULL};
    b->same_port = 1;
    sl_harness_broker_start(b, flags, 10000);
}

typedef struct {
    int idx;
    const broker_t *b;
    int idempotent;
    volatile int stop;
    uint64_t acked;  /* Sequences 0..acked-1 are acknowledged. */
    uint64_t target; /* Stop after this many acks. */
    int failed;
    char why[256];
} prod_t;

static void *producer(void *arg) {
    prod_t *p = arg;
    char part[8];
    snprintf(part, sizeof part, "p%d", p->idx % 2);
    sl_client_t *cl = NULL;
    while (!p->stop && p->acked < p->target) {
        if (cl == NULL) {
            sl_client_opts_t o = {NULL, 1000, 5000, -1};
            if (sl_client_connect(p->b->addr, &o, &cl) != 0) {
                cl = NULL;
                sl_harness_sleep_ms(20);
                continue;
            }
        }
        /* Resend everything from the first unacknowledged sequence. */
        uint64_t from = p->acked, n = 0;
        int err = 0;
        for (; n < WINDOW && from + n < p->target && err == 0; n++) {
            char m[64];
            uint64_t seq = from + n;
            snprintf(m, sizeof m, "P%d:%llu", p->idx, (unsigned long long)seq);
            sl_client_msg_t msg = {m, strlen(m)};
            err = sl_client_put_send(cl, "load", part, &msg, 1,
                                     p->idempotent ? 100 + p->idx : -1, seq,
                                     NULL);
        }
        for (uint64_t i = 0; i < n && err == 0; i++) {
            sl_client_ack_t ack;
            err = sl_client_put_ack(cl, &ack);
            if (err == 0)
                p->acked++;
        }
        if (err != 0) {
            sl_client_close(cl);
            cl = NULL;
            if (!p->idempotent)
                break; /* A plain producer must not resend: duplicates. */
        }
    }
    sl_client_close(cl);
    return NULL;
}

/* Reads a whole partition and checks, per producer, that sequences are
 * 0, 1, 2, ... without gap or duplicate; returns the counts. */
static void run(int idempotent, int kills) {
    broker_t b = {0};
    broker_start(&b);
    prod_t prods[NPROD];
    pthread_t th[NPROD];
    for (int i = 0; i < NPROD; i++) {
        memset(&prods[i], 0, sizeof prods[i]);
        prods[i].idx = i;
        prods[i].b = &b;
        prods[i].idempotent = idempotent;
        prods[i].target = idempotent ? 60000 : 1000000000;
        SL_CHECK_OK(pthread_create(&th[i], NULL, producer, &prods[i]));
    }
    for (int k = 0; k < kills; k++) {
        /* Let the load run, then kill in the middle of it. */
        uint64_t before = 0, now = 0;
        for (int i = 0; i < NPROD; i++)
            before += prods[i].acked;
        for (int w = 0; w < 1000 && now < before + 2000 * NPROD; w++) {
            sl_harness_sleep_ms(10);
            now = 0;
            for (int i = 0; i < NPROD; i++)
                now += prods[i].acked;
        }
        SL_CHECK(now > before);
        sl_harness_stop(b.pid, SIGKILL, 5000);
        if (k + 1 < kills || idempotent)
            broker_start(&b);
    }
    if (!idempotent) {
        for (int i = 0; i < NPROD; i++)
            pthread_join(th[i], NULL);
        broker_start(&b);
    } else {
        for (int i = 0; i < NPROD; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < NPROD; i++)
            SL_CHECK_UINT(prods[i].acked, prods[i].target);
    }
    uint64_t counts[NPROD];
    sl_harness_check_producer_log(b.addr, "load", NPROD, 10000, 0, counts);
    for (int i = 0; i < NPROD; i++) {
        /* Every acked message is there; with resends, exactly the target. */
        if (counts[i] < prods[i].acked)
            sl_test_fail(__FILE__, __LINE__,
                         "producer %d: %llu acked but "
                         "only %llu stored",
                         i, (unsigned long long)prods[i].acked,
                         (unsigned long long)counts[i]);
        if (idempotent)
            SL_CHECK_UINT(counts[i], prods[i].target);
    }
    sl_harness_stop(b.pid, SIGTERM, 10000);
}

SL_TEST(broker_kill9_plain_producers) { run(0, 1); }

SL_TEST(broker_kill9_idempotent_producers_three_kills) { run(1, 3); }
