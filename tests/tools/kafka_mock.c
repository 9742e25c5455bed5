/*
 * A Kafka cluster for tests: librdkafka's mock cluster
 * (rd_kafka_mock_cluster_new(), an implementation of the Kafka protocol
 * nobody here wrote), run in this process, driven by lines on stdin.
 *
 *   kafka_mock [BROKERS]          (default 3)
 *
 * Prints "bootstrap HOST:PORT,..." on its first line, then "ok" or
 * "error TEXT" for every command:
 *
 *   create TOPIC PARTITIONS REPLICATION   a topic (the mock has no
 *                                         CreateTopics: sluice then checks
 *                                         what exists, as on a cluster
 *                                         that refuses creation)
 *   down BROKER | up BROKER               a broker stops answering / back
 *   leader TOPIC PARTITION BROKER         moves a partition's leader
 *   quit                                  (or end of input) stops
 *
 * Used by tests/integration/kafka_transport_mock.sh.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int nbrokers = argc > 1 ? atoi(argv[1]) : 3;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the cluster; it connects to nothing. */
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (mc == NULL) {
        fprintf(stderr, "kafka_mock: cannot start the mock cluster\n");
        return 1;
    }
    printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[512];
    while (fgets(line, sizeof line, stdin) != NULL) {
        char cmd[32], topic[256];
        int a = 0, b = 0;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__INVALID_ARG;
        int n = sscanf(line, "%31s", cmd);
        if (n != 1)
            continue;
        if (strcmp(cmd, "quit") == 0)
            break;
        if (strcmp(cmd, "create") == 0 &&
            sscanf(line, "%*s %255s %d %d", topic, &a, &b) == 3)
            e = rd_kafka_mock_topic_create(mc, topic, a, b);
        else if (strcmp(cmd, "down") == 0 && sscanf(line, "%*s %d", &a) == 1)
            e = rd_kafka_mock_broker_set_down(mc, a);
        else if (strcmp(cmd, "up") == 0 && sscanf(line, "%*s %d", &a) == 1)
            e = rd_kafka_mock_broker_set_up(mc, a);
        else if (strcmp(cmd, "leader") == 0 &&
                 sscanf(line, "%*s %255s %d %d", topic, &a, &b) == 3)
            e = rd_kafka_mock_partition_set_leader(mc, topic, a, b);
        if (e == 0)
            printf("ok\n");
        else
            printf("error %s\n", rd_kafka_err2str(e));
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
