"""A group's committed offsets are one thing whichever protocol commits
them: a text-protocol `commit` is what kafka-python's OffsetFetch reads,
and a kafka-python OffsetCommit (a "simple" commit, generation -1, of a
consumer that assigns itself partitions) is what `committed` reads.

Usage: xproto.py TEXT_PORT KAFKA_PORT"""
import sys

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from common import Text, check, finish

text_port, kafka_port = int(sys.argv[1]), int(sys.argv[2])
t = Text(text_port)
# Kafka topic "xp" partitions 0 and 1 are sluice partitions "#0", "#1" of
# topic "xp" (the direct form of docs/kafka.md's names).
for i in range(5):
    t.put("xp", "#0", "a%d" % i)
    t.put("xp", "#1", "b%d" % i)

status, rest = t.cmd("commit xg xp #0 3")
check("kafka_groups_text_commit_accepted", status == 200, rest)

c = KafkaConsumer(bootstrap_servers="127.0.0.1:%d" % kafka_port,
                  group_id="xg", enable_auto_commit=False,
                  request_timeout_ms=30000)
tp0, tp1 = TopicPartition("xp", 0), TopicPartition("xp", 1)
got = c.committed(tp0)
check("kafka_groups_text_commit_read_by_offset_fetch", got == 3,
      "OffsetFetch gave %r" % got)
got = c.committed(tp1)
check("kafka_groups_offset_fetch_none_is_null", got is None,
      "OffsetFetch of a partition never committed gave %r" % got)

c.assign([tp0, tp1])
c.commit({tp1: OffsetAndMetadata(4, "kept-or-dropped")})
got = t.committed("xg", "xp", "#1")
check("kafka_groups_offset_commit_read_by_text_committed", got == 4,
      "text committed gave %r" % got)
# The commit is durable before its reply: read back through Kafka too.
got = c.committed(tp1)
check("kafka_groups_offset_commit_read_back", got == 4, "gave %r" % got)

c.close()
t.close()
finish()
