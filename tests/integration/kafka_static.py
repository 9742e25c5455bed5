#!/usr/bin/python3
"""Static group membership (KIP-345, group.instance.id) on sluice-broker's
Kafka listener against a real client nobody here wrote: kcat -G
(librdkafka 2.0), watched through its cgrp debug log and the broker's
stats (docs/kafka.md, "Consumer groups"):

  - members A (instance sa) and B (instance sb) share a topic of three
    partitions; B is killed with -9 and started again under the same
    instance id within its session timeout: it gets the partitions it had
    and A sees no rebalance (no new "Group ... rebalanced" line in A's
    log over two of its heartbeats, kafka_group_rebalances unchanged,
    kafka_group_static_rejoins counted);
  - a second process with B's instance id fences the first: that one
    stops on librdkafka's fatal FENCED_INSTANCE_ID error, the newcomer gets
    B's partitions, again without a rebalance of A;
  - B killed -9 and not restarted: when its session ends the broker
    removes it (kafka_group_expired) and A is given every partition;
  - on the wire: after a takeover the old member id is answered
    FENCED_INSTANCE_ID by SyncGroup v3, Heartbeat v3 and OffsetCommit v7,
    the new one is not; LeaveGroup v3 removes static members in one
    request by their instance ids, with Kafka's per-member errors.

librdkafka 2.0's own mock cluster is no reference here: it does not
implement static membership (tried with these same steps: the restarted
member joins as a new one and the group rebalances, a duplicate instance
id is not fenced), so Kafka's rules (KIP-345) are what sluice-broker is
held to. Run by kafka_static.sh, which starts the broker:

    kafka_static.py TEXT_PORT KAFKA_PORT
"""
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

TEXT_PORT = int(sys.argv[1])
BOOT = "127.0.0.1:%d" % int(sys.argv[2])
TOPIC = "kstatic"
SESSION_B = 15000  # B's session: its restart must come within it.
failed = 0


def check(name, ok, detail=""):
    global failed
    if ok:
        print("PASS kafka_static:%s" % name)
    else:
        failed = 1
        print("FAIL kafka_static:%s: %s" % (name, detail))
    sys.stdout.flush()


class Member:
    """One kcat -G process of group `group` with a group.instance.id; its
    librdkafka cgrp debug log is read from a file."""

    def __init__(self, boot, group, iid, session_ms, tmp, n):
        self.log = os.path.join(tmp, "%s-%s-%d.err" % (group, iid, n))
        self.err = open(self.log, "wb")
        self.proc = subprocess.Popen(
            ["kcat", "-b", boot, "-G", group, "-d", "cgrp",
             "-X", "group.instance.id=" + iid,
             "-X", "session.timeout.ms=%d" % session_ms,
             "-X", "auto.offset.reset=earliest", TOPIC],
            stdout=subprocess.DEVNULL, stderr=self.err)

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def events(self):
        """kcat's rebalance lines: [("assigned"|"revoked", {partitions})]."""
        out = []
        for m in re.finditer(r"^% Group \S+ rebalanced \(memberid [^)]*\): "
                             r"(assigned|revoked): ?(.*)$", self.text(), re.M):
            parts = set(int(p) for p in re.findall(r"\[(\d+)\]", m.group(2)))
            out.append((m.group(1), parts))
        return out

    def assigned(self):
        """The partitions of the last assignment, None before any."""
        ev = [p for kind, p in self.events() if kind == "assigned"]
        return ev[-1] if ev else None

    def heartbeats(self):
        return self.text().count("|HEARTBEAT|")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.err.close()


def wait_until(what, cond, limit=90):
    """Polls cond until it holds; False after limit seconds (a hang, not
    a timing assertion: every condition here is an event)."""
    end = time.time() + limit
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    print("# waited %ds for %s" % (limit, what))
    return False


def quiet_over_two_heartbeats(a):
    """Waits until A sent two more heartbeats: a rebalance the group went
    into would have reached A by then (REBALANCE_IN_PROGRESS)."""
    hb = a.heartbeats()
    return wait_until("two heartbeats of A", lambda: a.heartbeats() >= hb + 2)


def scenario(boot, group, tmp):
    """The kill/restart, duplicate and expiry steps against boot; returns
    a dict of what was observed (and the stats where sluice serves)."""
    seen = {}
    a = Member(boot, group, "sa", 30000, tmp, 1)
    b = Member(boot, group, "sb", SESSION_B, tmp, 1)
    members = [a, b]
    try:
        ok = wait_until("A and B sharing the partitions", lambda: (
            b.assigned() and a.assigned() is not None and
            a.assigned() | b.assigned() == {0, 1, 2} and
            not a.assigned() & b.assigned()))
        seen["shared"] = ok
        if not ok:
            seen["logs"] = a.text()[-400:] + b.text()[-400:]
            return seen
        b_parts = b.assigned()
        a_events = len(a.events())
        seen["stats0"] = stats()
        # B restarts within its session under the same instance id.
        b.kill()
        b2 = Member(boot, group, "sb", SESSION_B, tmp, 2)
        members.append(b2)
        wait_until("B's restart assigned", lambda: b2.assigned() is not None)
        quiet_over_two_heartbeats(a)
        seen["restart_same_partitions"] = b2.assigned() == b_parts
        seen["restart_other_rebalanced"] = len(a.events()) != a_events
        seen["stats1"] = stats()
        # A second process with the same instance id fences the first.
        b3 = Member(boot, group, "sb", SESSION_B, tmp, 3)
        members.append(b3)
        wait_until("the older process to stop",
                   lambda: b2.proc.poll() is not None, 60)
        wait_until("the newcomer assigned", lambda: b3.assigned() is not None)
        quiet_over_two_heartbeats(a)
        seen["dup_older_fenced"] = (b2.proc.poll() is not None and
                                    "fenced" in b2.text().lower())
        seen["dup_newer_same_partitions"] = b3.assigned() == b_parts
        seen["dup_other_rebalanced"] = len(a.events()) != a_events
        seen["stats2"] = stats()
        # B gone for good: its session ends, A gets everything.
        b3.kill()
        seen["expiry_other_gets_all"] = wait_until(
            "A assigned every partition", lambda: a.assigned() == {0, 1, 2},
            SESSION_B // 1000 + 60)
        seen["stats3"] = stats()
    finally:
        for m in members:
            m.kill()
    return seen


def wire_fencing():
    """Raw requests (kafka_groups/common.py): a static member taken over
    by a second JoinGroup v5 under its instance id; the old member id is
    then fenced on each request version that carries the instance id
    (SyncGroup v3, Heartbeat v3, OffsetCommit v7), the new one is not."""
    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "kafka_groups"))
    from common import Conn, s16, sbytes
    c = Conn(int(BOOT.split(":")[1]))
    group, iid = "gs-wire", "wi"

    def join():
        c.send(11, 5, s16(group) + struct.pack(">ii", 30000, 30000) +
               s16("") + s16(iid) + s16("consumer") +
               struct.pack(">i", 1) + s16("range") + sbytes(b""))
        r = c.recv()
        r.i32()
        err, gen = r.i16(), r.i32()
        r.str()
        leader, member = r.str(), r.str()
        return err, gen, leader, member

    def head(gen, member):
        return s16(group) + struct.pack(">i", gen) + s16(member) + s16(iid)

    def sync(gen, member):
        c.send(14, 3, head(gen, member) + struct.pack(">i", 0))
        r = c.recv()
        r.i32()
        return r.i16()

    def heartbeat(gen, member):
        c.send(12, 3, head(gen, member))
        r = c.recv()
        r.i32()
        return r.i16()

    def commit(gen, member):
        c.send(8, 7, head(gen, member) + struct.pack(">i", 1) + s16(TOPIC) +
               struct.pack(">iiqi", 1, 0, 1, -1) + s16(""))
        r = c.recv()
        r.i32()
        r.i32()
        r.str()
        r.i32()
        r.i32()
        return r.i16()

    e1, g1, lead1, old = join()
    s1 = sync(g1, old)
    e2, g2, lead2, new = join()
    got = (e1, s1, e2, g2 == g1, lead2 == old, new != old,
           sync(g1, old), heartbeat(g1, old), commit(g1, old),
           sync(g2, new), heartbeat(g2, new), commit(g2, new))
    want = (0, 0, 0, True, True, True, 82, 82, 82, 0, 0, 0)
    check("wire_old_member_id_fenced_new_one_not", got == want,
          "got %s, want %s" % (got, want))
    # Gone before the scenario counts sessions that end.
    c.send(13, 1, s16(group) + s16(new))
    r = c.recv()
    r.i32()
    check("wire_member_leaves", r.i16() == 0)


def wire_batch_leave():
    """LeaveGroup v3 (KIP-345): static members leave in one request by
    their group.instance.id, each with its own error, as Kafka's
    GroupCoordinator answers: a member id that is a member of the group
    but not the instance's holder is fenced, an unknown member id or
    instance id is UNKNOWN_MEMBER_ID, a member that already left likewise;
    afterwards the members are gone (Heartbeat v3: UNKNOWN_MEMBER_ID)."""
    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "kafka_groups"))
    from common import Conn, s16, sbytes
    port = int(BOOT.split(":")[1])
    ca, cb = Conn(port), Conn(port)
    group = "gs-leave"

    def join_send(c, member, iid):
        c.send(11, 5, s16(group) + struct.pack(">ii", 30000, 30000) +
               s16(member) + s16(iid) + s16("consumer") +
               struct.pack(">i", 1) + s16("range") + sbytes(b""))

    def join_recv(c):
        r = c.recv()
        r.i32()
        err, gen = r.i16(), r.i32()
        r.str()
        r.str()
        return err, gen, r.str()

    join_send(ca, "", "b1")
    e1, g1, m1 = join_recv(ca)
    ca.send(14, 3, s16(group) + struct.pack(">i", g1) + s16(m1) + s16("b1") +
            struct.pack(">i", 0))
    r = ca.recv()
    r.i32()
    s1 = r.i16()
    # b2 joins (held while the group rebalances) and b1 joins again. The
    # two requests travel on two connections, so b1 rejoins only once the
    # broker has b2's join: until then a rejoin of the only member would
    # end the rebalance alone and b2's join start another (a different
    # generation each: this failed under load). b1 learns of the
    # rebalance as Kafka members do, from its heartbeat's
    # REBALANCE_IN_PROGRESS (27).
    join_send(cb, "", "b2")
    hb1 = None
    for _ in range(600):
        ca.send(12, 3, s16(group) + struct.pack(">i", g1) + s16(m1) +
                s16("b1"))
        r = ca.recv()
        r.i32()
        hb1 = r.i16()
        if hb1 != 0:
            break
        time.sleep(0.05)
    check("wire_batch_leave_rebalance_seen", hb1 == 27,
          "b1's heartbeat after b2 joined: %s" % hb1)
    join_send(ca, m1, "b1")
    ea, ga, _ = join_recv(ca)
    eb, gb, m2 = join_recv(cb)
    check("wire_batch_leave_setup",
          (e1, s1, ea, eb) == (0, 0, 0, 0) and ga == gb and m2 != m1,
          "join %d sync %d rejoin %d join b2 %d gen %d/%d" %
          (e1, s1, ea, eb, ga, gb))

    def nstr(v):
        return struct.pack(">h", -1) if v is None else s16(v)

    leaving = [(m2, "b1"), ("no-such-member", "b1"), ("", "nobody"),
               ("", "b1"), (m2, "b2"), (m2, None)]
    body = s16(group) + struct.pack(">i", len(leaving))
    for mid, iid in leaving:
        body += s16(mid) + nstr(iid)
    ca.send(13, 3, body)
    r = ca.recv()
    r.i32()
    top, n = r.i16(), r.i32()
    got = [(r.str(), r.str(), r.i16()) for _ in range(max(n, 0))]
    want = [(m2, "b1", 82), ("no-such-member", "b1", 25), ("", "nobody", 25),
            ("", "b1", 0), (m2, "b2", 0), (m2, None, 25)]
    check("wire_batch_leave_by_instance_id", top == 0 and got == want,
          "top %d, got %s, want %s" % (top, got, want))
    cb.send(12, 3, s16(group) + struct.pack(">i", gb) + s16(m2) + s16("b2"))
    r = cb.recv()
    r.i32()
    hb = r.i16()
    check("wire_batch_leave_members_gone", hb == 25,
          "heartbeat of a member that left: %d" % hb)


def stats():
    """The broker's group counters."""
    p = subprocess.run(["bin/sluice", "--broker", "127.0.0.1:%d" % TEXT_PORT,
                        "stats"], capture_output=True, timeout=60)
    out = {}
    for line in p.stdout.decode().splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == "STAT" and f[1].startswith("kafka_group"):
            out[f[1]] = int(f[2])
    return out


def main():
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=20000)
    r = admin.create_topics([NewTopic(TOPIC, 3, 1)])
    admin.close()
    check("create_topic", all(e[1] == 0 for e in r.topic_errors), str(r))
    wire_fencing()
    wire_batch_leave()
    s = scenario(BOOT, "gs", tempfile.mkdtemp(prefix="kstatic."))
    check("members_share_partitions", s.get("shared"), s.get("logs", ""))
    if not s.get("shared"):
        return failed
    st0, st1, st2, st3 = s["stats0"], s["stats1"], s["stats2"], s["stats3"]
    check("restart_gets_its_partitions_back", s["restart_same_partitions"])
    check("restart_does_not_rebalance_others",
          not s["restart_other_rebalanced"] and
          st1["kafka_group_rebalances"] == st0["kafka_group_rebalances"],
          "A rebalanced %s; rebalances %d -> %d" % (
              s["restart_other_rebalanced"], st0["kafka_group_rebalances"],
              st1["kafka_group_rebalances"]))
    check("restart_counted_as_static_rejoin",
          st1["kafka_group_static_rejoins"] ==
          st0["kafka_group_static_rejoins"] + 1, str(st1))
    check("duplicate_fences_older_process", s["dup_older_fenced"])
    check("duplicate_newer_gets_partitions_without_rebalance",
          s["dup_newer_same_partitions"] and not s["dup_other_rebalanced"] and
          st2["kafka_group_rebalances"] == st0["kafka_group_rebalances"],
          str(st2))
    check("duplicate_counted_as_fenced", st2["kafka_group_fenced"] >= 1,
          str(st2))
    check("session_end_removes_static_member",
          s["expiry_other_gets_all"] and
          st3["kafka_group_expired"] == st2["kafka_group_expired"] + 1 and
          st3["kafka_group_rebalances"] > st2["kafka_group_rebalances"],
          str(st3))
    return failed


if __name__ == "__main__":
    sys.exit(main())
