#!/usr/bin/env python3
"""Random changes for the snapshot end-to-end tests (snapshot_e2e.sh,
snapshot_pg.sh), written as SQL for the source while a snapshot reads the
table: updates, deletes, upserting inserts and primary-key moves (to keys
past the seeded range, so they cross chunk boundaries), in batches each
ended by a "-- batch" line.

usage: snapshot_writes.py DB.TABLE ROWS BATCHES PER_BATCH SEED
The table is (id BIGINT PRIMARY KEY, v BIGINT, pad VARCHAR(40)) seeded
with ids 1..ROWS."""
import random
import sys

table, n, batches, per, seed = sys.argv[1], *map(int, sys.argv[2:6])
r = random.Random(seed)
for b in range(batches):
    for i in range(per):
        k = r.randint(1, n)
        x = r.random()
        if x < 0.5:
            print("UPDATE %s SET v = v + 1 WHERE id = %d;" % (table, k))
        elif x < 0.65:
            print("DELETE FROM %s WHERE id = %d;" % (table, k))
        elif x < 0.85:
            print("INSERT INTO %s VALUES (%d, %d, 'w') ON DUPLICATE "
                  "KEY UPDATE v = v + 1000, pad = 'w';" % (table, k, i))
        else:
            print("UPDATE IGNORE %s SET id = %d WHERE id = %d;"
                  % (table, n + 1 + b * per + i, k))
    print("-- batch")
