/*
 * The C side of the real-server test harness.
 *
 * tests/harness/harness.sh starts the servers (source and target mariadbd,
 * redis-server, memcached) on 127.0.0.1 with free ports and exports where
 * they are; tests/run-integration.sh starts one set per suite and runs every
 * integration program with this environment:
 *
 *   SL_SOURCE_PORT, SL_SOURCE_SOCKET, SL_SOURCE_DATADIR, SL_SOURCE_PID
 *   SL_SOURCE_USER (all privileges), SL_SOURCE_PASSWORD_FILE
 *   SL_SOURCE_REPL_USER (REPLICATION SLAVE/CLIENT, SELECT; same password file)
 *   SL_TARGET_PORT, SL_TARGET_SOCKET, ... (the same keys for the target)
 *   SL_REDIS_PORT, SL_REDIS_PID, SL_MEMCACHED_PORT, SL_MEMCACHED_PID
 *   SL_HARNESS_ROOT  a temporary directory removed when the suite ends
 *   SL_BIN           the directory holding the sluice programs (bin/)
 *
 * A test whose server is not in the environment is skipped (SL_SKIP), so an
 * integration program also runs, skipping, without the harness.
 */
#ifndef SL_HARNESS_H
#define SL_HARNESS_H

#include "client.h"

#include <mysql.h>
#include <stdint.h>

/* Connects to role "SOURCE" or "TARGET" as the all-privileges user, with
 * db as the default database (NULL for none) and multi-statements on.
 * Skips the test when the role is not running; fails it when it is
 * running but the connection fails. The caller closes with mysql_close(). */
MYSQL *sl_harness_mysql(const char *role, const char *db);

/* Runs one statement or fails the test with the server's message. */
void sl_harness_exec(MYSQL *mysql, const char *sql);

/* Runs a query and returns its first column of its first row as a
 * malloc'd string (NULL for SQL NULL or no row); fails the test on error. */
char *sl_harness_query_value(MYSQL *mysql, const char *sql);

/* The server's current binlog file and position (SHOW MASTER STATUS):
 * the file name into file (fl bytes), the position into *pos. Fails the
 * test on an error or when there is no row (binary logging off). */
void sl_harness_master_status(MYSQL *mysql, char *file, size_t fl,
                              uint64_t *pos);

/* The port of a role ("SOURCE", "TARGET", "REDIS", "MEMCACHED"); skips
 * the test when the role is not running. */
uint16_t sl_harness_port(const char *role);

/* The password of a MariaDB role, read from SL_<ROLE>_PASSWORD_FILE. The
 * returned string is static. Skips when absent. */
const char *sl_harness_password(const char *role);

/* The URL the sluice programs take for a MariaDB role ("SOURCE",
 * "TARGET"): "mysql://USER@127.0.0.1:PORT" and "/db" when db is not NULL,
 * USER from SL_<ROLE>_<user_key> (user_key "USER" or "REPL_USER"; "sluice"
 * when unset), written to out. Skips the test when the role is not
 * running. */
void sl_harness_mysql_url(const char *role, const char *user_key,
                          const char *db, char *out, size_t outlen);

/* The path of a MariaDB role's password file (SL_<ROLE>_PASSWORD_FILE),
 * for --password-file; skips the test when it is not in the environment.
 * The string belongs to the environment. */
const char *sl_harness_password_file(const char *role);

/* Path of a sluice program ("sluice-broker"), from SL_BIN or ./bin. */
const char *sl_harness_bin(const char *program);

/* Starts a program with argv (argv[0] is the program path), stdout and
 * stderr appended to log_path (NULL: inherit). Returns the pid; fails the
 * test if fork/exec fails. A program not stopped with sl_harness_stop()
 * is killed (SIGKILL) when the test program exits. */
int sl_harness_spawn(char *const argv[], const char *log_path);

/* Starts bin/sluice-capture reading the harness source as its
 * replication user (--source, --password-file), publishing to the broker
 * at broker_addr, with the NULL-terminated flags after those (at most 32;
 * a NULL inside ends them, for an optional flag), its output appended to
 * log_path. Returns the pid as sl_harness_spawn() does. Skips the test
 * when the source is not running. */
int sl_harness_start_capture(const char *broker_addr, const char *const *flags,
                             const char *log_path);

/* Sends sig to pid and waits up to timeout_ms for it to exit; then
 * SIGKILL. Returns the exit status as from waitpid (or -1). */
int sl_harness_stop(int pid, int sig, int timeout_ms);

/* Waits up to timeout_ms for pid to exit by itself. Returns 1 with its
 * wait status in *status, or 0 when it is still running (the caller then
 * stops it, and fails the test if it should have exited). */
int sl_harness_wait_exit(int pid, int timeout_ms, int *status);

void sl_harness_sleep_ms(int ms);

/* Sleeps until CLOCK_MONOTONIC reaches t_ns (returns at once if past), for
 * paced load generators. */
void sl_harness_sleep_until_ns(uint64_t t_ns);

/* Starts bin/sluice-broker on a free 127.0.0.1 port with data in
 * dir/broker (created) and its log in dir/broker.log, fsync=always, and
 * waits until it accepts connections. Writes "127.0.0.1:PORT" to addr.
 * Returns the pid (stopped with sl_harness_stop(), or killed at exit);
 * fails the test when it does not start. */
int sl_harness_start_broker(const char *dir, char *addr, size_t addrlen);
/* The address capture and apply are given for the broker at addr: addr
 * itself, or with SL_BENCH_TRANSPORT=kafka (bench/kafka_transport.sh) the
 * Kafka listener sl_harness_start_broker() opened, "kafka://HOST:PORT". */
const char *sl_harness_log_addr(const char *addr);

/* A sluice-broker a test runs: its pid (0 when not running), its port and
 * "127.0.0.1:PORT", its data directory and the log its output is appended
 * to. same_port is set by the caller when a restart must listen on the
 * port of the run before (clients keep their address). */
typedef struct {
    int pid;
    uint16_t port;
    int same_port;
    char addr[64];
    char data[600];
    char log[800];
} sl_harness_broker_t;

/* Starts bin/sluice-broker --listen b->addr --data b->data followed by the
 * NULL-terminated flags extra (NULL for none, at most 32; a NULL inside
 * ends the list early, so an optional flag can be `cond ? "--x" : NULL`),
 * its output appended to b->log. An empty b->data is TMPDIR/data and an
 * empty b->log TMPDIR/broker.log (TMPDIR from sl_test_tmpdir()); the data
 * directory is not created. A new free port is picked (b->port, b->addr)
 * unless b->same_port is set and b->port is known. Waits up to timeout_ms:
 * returns 0 when the broker accepts connections, or -1 when it exited
 * first, its wait status in *status (status may be NULL) and b->pid 0.
 * Fails the test when it does neither in time. */
int sl_harness_broker_run(sl_harness_broker_t *b, const char *const *extra,
                          int timeout_ms, int *status);

/* sl_harness_broker_run() that fails the test (naming the log) when the
 * broker does not start. */
void sl_harness_broker_start(sl_harness_broker_t *b, const char *const *extra,
                             int timeout_ms);

/* Stops the broker with sig, waiting up to timeout_ms before SIGKILL, and
 * sets b->pid to 0. With SIGTERM the test fails unless the broker exited
 * with status 0 (a clean shutdown). Returns the wait status (or -1). */
int sl_harness_broker_stop(sl_harness_broker_t *b, int sig, int timeout_ms);

/* A lib/client connection to the broker with opts (NULL: no secret,
 * connect 5 s, io 10 s, retry 5 s; generous, they only keep a broken
 * broker from hanging the test). Fails the test when it cannot connect.
 * The caller closes it with sl_client_close(). */
sl_client_t *sl_harness_broker_client(const sl_harness_broker_t *b,
                                      const sl_client_opts_t *opts);

/* The value of the broker's counter name from a `stats` request on cl
 * ("STAT name VALUE"); fails the test when the request fails or the
 * broker does not report name. */
uint64_t sl_harness_broker_stat(sl_client_t *cl, const char *name);

/* Every message of topic/part from offset 0 (none when the partition does
 * not exist), joined with a newline after each, as a malloc'd string the
 * caller frees. */
char *sl_harness_partition_text(sl_client_t *cl, const char *topic,
                                const char *part);

/* Waits up to 30 s until topic/part holds a message containing want;
 * otherwise prints the end of the log at log_path and fails the test. */
void sl_harness_wait_partition_text(sl_client_t *cl, const char *topic,
                                    const char *part, const char *want,
                                    const char *log_path);

/* Checks what load producers 0..nprod-1 wrote to topic on the broker at
 * addr: producer P puts "P<P>:<seq>..." (a message starts so) into
 * partition "p<P % 2>" with seq 0, 1, 2, ... Reads both partitions from
 * offset 0 (io_timeout_ms a request) and fails the test on a stray
 * message or on any producer's gap or duplicate; with dense, also when
 * offsets have a gap. counts[P] (nprod entries, caller's) gets how many
 * messages of producer P are stored. */
void sl_harness_check_producer_log(const char *addr, const char *topic,
                                   int nprod, int io_timeout_ms, int dense,
                                   uint64_t *counts);

/* A TCP connection to 127.0.0.1:port; -1 when it cannot be made (the
 * caller checks). rcvbuf > 0 sets the receive buffer before connecting,
 * so the window stays small (a client that does not read). A timeout > 0
 * is set, after connecting, as SO_RCVTIMEO / SO_SNDTIMEO, so a silent
 * peer fails the test instead of hanging it. The caller closes the fd. */
int sl_harness_tcp_connect(uint16_t port, int rcvbuf, int recv_timeout_ms,
                           int send_timeout_ms);

/* Sends req on a new connection to 127.0.0.1:port (timeout_ms both
 * ways) and reads the answer into reply (cap bytes, NUL-terminated) until
 * it holds the text until, the peer closes, a read waits timeout_ms or
 * reply is full; then closes. Returns reply, "" when the connection or the
 * send failed (the caller asserts on the text). */
const char *sl_harness_tcp_ask(uint16_t port, const char *req,
                               const char *until, int timeout_ms, char *reply,
                               size_t cap);

/* sl_harness_tcp_ask() up to tries times, 100 ms apart, until the reply
 * holds want (a report not yet made, counters not yet caught up). Returns
 * the last reply; the caller asserts that it holds want. */
const char *sl_harness_tcp_poll(uint16_t port, const char *req,
                                const char *until, const char *want, int tries,
                                int timeout_ms, char *reply, size_t cap);

/* Waits up to timeout_ms until something accepts TCP connections on
 * 127.0.0.1:port. Returns 0, or -1 on timeout. */
int sl_harness_wait_port(uint16_t port, int timeout_ms);

/* Stops and starts a harness server again ("SOURCE", "TARGET", "REDIS",
 * "MEMCACHED") on the same port and data, through harness.sh; updates
 * SL_<ROLE>_PID. Fails the test if it does not come back. */
void sl_harness_restart(const char *role);

/* Reads the whole file at path into a malloc'd buffer the caller frees,
 * its size in *len; fails the test when the file cannot be opened or
 * read. */
uint8_t *sl_harness_slurp(const char *path, size_t *len);

/* Waits up to timeout_ms until the file at path contains want (a log
 * line a program writes once it is ready, e.g. capture's "schema history
 * read from the source"); fails the test, printing the file, otherwise.
 * The file need not exist yet. */
void sl_harness_wait_file_text(const char *path, const char *want,
                               int timeout_ms);

/* Peak resident memory (VmHWM) of a running process, in KiB; 0 when
 * unknown. */
long sl_harness_peak_rss_kb(int pid);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
uint16_t sl_harness_free_port(void);

#endif
