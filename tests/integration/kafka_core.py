#!/usr/bin/python3
"""Checks of sluice-broker's Kafka listener with real clients (kcat, that
is librdkafka 2.0, and kafka-python) and raw sockets; run by kafka_core.sh,
which starts the brokers. Prints PASS/FAIL lines like the C tests.

    kafka_core.py MODE TEXT_PORT KAFKA_PORT [SECRET]

MODE is names (kcat -L after text-protocol puts; auto-creation),
advertised (the address Metadata names), no_auto_create (--auto-create
no), budget (the shared memory budget), create (CreateTopics
through kafka-python's admin client), hostile (raw bad input, counted in
stats, other clients unaffected), conns (the connection limit) or sasl
(SASL/PLAIN with kcat, kafka-python and raw requests before auth).
"""
import json
import socket
import struct
import subprocess
import sys
import time

MODE = sys.argv[1]
TEXT_PORT = int(sys.argv[2])
KAFKA_PORT = int(sys.argv[3])
SECRET = sys.argv[4] if len(sys.argv) > 4 else None
BOOT = "127.0.0.1:%d" % KAFKA_PORT
failed = 0


def check(name, ok, detail=""):
    global failed
    if ok:
        print("PASS kafka_core:%s:%s" % (MODE, name))
    else:
        failed = 1
        print("FAIL kafka_core:%s:%s: %s" % (MODE, name, detail))
    sys.stdout.flush()


# ---- the text protocol -------------------------------------------------

class Text:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", TEXT_PORT), timeout=30)
        self.f = self.s.makefile("rb")
        self.id = 0
        if SECRET:
            self.cmd("auth %d %s" % (self.next(), SECRET))

    def next(self):
        self.id += 1
        return self.id

    def line(self):
        return self.f.readline().decode().rstrip("\r\n")

    def cmd(self, text, payload=None):
        data = (text + "\r\n").encode()
        if payload is not None:
            data += payload + b"\r\n"
        self.s.sendall(data)
        reply = self.line()
        if not reply.startswith("200 "):
            raise RuntimeError("%s -> %s" % (text, reply))
        return reply

    def put(self, topic, part, payload=b"x"):
        return self.cmd("put %d %s %s %d" % (self.next(), topic, part,
                                              len(payload)), payload)

    def lines_until_end(self, text):
        self.cmd(text)
        out = []
        while True:
            ln = self.line()
            if ln == "END":
                return out
            out.append(ln)

    def partitions(self, topic):
        return sorted(ln.split()[1] for ln in
                      self.lines_until_end("partitions %d %s" %
                                           (self.next(), topic)))

    def stats(self):
        st = {}
        for ln in self.lines_until_end("stats %d" % self.next()):
            _, k, v = ln.split(" ", 2)
            st[k] = v
        return st


def stat(text, name):
    return int(text.stats().get(name, "-1"))


def wait_stat(text, name, at_least):
    """The counter once it reached at_least (the broker counts a close
    when it sees it); gives up after 20 s and returns what it has."""
    deadline = time.time() + 20
    v = stat(text, name)
    while v < at_least and time.time() < deadline:
        time.sleep(0.05)
        v = stat(text, name)
    return v


# ---- kcat ----------------------------------------------------------------

def kcat_args():
    args = ["kcat", "-b", BOOT, "-m", "10"]
    if SECRET:
        args += ["-X", "security.protocol=SASL_PLAINTEXT",
                 "-X", "sasl.mechanisms=PLAIN",
                 "-X", "sasl.username=test", "-X",
                 "sasl.password=" + SECRET]
    return args


def kcat_list(extra=None):
    """kcat -L -J: {topic: partition count}, the JSON, or None."""
    args = kcat_args() + ["-L", "-J"] + (extra or [])
    p = subprocess.run(args, capture_output=True, timeout=60)
    if p.returncode != 0:
        return None, p.stderr.decode(errors="replace")
    md = json.loads(p.stdout)
    return {t["topic"]: len(t["partitions"]) for t in md["topics"]}, md


# ---- raw Kafka requests ----------------------------------------------------

def frame(key, ver, corr, body=b"", client=b"kafka_core"):
    msg = struct.pack(">hhih", key, ver, corr, len(client)) + client + body
    return struct.pack(">i", len(msg)) + msg


def raw_conn():
    return socket.create_connection(("127.0.0.1", KAFKA_PORT), timeout=20)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            return None
        buf += c
    return buf


def recv_frame(s):
    """A response (None when the broker closed instead)."""
    try:
        head = recv_exact(s, 4)
        if head is None:
            return None
        return recv_exact(s, struct.unpack(">i", head)[0])
    except ConnectionResetError:
        return None


def closed(s):
    """True when the broker closed the connection (EOF or reset)."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def api_versions(data):
    err, n = struct.unpack(">hi", data[4:10])
    apis = {}
    for i in range(n):
        k, lo, hi = struct.unpack(">hhh", data[10 + 6 * i:16 + 6 * i])
        apis[k] = (lo, hi)
    return err, apis


# ---- modes ------------------------------------------------------------------

def mode_names():
    t = Text()
    t.put("src", "shop.users")
    t.put("src", "shop.orders#0")
    t.put("src", "shop.orders#2")
    t.put("src.shop", "users")
    t.put("orders", "#1")
    t.put("src", "caf-c3-a9.my-20table")
    t.put("odd", "a/b")
    topics, md = kcat_list()
    check("kcat_lists", topics is not None, md)
    if topics is None:
        return
    want = {"src.shop.users": 1, "src.shop.orders": 3, "src-2eshop.users": 1,
            "orders": 2, "src.caf-c3-a9.my-20table": 1}
    check("topics_and_counts", topics == want,
          "got %s, want %s" % (topics, want))
    check("broker_is_controller",
          md["controllerid"] == 0 and len(md["brokers"]) == 1 and
          md["brokers"][0]["name"] == BOOT and
          all(p["leader"] == 0 for tp in md["topics"]
              for p in tp["partitions"]),
          json.dumps(md)[:300])
    # librdkafka's own mock cluster: one broker that is the controller too
    # (the 2.0 mock names its broker 1 and the controller 0, a departure
    # from Kafka; sluice names both 0).
    p = subprocess.run(["kcat", "-X", "test.mock.num.brokers=1", "-b", "x:1",
                        "-L", "-J"], capture_output=True, timeout=60)
    mock = json.loads(p.stdout) if p.returncode == 0 else None
    check("mock_same_shape",
          mock is not None and len(mock["brokers"]) == 1 and
          sorted(mock.keys()) == sorted(md.keys()),
          "mock: %s" % (p.stdout[:200],))
    # A named Metadata request for one topic.
    named, md2 = kcat_list(["-t", "src.shop.orders"])
    check("named_topic", named == {"src.shop.orders": 3}, str(named))
    # Auto-creation through a named Metadata request: v1 always asks for
    # it, v4 only with allow_auto_topic_creation.
    def md_named(ver, name, allow=None):
        body = struct.pack(">ih", 1, len(name)) + name
        if allow is not None:
            body += bytes([allow])
        c = raw_conn()
        c.sendall(frame(3, ver, 5, body))
        d = recv_frame(c)
        c.close()
        # The topic entry follows the brokers and the controller id: its
        # error code sits right before the name.
        i = d.find(struct.pack(">h", len(name)) + name)
        return struct.unpack(">h", d[i - 2:i])[0] if i >= 2 else None
    check("v4_no_auto_create", md_named(4, b"auto4", 0) == 3 and
          t.partitions("auto4") == [], t.partitions("auto4"))
    check("v4_auto_create", md_named(4, b"auto4", 1) == 0 and
          t.partitions("auto4") == ["#0"], t.partitions("auto4"))
    check("v1_auto_create", md_named(1, b"app.auto1") == 0 and
          t.partitions("app") == ["auto1"], t.partitions("app"))
    # A new table written later shows up.
    t.put("src", "shop.items#5")
    topics, _ = kcat_list()
    check("new_partition_seen", topics and topics.get("src.shop.items") == 6,
          str(topics))


def mode_no_auto_create():
    # --auto-create no: neither Metadata nor CreateTopics makes partitions.
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import PolicyViolationError
    t = Text()
    topics, md = kcat_list(["-t", "nope"])
    check("metadata_does_not_create",
          t.partitions("nope") == [] and topics == {"nope": 0} and
          md["topics"][0].get("error") == "Broker: Unknown topic or partition",
          str(md))
    admin = KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=20000)
    try:
        admin.create_topics([NewTopic("nope", 2, 1)])
        check("create_topics_refused", False, "created")
    except PolicyViolationError:
        check("create_topics_refused", t.partitions("nope") == [])
    admin.close()


def mode_create():
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import (TopicAlreadyExistsError, InvalidPartitionsError,
                              InvalidReplicationFactorError)
    t = Text()
    admin = KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=20000)
    r = admin.create_topics([NewTopic("events", 3, 1)])
    check("create_3", all(e[1] == 0 for e in r.topic_errors), str(r))
    check("admin_lists", "events" in admin.list_topics(),
          str(admin.list_topics()))
    topics, _ = kcat_list()
    check("kcat_sees_3", topics and topics.get("events") == 3, str(topics))
    check("text_name", t.partitions("events") == ["#0", "#1", "#2"],
          str(t.partitions("events")))
    try:
        admin.create_topics([NewTopic("events", 3, 1)])
        check("exists", False, "no error")
    except TopicAlreadyExistsError:
        check("exists", True)
    try:
        admin.create_topics([NewTopic("zero", 0, 1)])
        check("invalid_partitions", False, "no error")
    except InvalidPartitionsError:
        check("invalid_partitions", True)
    try:
        admin.create_topics([NewTopic("rf3", 1, 3)])
        check("replication_factor", False, "no error")
    except InvalidReplicationFactorError:
        check("replication_factor", True)
    r = admin.create_topics([NewTopic("dry", 2, 1)], validate_only=True)
    check("validate_only_ok", all(e[1] == 0 for e in r.topic_errors), str(r))
    check("validate_only_creates_nothing",
          "dry" not in admin.list_topics() and t.partitions("dry") == [],
          str(admin.list_topics()))
    # Split-form names: the text protocol reads them as documented.
    admin.create_topics([NewTopic("app.orders", 2, 1),
                         NewTopic("app.users", 1, 1)])
    check("text_split_names",
          t.partitions("app") == ["orders#0", "orders#1", "users"],
          str(t.partitions("app")))
    # What Kafka created is readable through the text protocol: a put to
    # the same sluice partition lands in the Kafka topic.
    t.put("events", "#1", b"hello")
    lines = t.lines_until_end("partitions %d events" % t.next())
    check("text_put_into_kafka_topic",
          any(ln.split()[1] == "#1" and ln.split()[3] == "1" for ln in lines),
          str(lines))
    admin.close()


def mode_hostile():
    t = Text()
    t.put("src", "shop.users")
    base = t.stats()

    def delta(name):
        return stat(t, name) - int(base.get(name, "0"))

    # ApiVersions v3 (flexible request header: a tagged-field byte after
    # the client id): UNSUPPORTED_VERSION in the v0 layout.
    s = raw_conn()
    s.sendall(frame(18, 3, 7, b"\x00\x05sl\x00\x02" b"1\x00\x00"))
    d = recv_frame(s)
    ok = d is not None and struct.unpack(">i", d[:4])[0] == 7
    err, apis = api_versions(d) if ok else (None, {})
    check("api_versions_v3_fallback",
          ok and err == 35 and apis.get(18) == (0, 2), repr(d))
    s.sendall(frame(18, 0, 8))
    d = recv_frame(s)
    err, apis = api_versions(d)
    check("api_versions_v0",
          err == 0 and apis.get(3) == (0, 4) and apis.get(19) == (0, 4) and
          apis.get(17) == (0, 1) and apis.get(36) == (0, 1), str(apis))
    s.sendall(frame(18, 2, 9))
    d = recv_frame(s)
    check("api_versions_v2_throttle",
          d is not None and d[-4:] == b"\x00\x00\x00\x00" and
          api_versions(d)[0] == 0, repr(d))
    # An unknown API key and an unsupported version: answered, and the
    # connection still serves.
    s.sendall(frame(999, 0, 10) + frame(3, 9, 11) + frame(18, 0, 12))
    d1, d2, d3 = recv_frame(s), recv_frame(s), recv_frame(s)
    check("unknown_api_answered", d1 == struct.pack(">ih", 10, 35), repr(d1))
    check("unsupported_version_answered", d2 == struct.pack(">ih", 11, 35),
          repr(d2))
    check("conn_still_serves", d3 is not None and d3[:4] ==
          struct.pack(">i", 12), repr(d3))
    # A named Metadata with an invalid topic name: INVALID_TOPIC_EXCEPTION.
    s.sendall(frame(3, 1, 13, struct.pack(">ih", 1, 3) + b"a b"))
    d = recv_frame(s)
    check("invalid_topic_name", d is not None and b"\x00\x11\x00\x03a b" in d,
          repr(d))
    s.close()

    cases = [
        ("negative_size", struct.pack(">i", -5) + b"abcd",
         "kafka_errors_size"),
        ("oversized", struct.pack(">i", 1 << 30) + b"abcd",
         "kafka_errors_too_large"),
        ("below_header", struct.pack(">i", 4) + b"abcd",
         "kafka_errors_malformed"),
        ("hostile_count",
         frame(3, 1, 1, struct.pack(">i", 1000000) + b"\x00\x01a"),
         "kafka_errors_malformed"),
        ("truncated_string",
         frame(3, 1, 1, struct.pack(">ih", 1, 300) + b"abc"),
         "kafka_errors_malformed"),
    ]
    seen = {}
    for name, data, counter in cases:
        s = raw_conn()
        s.sendall(data)
        check(name + "_closed", closed(s), "connection stayed open")
        s.close()
        seen[counter] = seen.get(counter, 0) + 1
        got = wait_stat(t, counter, int(base.get(counter, "0")) +
                        seen[counter]) - int(base.get(counter, "0"))
        check(name + "_counted", got >= seen[counter],
              "%s +%d" % (counter, got))
    # A request cut off by the peer's close.
    s = raw_conn()
    s.sendall(struct.pack(">i", 100) + b"0123456789")
    time.sleep(0.1)
    s.close()
    got = wait_stat(t, "kafka_errors_truncated",
                    int(base.get("kafka_errors_truncated", "0")) + 1)
    check("truncated_counted",
          got > int(base.get("kafka_errors_truncated", "0")), str(got))
    # A Kafka connection's buffers count in the broker's one memory budget:
    # 1.5 MiB of a 2 MiB request held by the broker show in memory_used.
    used = stat(t, "memory_used")
    big = raw_conn()
    big.sendall(struct.pack(">i", 2 << 20) + b"\0" * (3 << 19))
    grown = wait_stat(t, "memory_used", used + (3 << 19))
    check("budget_counts_kafka_buffers", grown >= used + (3 << 19),
          "memory_used %d -> %d" % (used, grown))
    big.close()
    # Many connections, half of them in the middle of a request: another
    # client is unaffected.
    socks = []
    for i in range(200):
        c = raw_conn()
        if i % 2:
            c.sendall(struct.pack(">i", 1000) + b"partial")
        socks.append(c)
    topics, md = kcat_list()
    check("others_unaffected", topics == {"src.shop.users": 1}, str(md))
    for c in socks:
        c.close()
    check("unknown_api_counted", delta("kafka_errors_unknown_api") >= 1)
    check("version_counted", delta("kafka_errors_unsupported_version") >= 2)
    topics, md = kcat_list()
    check("still_serves", topics == {"src.shop.users": 1}, str(md))
    t.put("src", "shop.users")
    check("text_still_serves", True)


def mode_budget():
    # --max-memory 4 MiB: three partial 1.5 MiB Kafka requests fill the
    # budget; then reading pauses everywhere (text requests included), so a
    # new client's ApiVersions waits instead of being refused, and once the
    # three go the broker resumes by itself and answers it.
    t = Text()
    hogs = []
    for _ in range(3):
        c = raw_conn()
        c.sendall(struct.pack(">i", 3 << 19) + b"\0" * ((3 << 19) - 100))
        hogs.append(c)
    # Below the budget an ApiVersions is answered at once; the first one
    # left waiting (2 s, far above an answer's time) marks the budget.
    waiter = None
    for i in range(20):
        c = raw_conn()
        c.settimeout(2)
        c.sendall(frame(18, 0, 77))
        try:
            recv_frame(c)
            c.close()
        except socket.timeout:
            waiter = c
            break
    check("budget_reached", waiter is not None, "every request answered")
    for c in hogs:
        c.close()
    if waiter is not None:
        waiter.settimeout(30)
        d = recv_frame(waiter)
        check("resumes_after_release",
              d is not None and d[:4] == struct.pack(">i", 77), repr(d))
    check("counted", stat(t, "memory_full_events") >= 1)
    topics, md = kcat_list()
    check("serves_after", topics is not None, str(md))


def mode_conns():
    t = Text()
    base = stat(t, "kafka_conns_rejected")
    socks = [raw_conn() for _ in range(40)]
    refused = 0
    for c in socks:
        c.settimeout(0.5)
        c.sendall(frame(18, 0, 1))
        if recv_frame(c) is None:
            refused += 1
    # max-connections is 20 and the text connection holds one.
    check("limit_enforced", refused == 21, "refused %d of 40" % refused)
    got = stat(t, "kafka_conns_rejected") - base
    check("rejections_counted", got == 21, str(got))
    for c in socks:
        c.close()
    deadline = time.time() + 20
    while stat(t, "kafka_conns") > 0 and time.time() < deadline:
        time.sleep(0.05)
    topics, md = kcat_list()
    check("serves_after", topics is not None, str(md))


def mode_sasl():
    t = Text()
    t.put("src", "shop.users")
    topics, md = kcat_list()
    check("kcat_good_password", topics == {"src.shop.users": 1}, str(md))
    args = [a if not a.startswith("sasl.password=") else "sasl.password=bad"
            for a in kcat_args()]
    p = subprocess.run(args + ["-L"], capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    check("kcat_bad_password", p.returncode != 0 and
          "Authentication failed" in err, err[-300:])
    from kafka.admin import KafkaAdminClient
    from kafka.errors import NoBrokersAvailable
    admin = KafkaAdminClient(bootstrap_servers=BOOT,
                             security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="PLAIN",
                             sasl_plain_username="u",
                             sasl_plain_password=SECRET)
    check("kafka_python_good", "src.shop.users" in admin.list_topics())
    admin.close()
    try:
        KafkaAdminClient(bootstrap_servers=BOOT,
                         security_protocol="SASL_PLAINTEXT",
                         sasl_mechanism="PLAIN", sasl_plain_username="u",
                         sasl_plain_password="bad", request_timeout_ms=5000)
        check("kafka_python_bad", False, "connected")
    except NoBrokersAvailable:
        check("kafka_python_bad", True)
    base = stat(t, "kafka_errors_unauthenticated")
    # Before authentication: ApiVersions is served, Metadata closes.
    s = raw_conn()
    s.sendall(frame(18, 0, 1))
    d = recv_frame(s)
    check("api_versions_before_auth", d is not None and d[:4] ==
          struct.pack(">i", 1), repr(d))
    s.sendall(frame(3, 1, 2, struct.pack(">i", -1)))
    check("metadata_before_auth_closed", closed(s), "answered")
    s.close()
    got = wait_stat(t, "kafka_errors_unauthenticated", base + 1) - base
    check("unauthenticated_counted", got == 1, str(got))
    check("auth_failures_counted", stat(t, "kafka_errors_auth_failed") >= 2,
          str(stat(t, "kafka_errors_auth_failed")))
    # A handshake for another mechanism is refused with the list.
    s = raw_conn()
    s.sendall(frame(17, 1, 3, struct.pack(">h", 5) + b"SCRAM"))
    d = recv_frame(s)
    check("other_mechanism",
          d == struct.pack(">ihih", 3, 33, 1, 5) + b"PLAIN", repr(d))
    s.close()
    topics, md = kcat_list()
    check("still_serves", topics == {"src.shop.users": 1}, str(md))


def mode_advertised():
    # Started with --kafka-advertised localhost:KAFKA_PORT: Metadata names
    # that address, and librdkafka connects to it.
    topics, md = kcat_list()
    check("metadata_names_advertised",
          md is not None and not isinstance(md, str) and
          md["brokers"] == [{"id": 0, "name": "localhost:%d" % KAFKA_PORT}],
          str(md))


{"advertised": mode_advertised, "budget": mode_budget, "names": mode_names,
 "no_auto_create": mode_no_auto_create, "create": mode_create, "hostile": mode_hostile,
 "conns": mode_conns, "sasl": mode_sasl}[MODE]()
sys.exit(failed)
