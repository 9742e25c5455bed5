"""OffsetCommit when the broker's disk is full (the shell test runs the
broker on a small tmpfs and fills it): raw OffsetCommit v2 requests of
two partitions are sent until the store refuses one; that partition's
error is COORDINATOR_NOT_AVAILABLE (retriable, as Kafka answers a failed
write of its offsets log), the broker stays up, and the text protocol's
`committed` agrees with every reply: the last accepted offset, never a
refused one. After the filler is removed, commits succeed again.

Usage: nospace.py TEXT_PORT KAFKA_PORT FILLER"""
import os
import struct
import sys

from common import Conn, Text, check, finish, s16

text_port, kafka_port, filler = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def commit(conn, offset):
    """A simple commit (generation -1) of xp/0 and xp/1 at offset; returns
    the two partitions' error codes."""
    body = (s16("nospace") + struct.pack(">i", -1) + s16("") +
            struct.pack(">q", -1) + struct.pack(">i", 1) + s16("ns") +
            struct.pack(">i", 2))
    for p in (0, 1):
        body += struct.pack(">iq", p, offset) + s16("")
    conn.send(8, 2, body)
    r = conn.recv()
    errs = {}
    for _ in range(r.i32()):
        r.str()
        for _ in range(r.i32()):
            p = r.i32()
            errs[p] = r.i16()
    return errs


t = Text(text_port)
t.put("ns", "#0", "x")
t.put("ns", "#1", "y")
c = Conn(kafka_port)
errs = commit(c, 1)
check("kafka_groups_nospace_commit_before_full", errs == {0: 0, 1: 0},
      "errors %s" % errs)

# Fill the file system, then commit until the store refuses.
with open(filler, "wb") as f:
    try:
        while True:
            f.write(b"\0" * (1 << 16))
            f.flush()
    except OSError:
        pass
accepted = {0: 1, 1: 1}
refused = []
disagree = []
for off in range(2, 2000):
    errs = commit(c, off)
    for p, e in errs.items():
        if e == 0:
            accepted[p] = off
        elif e == 15:
            refused.append((p, off))
        else:
            disagree.append("partition %d offset %d: error %d" % (p, off, e))
        got = t.committed("nospace", "ns", "#%d" % p)
        if got != accepted[p]:
            disagree.append("partition %d offset %d (error %d): committed %r"
                            % (p, off, e, got))
    if refused and len(refused) >= 4:
        break
check("kafka_groups_nospace_commit_refused_retriably",
      refused and not disagree,
      "refused %s; %s" % (refused[:3], disagree[:3]))

os.unlink(filler)
errs = commit(c, 5000)
got = t.committed("nospace", "ns", "#0")
check("kafka_groups_nospace_commit_after_space_returns",
      errs == {0: 0, 1: 0} and got == 5000, "errors %s committed %r"
      % (errs, got))
finish()
