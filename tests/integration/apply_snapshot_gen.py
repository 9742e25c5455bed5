#!/usr/bin/env python3
"""Writes hand-built change events in the snapshot contract's format
(docs/change-events.md: read rows, snapshot_start, snapshot_done; stream
transactions with begin/commit) for tests/integration/apply_snapshot.sh,
and the table the target must end with.

usage: apply_snapshot_gen.py big OUT.jsonl EXPECTED N SEED
  A snapshot of table sn_src.big (id INT PRIMARY KEY, v INT, s VARCHAR)
  with N rows, read in chunks of 500 in key order, with stream
  transactions between the chunks that update, delete, insert and move
  keys (also keys not read yet), then snapshot_done and a few more
  transactions. The read rows always carry the source's value at the
  moment of the read (what capture's watermark rule guarantees), so
  applying the stream in order must end with the source's table.
  EXPECTED receives "rows crc events trx": the row count, the sum of
  CRC32("id|v|s") over the rows (as MariaDB's CRC32(CONCAT_WS('|',...))),
  the number of row events and of stream transactions.
"""
import json
import random
import sys
import zlib

SRC = {"file": "b.000001", "pos": 4, "end_pos": 4, "server_id": 1, "ts": 1}


def row_ev(op, before, after, trx=None, snap=None, row=0, table="big"):
    ev = {"kind": "row", "op": op, "db": "sn_src", "table": table,
          "row": row, "pk": ["id"], "before": before, "after": after,
          "src": SRC}
    if trx is not None:
        ev["trx"] = trx
    if snap is not None:
        ev["snapshot"] = snap
    return ev


def main():
    if len(sys.argv) != 6 or sys.argv[1] != "big":
        sys.exit(__doc__)
    out, expected, n, seed = sys.argv[2], sys.argv[3], int(sys.argv[4]), \
        int(sys.argv[5])
    rnd = random.Random(seed)
    src = {i: {"id": i, "v": i * 7 % 1000, "s": "s%d" % i}
           for i in range(1, n + 1)}
    evs = []
    nrow = 0
    ntrx = 0
    next_new = n + 1

    def trx():
        nonlocal nrow, ntrx, next_new
        ntrx += 1
        t = {"seq": ntrx, "id": "0-1-%d" % ntrx}
        evs.append({"kind": "begin", "src": SRC, "trx": t})
        k = 0
        for _ in range(rnd.randint(1, 4)):
            what = rnd.random()
            keys = list(src)
            if what < 0.4 and keys:
                i = rnd.choice(keys)
                b = dict(src[i])
                src[i]["v"] = rnd.randint(0, 10 ** 6)
                evs.append(row_ev("update", b, dict(src[i]), t, row=k))
            elif what < 0.6 and keys:
                i = rnd.choice(keys)
                evs.append(row_ev("delete", src.pop(i), None, t, row=k))
            elif what < 0.8:
                # A new key, sometimes inside the range not read yet.
                i = next_new if rnd.random() < 0.5 else rnd.randint(1, n)
                if i in src:
                    i = next_new
                if i == next_new:
                    next_new += 1
                src[i] = {"id": i, "v": rnd.randint(0, 99), "s": "n%d" % i}
                evs.append(row_ev("insert", None, dict(src[i]), t, row=k))
            elif keys:
                # The key moves (across chunk boundaries too).
                i = rnd.choice(keys)
                j = next_new if rnd.random() < 0.5 else rnd.randint(1, n)
                if j in src:
                    j = next_new
                if j == next_new:
                    next_new += 1
                b = src.pop(i)
                a = dict(b)
                a["id"] = j
                src[j] = a
                evs.append(row_ev("update", b, dict(a), t, row=k))
            else:
                continue
            k += 1
        if k == 0:
            i = next_new
            next_new += 1
            src[i] = {"id": i, "v": 1, "s": "n%d" % i}
            evs.append(row_ev("insert", None, dict(src[i]), t, row=0))
            k = 1
        nrow += k
        evs.append({"kind": "commit", "rows": k, "src": SRC, "trx": t})

    snap = "snap-%d" % seed
    evs.append({"kind": "snapshot_start", "db": "sn_src", "table": "big",
                "snapshot": {"id": snap, "estimate": n}, "src": SRC})
    last, chunk, ri = 0, 0, 0
    while last < n:
        for _ in range(rnd.randint(0, 3)):
            trx()
        # The chunk: keys (last, last+500] as the source has them now.
        hi = last + 500
        for i in sorted(k for k in src if last < k <= hi):
            evs.append(row_ev("read", None, dict(src[i]),
                              snap={"id": snap, "chunk": chunk}, row=ri))
            ri += 1
            nrow += 1
        last = hi
        chunk += 1
    evs.append({"kind": "snapshot_done", "db": "sn_src", "table": "big",
                "snapshot": {"id": snap, "chunks": chunk, "rows": ri},
                "src": SRC})
    for _ in range(20):
        trx()
    with open(out, "w") as f:
        for e in evs:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    crc = sum(zlib.crc32(("%d|%d|%s" % (r["id"], r["v"], r["s"])).encode())
              for r in src.values())
    with open(expected, "w") as f:
        f.write("%d %d %d %d\n" % (len(src), crc, nrow, ntrx))


main()
