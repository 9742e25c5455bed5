-- sluice_snapshots: the snapshot windows open in each partition, kept by
-- sluice-apply in the target database (the DB of --target) beside
-- sluice_offsets and written in the same target transaction, so a restart
-- knows which tables are still tolerant (docs/apply.md, "Snapshots").
--   group_name, topic, part  as in sluice_offsets
--   db, tbl                  the source table (as events name it)
--   snapshot_id              the snapshot's id (snapshot.id of the events)
--   start_offset             offset of its snapshot_start event
-- A row exists from the snapshot_start event to the snapshot_done event.
-- sluice-apply creates the table when it is missing; this file is the same
-- statement (a unit test keeps them equal).
CREATE TABLE IF NOT EXISTS sluice_snapshots (
  group_name VARCHAR(128) NOT NULL,
  topic VARCHAR(128) NOT NULL,
  part VARCHAR(255) NOT NULL,
  db VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  tbl VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  snapshot_id VARCHAR(255) NOT NULL,
  start_offset BIGINT UNSIGNED NOT NULL,
  started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (group_name, topic, part, db, tbl)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
