# Sourced (not executed) by the official mariadb image's entrypoint from
# /docker-entrypoint-initdb.d on a container's first start; see
# docker/compose.yaml. SLUICE_ROLE (source or target) says which server
# this is; SLUICE_PASSWORD_FILE holds the password of the `sluice` user it
# creates. docker_process_sql is the entrypoint's helper that runs SQL as
# root on the temporary server.
#
# Both servers get the same example schema (`shop`): sluice-apply does not
# create tables unless ddl-replay is on, so the target needs them first.
sluice_pw=$(cat "${SLUICE_PASSWORD_FILE:?SLUICE_PASSWORD_FILE is not set}")

docker_process_sql <<'SQL'
CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.users (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  email VARCHAR(100) NOT NULL,
  name VARCHAR(100) NOT NULL,
  updated TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS shop.orders (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  user_id INT UNSIGNED NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  status ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
  KEY (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
SQL

case ${SLUICE_ROLE:-} in
source)
    # What sluice-capture needs (docs/getting-started.md, "Grants"),
    # including its snapshot watermarks in the `sluice` schema.
    # BINLOG MONITOR is MariaDB's name for REPLICATION CLIENT.
    docker_process_sql <<SQL
CREATE USER 'sluice'@'%' IDENTIFIED BY '$sluice_pw';
GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'sluice'@'%';
GRANT CREATE, INSERT, UPDATE ON sluice.* TO 'sluice'@'%';
SQL
    ;;
target)
    # What sluice-apply needs: write the replicated tables, and own the
    # database of sluice_offsets.
    docker_process_sql <<SQL
CREATE DATABASE IF NOT EXISTS sluice_meta;
CREATE USER 'sluice'@'%' IDENTIFIED BY '$sluice_pw';
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'sluice'@'%';
GRANT ALL PRIVILEGES ON sluice_meta.* TO 'sluice'@'%';
SQL
    ;;
*)
    echo "initdb.sh: SLUICE_ROLE must be source or target" >&2
    return 1
    ;;
esac
unset sluice_pw
