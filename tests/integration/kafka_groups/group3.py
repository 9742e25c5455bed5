"""A kafka-python consumer group of three members that rebalances as
members join and leave while a producer keeps producing.

Members A, B and C of group "g3" read topic "g3" (3 partitions, the
sluice partitions "#0".."#2" of topic "g3"), each committing
synchronously after every poll. A starts alone; B joins once something
was consumed, C later; then B leaves, then A leaves, and C reads to the
end. The producer (the text protocol's put) runs from the start until
N messages are out. Checked, without any timed assertion:
  - every produced message was consumed (at-least-once: duplicates after
    a rebalance are allowed, losses are not);
  - the group's committed offsets, read through the text protocol's
    `committed` while the test runs, never go backwards, and end at the
    end of each partition;
  - in each generation each partition was assigned to one member only,
    and each member consumed only from partitions assigned to it then;
  - at least four generations happened (joins and leaves rebalanced).
The one bound on time is an overall limit that fails a hang.

Usage: group3.py TEXT_PORT KAFKA_PORT"""
import sys
import threading
import time

from kafka import KafkaConsumer, ConsumerRebalanceListener, TopicPartition
from kafka.errors import CommitFailedError, KafkaError

from common import Text, check, finish

text_port, kafka_port = int(sys.argv[1]), int(sys.argv[2])
N = 900
PARTS = 3
LIMIT_S = 240

lock = threading.Lock()
consumed = []  # (member, generation, partition, offset, value)
assigned = {}  # (generation, partition) -> set of members
problems = []
stop_all = threading.Event()

# The topic's partitions exist before anyone subscribes.
t0 = Text(text_port)
produced = []
for p in range(PARTS):
    v = "m%d" % len(produced)
    t0.put("g3", "#%d" % p, v)
    produced.append(v)


def producer():
    t = Text(text_port)
    while len(produced) < N and not stop_all.is_set():
        i = len(produced)
        v = "m%d" % i
        t.put("g3", "#%d" % (i % PARTS), v)
        produced.append(v)
        time.sleep(0.01)
    t.close()


class Listener(ConsumerRebalanceListener):
    def __init__(self, member):
        self.member = member
        self.consumer = None
        self.owned = set()

    def on_partitions_revoked(self, revoked):
        self.owned = set()

    def on_partitions_assigned(self, parts):
        gen = self.consumer._coordinator._generation.generation_id
        self.owned = {tp.partition for tp in parts}
        with lock:
            for tp in parts:
                assigned.setdefault((gen, tp.partition), set()).add(
                    self.member)


def member(name, leave):
    lst = Listener(name)
    c = KafkaConsumer(bootstrap_servers="127.0.0.1:%d" % kafka_port,
                      group_id="g3", client_id="g3-" + name,
                      enable_auto_commit=False,
                      auto_offset_reset="earliest",
                      session_timeout_ms=10000, heartbeat_interval_ms=1000,
                      request_timeout_ms=30000)
    lst.consumer = c
    c.subscribe(["g3"], listener=lst)
    while not leave.is_set() and not stop_all.is_set():
        batch = c.poll(timeout_ms=200)
        for tp, recs in batch.items():
            gen = c._coordinator._generation.generation_id
            if tp.partition not in lst.owned:
                with lock:
                    problems.append("%s read %d outside its assignment %s"
                                    % (name, tp.partition, lst.owned))
            with lock:
                for r in recs:
                    consumed.append((name, gen, tp.partition, r.offset,
                                     r.value.decode()))
        if batch:
            try:
                c.commit()
            except (CommitFailedError, KafkaError):
                pass  # A rebalance: the next owner re-reads from the commit.
    c.close()  # Sends LeaveGroup.


def count():
    with lock:
        return len({v for (_, _, _, _, v) in consumed})


def wait_until(cond):
    while not cond():
        if time.time() > deadline:
            raise TimeoutError
        time.sleep(0.05)


deadline = time.time() + LIMIT_S
mon = Text(text_port)
last_committed = [0] * PARTS
backwards = []


def watch_commits():
    for p in range(PARTS):
        off = mon.committed("g3", "g3", "#%d" % p)
        if off is None:
            continue
        if off < last_committed[p]:
            backwards.append((p, last_committed[p], off))
        last_committed[p] = off


leaves = {n: threading.Event() for n in "ABC"}
threads = {n: threading.Thread(target=member, args=(n, leaves[n]))
           for n in "ABC"}
prod = threading.Thread(target=producer)
ok = True
try:
    prod.start()
    threads["A"].start()
    wait_until(lambda: count() >= 50)
    threads["B"].start()
    wait_until(lambda: count() >= 250)
    threads["C"].start()
    wait_until(lambda: count() >= 450)
    leaves["B"].set()
    threads["B"].join()
    wait_until(lambda: count() >= 600)
    leaves["A"].set()
    threads["A"].join()
    prod.join()

    def done():
        watch_commits()
        return count() >= N and sum(last_committed) >= N
    wait_until(done)
except TimeoutError:
    ok = False
stop_all.set()
for n in "ABC":
    leaves[n].set()
    if threads[n].is_alive() or threads[n].ident:
        threads[n].join()
prod.join()
watch_commits()

got = {v for (_, _, _, _, v) in consumed}
missing = [v for v in produced if v not in got]
check("kafka_groups_three_members_consume_every_message",
      ok and not missing and len(produced) == N,
      "%d of %d produced messages never consumed (first %s)%s"
      % (len(missing), len(produced), missing[:5],
         "" if ok else "; gave up after %d s" % LIMIT_S))
check("kafka_groups_committed_offsets_never_go_backwards", not backwards,
      "partition, before, after: %s" % backwards[:5])
ends = [sum(1 for v in produced if int(v[1:]) % PARTS == p)
        for p in range(PARTS)]
check("kafka_groups_commits_reach_the_end", last_committed == ends,
      "committed %s, partition ends %s" % (last_committed, ends))
shared = {k: v for k, v in assigned.items() if len(v) > 1}
check("kafka_groups_one_owner_per_partition_per_generation",
      not shared and not problems,
      "shared %s; %s" % (shared, problems[:3]))
gens = {g for (g, _) in assigned}
check("kafka_groups_joins_and_leaves_rebalance", len(gens) >= 4,
      "generations seen: %s" % sorted(gens))
finish()
