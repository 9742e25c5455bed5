-- The snapshot windows open in each partition of sluice-apply with a
-- PostgreSQL target (docs/postgresql.md, docs/apply.md "Snapshots"): one
-- row per consumer group, topic, partition and source table between its
-- snapshot_start and snapshot_done, written in the same PostgreSQL
-- transaction as the rows and the sluice_offsets row. sluice-apply creates
-- it when missing, beside sluice_offsets.
CREATE TABLE IF NOT EXISTS sluice_snapshots (
  group_name text NOT NULL,
  topic text NOT NULL,
  part text NOT NULL,
  db text NOT NULL,
  tbl text NOT NULL,
  snapshot_id text NOT NULL,
  start_offset bigint NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, topic, part, db, tbl)
);
