"""The group coordinator with raw Kafka requests (no client library), for
what clients never do on purpose:
  - a member whose connection dies while its JoinGroup is held: the
    rebalance still completes, the dead member stays in the generation
    until its session ends (as in Kafka), then a rebalance removes it; the
    broker neither crashes nor leaks the held reply;
  - a follower's SyncGroup after the leader's gets its assignment (Kafka's
    rule; librdkafka 2.0's mock answers INVALID_REQUEST);
  - malformed group requests (a protocol count larger than the request)
    close that connection only.

Usage: hostile.py TEXT_PORT KAFKA_PORT"""
import struct
import sys
import time

from common import Conn as RawConn, Text, check, finish, s16, sbytes

text_port, kafka_port = int(sys.argv[1]), int(sys.argv[2])
LIMIT_S = 60


def Conn():
    return RawConn(kafka_port, LIMIT_S)


def join(conn, member, session_ms=6000):
    """JoinGroup v0 of group "h"; returns (error, generation, leader,
    member id, [member ids listed])."""
    body = (s16("h") + struct.pack(">i", session_ms) + s16(member) +
            s16("consumer") + struct.pack(">i", 1) + s16("range") +
            sbytes(b"meta-" + member.encode()))
    conn.send(11, 0, body)


def join_reply(conn):
    r = conn.recv()
    err, gen = r.i16(), r.i32()
    r.str()
    leader, me = r.str(), r.str()
    members = []
    for _ in range(r.i32()):
        members.append(r.str())
        r.bytes()
    return err, gen, leader, me, members


def sync(conn, gen, member, assigns):
    body = s16("h") + struct.pack(">i", gen) + s16(member)
    body += struct.pack(">i", len(assigns))
    for m, a in assigns:
        body += s16(m) + sbytes(a)
    conn.send(14, 0, body)
    r = conn.recv()
    return r.i16(), r.bytes()


def heartbeat(conn, gen, member):
    conn.send(12, 0, s16("h") + struct.pack(">i", gen) + s16(member))
    return conn.recv().i16()


a = Conn()
join(a, "")
err, gen, leader, ma, _ = join_reply(a)
check("kafka_groups_raw_first_join", err == 0 and gen == 1 and leader == ma,
      "err=%d gen=%d" % (err, gen))
err, _ = sync(a, gen, ma, [(ma, b"A1")])

# b joins; its JoinGroup is held until a rejoins. Then b's socket dies.
b = Conn()
join(b, "")
time.sleep(0.2)  # Lets the broker read it; the outcome does not depend on it.
b.sock.close()
deadline = time.time() + LIMIT_S
while heartbeat(a, gen, ma) != 27:  # REBALANCE_IN_PROGRESS
    if time.time() > deadline:
        break
    time.sleep(0.1)
join(a, ma)
err, gen2, leader, _, members = join_reply(a)
check("kafka_groups_dead_member_join_does_not_block_rebalance",
      err == 0 and gen2 == 2 and len(members) == 2,
      "err=%d gen=%d members=%s" % (err, gen2, members))
sync(a, gen2, ma, [(ma, b"A2")])

# The dead member's session ends (6 s without a heartbeat): a rebalance
# without it.
deadline = time.time() + LIMIT_S
hb = None
while time.time() < deadline:
    hb = heartbeat(a, gen2, ma)
    if hb == 27:
        break
    time.sleep(0.2)
join(a, ma)
err, gen3, _, _, members = join_reply(a)
check("kafka_groups_dead_member_expires",
      hb == 27 and err == 0 and gen3 == 3 and members == [ma],
      "heartbeat %r, join %d, generation %d, members %s"
      % (hb, err, gen3, members))
sync(a, gen3, ma, [(ma, b"A3")])

# A new follower c joins; the leader rejoins and syncs first, c after it.
c = Conn()
join(c, "")
deadline = time.time() + LIMIT_S
while heartbeat(a, gen3, ma) != 27 and time.time() < deadline:
    time.sleep(0.1)
join(a, ma)
err, gen4, _, _, members = join_reply(a)
err_c, gen_c, _, mc, _ = join_reply(c)
serr, sa = sync(a, gen4, ma, [(ma, b"A4"), (mc, b"C4")])
serr_c, sc = sync(c, gen4, mc, [])
check("kafka_groups_follower_sync_after_leader_gets_assignment",
      err == 0 and err_c == 0 and gen_c == gen4 and serr == 0 and
      serr_c == 0 and sc == b"C4",
      "join %d/%d sync %d/%d assignment %r" % (err, err_c, serr, serr_c, sc))

# A JoinGroup claiming more protocols than it holds: that connection is
# closed, the others go on.
d = Conn()
d.send(11, 0, s16("h") + struct.pack(">i", 6000) + s16("") +
       s16("consumer") + struct.pack(">i", 1 << 30))
try:
    d.recv()
    closed = False
except (ConnectionError, OSError):
    closed = True
t = Text(text_port)
status, _ = t.cmd("committed h nothing #0")
check("kafka_groups_malformed_join_closes_only_its_connection",
      closed and status in (200, 404), "closed=%s status=%d" % (closed,
                                                              status))
finish()
