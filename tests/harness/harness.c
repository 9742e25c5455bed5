/* The C side of the real-server test harness; see harness.h. */
#include "harness.h"

#include "error.h"
#include "sl_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *env_of(const char *role, const char *key) {
    char name[128];
    snprintf(name, sizeof name, "SL_%s_%s", role, key);
    return getenv(name);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

uint16_t sl_harness_port(const char *role) {
    const char *port = env_of(role, "PORT");
    if (port == NULL) {
        char why[128];
        snprintf(why, sizeof why,
                 "no %s server in the environment (run "
                 "through tests/run-integration.sh)",
                 role);
        sl_test_skip(why);
    }
    return (uint16_t)atoi(port);
}

const char *sl_harness_password(const char *role) {
    static char password[256];
    const char *path = env_of(role, "PASSWORD_FILE");
    if (path == NULL)
        sl_test_skip("no password file in the environment");
    FILE *file = fopen(path, "r");
    if (file == NULL)
        sl_test_fail(__FILE__, __LINE__, "cannot open %s", path);
    if (fgets(password, sizeof password, file) == NULL)
        password[0] = '\0';
    fclose(file);
    password[strcspn(password, "\r\n")] = '\0';
    return password;
}

void sl_harness_mysql_url(const char *role, const char *user_key,
                          const char *db, char *out, size_t outlen) {
    uint16_t port = sl_harness_port(role);
    const char *user = env_of(role, user_key);
    snprintf(out, outlen, "mysql://%s@127.0.0.1:%u%s%s", user ? user : "sluice",
             port, db ? "/" : "", db ? db : "");
}

const char *sl_harness_password_file(const char *role) {
    const char *path = env_of(role, "PASSWORD_FILE");
    if (path == NULL)
        sl_test_skip("no password file in the environment");
    return path;
}

MYSQL *sl_harness_mysql(const char *role, const char *db) {
    uint16_t port = sl_harness_port(role);
    const char *user = env_of(role, "USER");
    const char *password = sl_harness_password(role);
    MYSQL *mysql = mysql_init(NULL);
    if (mysql == NULL)
        sl_test_fail(__FILE__, __LINE__, "mysql_init failed");
    unsigned int timeout = 30;
    mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(mysql, "127.0.0.1", user ? user : "sluice", password,
                           db, port, NULL, CLIENT_MULTI_STATEMENTS) == NULL) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", mysql_error(mysql));
        mysql_close(mysql);
        sl_test_fail(__FILE__, __LINE__, "connect to %s on port %u: %s", role,
                     port, msg);
    }
    return mysql;
}

void sl_harness_exec(MYSQL *mysql, const char *sql) {
    if (mysql_query(mysql, sql) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", sql, mysql_error(mysql));
    /* Drain every result of a multi-statement so the connection is usable. */
    do {
        MYSQL_RES *res = mysql_store_result(mysql);
        if (res != NULL)
            mysql_free_result(res);
        else if (mysql_field_count(mysql) != 0)
            sl_test_fail(__FILE__, __LINE__, "%s: %s", sql, mysql_error(mysql));
    } while (mysql_next_result(mysql) == 0);
    if (mysql_errno(mysql) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", sql, mysql_error(mysql));
}

char *sl_harness_query_value(MYSQL *mysql, const char *sql) {
    if (mysql_query(mysql, sql) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s: %s", sql, mysql_error(mysql));
    MYSQL_RES *res = mysql_store_result(mysql);
    if (res == NULL)
        sl_test_fail(__FILE__, __LINE__, "%s: no result: %s", sql,
                     mysql_error(mysql));
    MYSQL_ROW row = mysql_fetch_row(res);
    char *value = NULL;
    if (row != NULL && row[0] != NULL) {
        unsigned long *lengths = mysql_fetch_lengths(res);
        value = malloc(lengths[0] + 1);
        memcpy(value, row[0], lengths[0]);
        value[lengths[0]] = '\0';
    }
    mysql_free_result(res);
    return value;
}

void sl_harness_master_status(MYSQL *mysql, char *file, size_t fl,
                              uint64_t *pos) {
    if (mysql_query(mysql, "SHOW MASTER STATUS") != 0)
        sl_test_fail(__FILE__, __LINE__, "SHOW MASTER STATUS: %s",
                     mysql_error(mysql));
    MYSQL_RES *res = mysql_store_result(mysql);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row == NULL)
        sl_test_fail(__FILE__, __LINE__,
                     "SHOW MASTER STATUS: no row (is "
                     "log-bin on?)");
    snprintf(file, fl, "%s", row[0]);
    *pos = strtoull(row[1], NULL, 10);
    mysql_free_result(res);
}

const char *sl_harness_bin(const char *program) {
    static char path[1024];
    const char *dir = getenv("SL_BIN");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "bin", program);
    return path;
}

/* Programs started by sl_harness_spawn() and not yet stopped with
 * sl_harness_stop(): killed when the test program exits, even when a test
 * failed half-way, so no daemon outlives its test. */
static int spawned[256];
static int nspawned;

static void kill_spawned(void) {
    for (int i = 0; i < nspawned; i++)
        kill(spawned[i], SIGKILL);
}

static void forget_spawned(int pid) {
    for (int i = 0; i < nspawned; i++)
        if (spawned[i] == pid) {
            spawned[i] = spawned[--nspawned];
            return;
        }
}

void sl_harness_sleep_ms(int ms) { sleep_ms(ms); }

void sl_harness_sleep_until_ns(uint64_t t_ns) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t n = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    if (t_ns > n) {
        struct timespec ts = {(time_t)((t_ns - n) / 1000000000u),
                              (long)((t_ns - n) % 1000000000u)};
        nanosleep(&ts, NULL);
    }
}

int sl_harness_spawn(char *const argv[], const char *log_path) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        sl_test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (log_path != NULL) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
                close(fd);
            }
        }
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (nspawned == 0)
        atexit(kill_spawned);
    if (nspawned < (int)(sizeof spawned / sizeof spawned[0]))
        spawned[nspawned++] = pid;
    return pid;
}

int sl_harness_start_capture(const char *broker_addr, const char *const *flags,
                             const char *log_path) {
    char source[256];
    sl_harness_mysql_url("SOURCE", "REPL_USER", NULL, source, sizeof source);
    const char *argv[48];
    int n = 0;
    argv[n++] = sl_harness_bin("sluice-capture");
    argv[n++] = "--source";
    argv[n++] = source;
    argv[n++] = "--password-file";
    argv[n++] = sl_harness_password_file("SOURCE");
    argv[n++] = "--broker";
    argv[n++] = broker_addr;
    int snapshot_flag = 0;
    for (int i = 0; flags && flags[i] && n < 44; i++) {
        snapshot_flag |= strncmp(flags[i], "--snapshot", 10) == 0 &&
                         strncmp(flags[i], "--snapshot-", 11) != 0;
        argv[n++] = flags[i];
    }
    /* Tests written before snapshots expect only the stream: they get
     * --snapshot never unless they choose a mode. */
    if (!snapshot_flag) {
        argv[n++] = "--snapshot";
        argv[n++] = "never";
    }
    argv[n] = NULL;
    return sl_harness_spawn((char *const *)argv, log_path);
}

int sl_harness_stop(int pid, int sig, int timeout_ms) {
    int status;
    if (pid <= 0)
        return -1;
    kill(pid, sig);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            forget_spawned(pid);
            return status;
        }
        if (r < 0) {
            forget_spawned(pid);
            return -1;
        }
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    forget_spawned(pid);
    if (waitpid(pid, &status, 0) == pid)
        return status;
    return -1;
}

int sl_harness_wait_exit(int pid, int timeout_ms, int *status) {
    for (int waited = 0; pid > 0 && waited <= timeout_ms; waited += 10) {
        if (waitpid(pid, status, WNOHANG) == pid) {
            forget_spawned(pid);
            return 1;
        }
        sleep_ms(10);
    }
    return 0;
}

int sl_harness_start_broker(const char *dir, char *addr, size_t addrlen) {
    char data[1024], log[1024];
    snprintf(data, sizeof data, "%s/broker", dir);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    mkdir(data, 0700);
    uint16_t port = sl_harness_free_port();
    snprintf(addr, addrlen, "127.0.0.1:%u", port);
    char klisten[64] = "off";
    uint16_t kport = 0;
    if (getenv("SL_BENCH_TRANSPORT") != NULL &&
        strcmp(getenv("SL_BENCH_TRANSPORT"), "kafka") == 0) {
        kport = sl_harness_free_port();
        snprintf(klisten, sizeof klisten, "127.0.0.1:%u", kport);
    }
    char *argv[] = {(char *)sl_harness_bin("sluice-broker"),
                    "--listen",
                    addr,
                    "--kafka-listen",
                    klisten,
                    "--data",
                    data,
                    "--fsync",
                    "always",
                    NULL};
    int pid = sl_harness_spawn(argv, log);
    if (sl_harness_wait_port(port, 10000) != 0 ||
        (kport != 0 && sl_harness_wait_port(kport, 10000) != 0))
        sl_test_fail(__FILE__, __LINE__, "sluice-broker did not start; see %s",
                     log);
    if (kport != 0) {
        char kafka[80];
        snprintf(kafka, sizeof kafka, "kafka://%s", klisten);
        setenv("SL_HARNESS_KAFKA", kafka, 1);
    }
    return pid;
}

const char *sl_harness_log_addr(const char *addr) {
    const char *kafka = getenv("SL_HARNESS_KAFKA");
    return kafka != NULL ? kafka : addr;
}

int sl_harness_broker_run(sl_harness_broker_t *b, const char *const *extra,
                          int timeout_ms, int *status) {
    if (b->data[0] == '\0')
        snprintf(b->data, sizeof b->data, "%s/data", sl_test_tmpdir());
    if (b->log[0] == '\0')
        snprintf(b->log, sizeof b->log, "%s/broker.log", sl_test_tmpdir());
    if (!b->same_port || b->port == 0) {
        b->port = sl_harness_free_port();
        snprintf(b->addr, sizeof b->addr, "127.0.0.1:%u", b->port);
    }
    const char *argv[40];
    int n = 0;
    argv[n++] = sl_harness_bin("sluice-broker");
    argv[n++] = "--listen";
    argv[n++] = b->addr;
    argv[n++] = "--data";
    argv[n++] = b->data;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    b->pid = sl_harness_spawn((char *const *)argv, b->log);
    /* Short waits for the port, with a look at the process between them,
     * so a broker that refuses to start is told from one that is slow. */
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (sl_harness_wait_port(b->port, 50) == 0)
            return 0;
        int st;
        if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
            if (status != NULL)
                *status = st;
            forget_spawned(b->pid);
            b->pid = 0;
            return -1;
        }
    }
    sl_test_fail(__FILE__, __LINE__,
                 "sluice-broker neither started nor "
                 "exited (see %s)",
                 b->log);
    return -1;
}

void sl_harness_broker_start(sl_harness_broker_t *b, const char *const *extra,
                             int timeout_ms) {
    int status = 0;
    if (sl_harness_broker_run(b, extra, timeout_ms, &status) != 0)
        sl_test_fail(__FILE__, __LINE__,
                     "sluice-broker did not start "
                     "(status %d; see %s)",
                     status, b->log);
}

int sl_harness_broker_stop(sl_harness_broker_t *b, int sig, int timeout_ms) {
    int status = sl_harness_stop(b->pid, sig, timeout_ms);
    b->pid = 0;
    if (sig == SIGTERM && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        sl_test_fail(__FILE__, __LINE__,
                     "sluice-broker did not shut down "
                     "cleanly on SIGTERM (status %d; see %s)",
                     status, b->log);
    return status;
}

sl_client_t *sl_harness_broker_client(const sl_harness_broker_t *b,
                                      const sl_client_opts_t *opts) {
    sl_client_opts_t def = {NULL, 5000, 10000, 5000};
    sl_client_t *cl = NULL;
    int err = sl_client_connect(b->addr, opts ? opts : &def, &cl);
    if (err != 0)
        sl_test_fail(__FILE__, __LINE__, "connect %s: %s", b->addr,
                     sl_strerror(err));
    return cl;
}

uint64_t sl_harness_broker_stat(sl_client_t *cl, const char *name) {
    sl_buf_t text = SL_BUF_INIT;
    SL_CHECK_OK(sl_client_stats(cl, &text));
    sl_buf_append_u8(&text, 0);
    char key[128];
    snprintf(key, sizeof key, "STAT %s ", name);
    const char *p = strstr((const char *)text.data, key);
    uint64_t v = p ? strtoull(p + strlen(key), NULL, 10) : UINT64_MAX;
    sl_buf_free(&text);
    if (v == UINT64_MAX)
        sl_test_fail(__FILE__, __LINE__, "no stat %s", name);
    return v;
}

char *sl_harness_partition_text(sl_client_t *cl, const char *topic,
                                const char *part) {
    size_t cap = 4096, len = 0;
    char *all = malloc(cap);
    SL_CHECK(all != NULL);
    all[0] = '\0';
    uint64_t offset = 0;
    for (int guard = 0; guard < 10000; guard++) {
        sl_client_fetch_t f;
        int rc = sl_client_get(cl, topic, part, offset, 1 << 20, 0, &f);
        if (rc != 0 || f.count == 0)
            break;
        for (size_t i = 0; i < f.count; i++) {
            while (len + f.recs[i].len + 2 > cap) {
                cap *= 2;
                all = realloc(all, cap);
                SL_CHECK(all != NULL);
            }
            memcpy(all + len, f.recs[i].data, f.recs[i].len);
            len += f.recs[i].len;
            all[len++] = '\n';
            all[len] = '\0';
        }
        offset = f.next;
    }
    return all;
}

void sl_harness_wait_partition_text(sl_client_t *cl, const char *topic,
                                    const char *part, const char *want,
                                    const char *log_path) {
    for (int i = 0; i < 300; i++) {
        char *all = sl_harness_partition_text(cl, topic, part);
        int hit = strstr(all, want) != NULL;
        free(all);
        if (hit)
            return;
        sl_harness_sleep_ms(100);
    }
    char cmd[800];
    snprintf(cmd, sizeof cmd, "tail -n 20 %s", log_path);
    if (system(cmd) != 0)
        printf("# no log at %s\n", log_path);
    sl_test_fail(__FILE__, __LINE__, "no message with %s in %s after 30 s",
                 want, part);
}

void sl_harness_check_producer_log(const char *addr, const char *topic,
                                   int nprod, int io_timeout_ms, int dense,
                                   uint64_t *counts) {
    sl_client_opts_t o = {NULL, 5000, io_timeout_ms, 5000};
    sl_client_t *cl;
    SL_CHECK_OK(sl_client_connect(addr, &o, &cl));
    memset(counts, 0, sizeof(uint64_t) * (size_t)nprod);
    for (int part = 0; part < 2; part++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", part);
        uint64_t off = 0;
        for (int guard = 0; guard < 1000000; guard++) {
            sl_client_fetch_t f;
            SL_CHECK_OK(sl_client_get(cl, topic, name, off, 1 << 20, 0, &f));
            if (f.count == 0)
                break;
            for (size_t i = 0; i < f.count; i++) {
                int who;
                unsigned long long seq;
                char tmp[64];
                /* The head is enough; messages may be padded long. */
                snprintf(tmp, sizeof tmp, "%.*s",
                         (int)(f.recs[i].len < 40 ? f.recs[i].len : 40),
                         (const char *)f.recs[i].data);
                if (sscanf(tmp, "P%d:%llu", &who, &seq) != 2 || who < 0 ||
                    who >= nprod || who % 2 != part)
                    sl_test_fail(__FILE__, __LINE__, "stray message '%s'", tmp);
                if (seq != counts[who])
                    sl_test_fail(__FILE__, __LINE__,
                                 "producer %d: got seq "
                                 "%llu, expected %llu (gap or duplicate) at "
                                 "offset %llu",
                                 who, seq, (unsigned long long)counts[who],
                                 (unsigned long long)f.recs[i].offset);
                if (dense && f.recs[i].offset != off + i)
                    sl_test_fail(__FILE__, __LINE__, "offsets not dense");
                counts[who]++;
            }
            off = f.next;
        }
    }
    sl_client_close(cl);
}

static void set_timeout(int fd, int opt, int ms) {
    struct timeval tv = {ms / 1000, (long)(ms % 1000) * 1000L};
    setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

int sl_harness_tcp_connect(uint16_t port, int rcvbuf, int recv_timeout_ms,
                           int send_timeout_ms) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    if (recv_timeout_ms > 0)
        set_timeout(fd, SO_RCVTIMEO, recv_timeout_ms);
    if (send_timeout_ms > 0)
        set_timeout(fd, SO_SNDTIMEO, send_timeout_ms);
    return fd;
}

const char *sl_harness_tcp_ask(uint16_t port, const char *req,
                               const char *until, int timeout_ms, char *reply,
                               size_t cap) {
    reply[0] = '\0';
    int fd = sl_harness_tcp_connect(port, 0, timeout_ms, timeout_ms);
    if (fd < 0)
        return reply;
    size_t len = strlen(req);
    if (write(fd, req, len) == (ssize_t)len) {
        size_t got = 0;
        ssize_t n;
        while (got + 1 < cap &&
               (n = read(fd, reply + got, cap - 1 - got)) > 0) {
            got += (size_t)n;
            reply[got] = '\0';
            if (strstr(reply, until) != NULL)
                break;
        }
    }
    close(fd);
    return reply;
}

const char *sl_harness_tcp_poll(uint16_t port, const char *req,
                                const char *until, const char *want, int tries,
                                int timeout_ms, char *reply, size_t cap) {
    reply[0] = '\0';
    for (int i = 0; i < tries; i++) {
        sl_harness_tcp_ask(port, req, until, timeout_ms, reply, cap);
        if (strstr(reply, want) != NULL)
            break;
        sleep_ms(100);
    }
    return reply;
}

int sl_harness_wait_port(uint16_t port, int timeout_ms) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
        close(fd);
        if (ok)
            return 0;
        sleep_ms(20);
    }
    return -1;
}

uint16_t sl_harness_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        sl_test_fail(__FILE__, __LINE__, "free port: %s", strerror(errno));
    close(fd);
    return ntohs(addr.sin_port);
}

void sl_harness_restart(const char *role) {
    const char *bin = getenv("SL_BIN");
    const char *root = getenv("SL_HARNESS_ROOT");
    if (bin == NULL || root == NULL)
        sl_test_skip("no harness in the environment");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "bash -c '. \"%s/../tests/harness/harness.sh\" && "
             "sl_h_restart %s && echo $SL_%s_PID > \"%s/%s.newpid\"'",
             bin, role, role, root, role);
    if (system(cmd) != 0)
        sl_test_fail(__FILE__, __LINE__, "restarting %s failed", role);
    char path[1024], pid[32] = "";
    snprintf(path, sizeof path, "%s/%s.newpid", root, role);
    FILE *file = fopen(path, "r");
    if (file != NULL) {
        if (fgets(pid, sizeof pid, file) != NULL) {
            pid[strcspn(pid, "\n")] = '\0';
            char name[64];
            snprintf(name, sizeof name, "SL_%s_PID", role);
            setenv(name, pid, 1);
        }
        fclose(file);
    }
}

void sl_harness_wait_file_text(const char *path, const char *want,
                               int timeout_ms) {
    for (int waited = 0;; waited += 50) {
        FILE *f = fopen(path, "rb");
        if (f != NULL) {
            static char text[1 << 20];
            size_t n = fread(text, 1, sizeof text - 1, f);
            fclose(f);
            text[n] = '\0';
            if (strstr(text, want) != NULL)
                return;
            if (waited >= timeout_ms)
                sl_test_fail(__FILE__, __LINE__,
                             "no \"%s\" in %s after %d ms: %s", want, path,
                             timeout_ms, text);
        } else if (waited >= timeout_ms) {
            sl_test_fail(__FILE__, __LINE__, "%s never appeared", path);
        }
        sleep_ms(50);
    }
}

uint8_t *sl_harness_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        sl_test_fail(__FILE__, __LINE__, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len ? *len : 1);
    SL_CHECK(fread(b, 1, *len, f) == *len);
    fclose(f);
    return b;
}

long sl_harness_peak_rss_kb(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *file = fopen(path, "r");
    long kb = 0;
    if (file == NULL)
        return 0;
    while (fgets(line, sizeof line, file) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(file);
    return kb;
}
