-- The position of record of sluice-apply with a PostgreSQL target
-- (docs/postgresql.md): one row per consumer group, topic and partition,
-- updated in the same PostgreSQL transaction as the rows it covers.
-- sluice-apply creates it when missing, in the first schema of the
-- connecting role's search_path (normally public) of the --target database.
CREATE TABLE IF NOT EXISTS sluice_offsets (
  group_name text NOT NULL,
  topic text NOT NULL,
  part text NOT NULL,
  next_offset bigint NOT NULL,
  trx_applied bigint NOT NULL DEFAULT 0,
  rows_applied bigint NOT NULL DEFAULT 0,
  last_trx text NOT NULL DEFAULT '',
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, topic, part)
);
