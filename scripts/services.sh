#!/usr/bin/env bash
# Starts PostgreSQL, MariaDB and Redis on their standard loopback ports if they are not running,
# installing them from Debian's packages first on a machine that lacks them.
set -uo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
wait_for() { # name, command
  for _ in $(seq 1 60); do eval "$2" >/dev/null 2>&1 && { echo "$1: up"; return 0; }; sleep 1; done
  echo "$1: did not come up" >&2; return 1
}

# PostgreSQL (trust auth on 127.0.0.1, database "test")
if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  command -v pg_ctlcluster >/dev/null || install postgresql postgresql-client
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  if [ -n "$ver" ]; then
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    grep -q "trust" "$hba" 2>/dev/null || sed -i 's/\(scram-sha-256\|md5\|peer\)$/trust/' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  fi
  wait_for postgresql "pg_isready -h 127.0.0.1 -p 5432"
  psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
else
  echo "postgresql: up"
fi

# MariaDB (root, empty password, database "test")
if ! mysqladmin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || install mariadb-server mariadb-client
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
  wait_for mariadb "mysqladmin -h 127.0.0.1 -uroot ping"
  mysql -h 127.0.0.1 -uroot -e "CREATE DATABASE IF NOT EXISTS test" || true
else
  echo "mariadb: up"
fi

# Redis (no persistence)
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  command -v redis-server >/dev/null || install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis "redis-cli -h 127.0.0.1 -p 6379 ping"
else
  echo "redis: up"
fi
exit 0
