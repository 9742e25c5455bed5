-- sluice_offsets: where sluice-apply stands in each partition, kept in the
-- target database (the DB of --target) and updated in the same target
-- transaction as the rows it covers, so a restart resumes exactly once.
--   group_name, topic, part  the consumer group, broker topic and partition
--   next_offset              offset of the next message to apply
--   trx_applied              source transactions applied so far (summed)
--   rows_applied             row changes applied so far (summed)
--   last_trx                 id (GTID or file:pos) of the last transaction
-- sluice-apply creates the table when it is missing; this file is the same
-- statement (a unit test keeps them equal).
CREATE TABLE IF NOT EXISTS sluice_offsets (
  group_name VARCHAR(128) NOT NULL,
  topic VARCHAR(128) NOT NULL,
  part VARCHAR(255) NOT NULL,
  next_offset BIGINT UNSIGNED NOT NULL,
  trx_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,
  rows_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,
  last_trx VARCHAR(255) NOT NULL DEFAULT '',
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (group_name, topic, part)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
