# shellcheck shell=bash disable=SC2154,SC2034  # (variables come from products-configure and pass between steps)
# products-configure, steps: config (/etc/products/database.env, pgpass) and postgresql (the cluster, authentication, roles, database, replicas).
# Sourced by products-configure (/usr/sbin), in its shell: its options, helpers and the
# values preflight derived are in scope. Not a program of its own.

# ------------------------------------------------------------------------------------ config
step=config
install -d -m 0755 "$ETC"   # (services traverse it to their files; a 0700 one would lock them out)
before=$changes
if has server; then
  # Rewritten from the settings on every run (--role, --db-hosts): where the workers read.
  if [ "$ROLE" = app ]; then
    conninfo="host=$DB_HOSTS port=5432 dbname=products user=products_api passfile=$ETC/pgpass target_session_attrs=$target_attrs keepalives_idle=5 keepalives_interval=2 keepalives_count=3 tcp_user_timeout=5000"
    how="over TCP with a password (pgpass); --read-from $READ_FROM (standby: a hot standby if one answers, else the primary; any: the first that answers); TCP keepalives and tcp_user_timeout notice a host that vanished within ~10 s"
  else
    conninfo="host=/run/postgresql dbname=products user=products_api"
    how="peer authentication over the local socket"
  fi
  put_text "$ETC/database.env" 0640 <<EOF && { changed "$ETC/database.env"; server_restart=1; } || true
# Written by products-configure from its settings (/etc/products/host.conf); re-run it to
# change this (e.g. --db-hosts when a replica is added): edits here are replaced. Your own
# products-server options go in /etc/default/products-server, which wins over these.
# libpq conninfo of the read-only API role: $how.
PRODUCTS_DATABASE="$conninfo"
# --database-lifetime: seconds a worker uses a connection before connecting again (0: as long
# as it works), how soon a worker that moved to the primary comes back to a replica;
# --workers: 4 per usable CPU ($CPUS here) unless products-configure --workers said otherwise.
PRODUCTS_HOST_ARGS="--database-lifetime $DATABASE_LIFETIME --workers $WORKERS"
EOF
  [ "$check" = 1 ] || chgrp products "$ETC/database.env"
  if [ -n "$db_password_file" ]; then
    tmp=$(mktemp); printf '*:*:products:products_api:%s\n' "$(head -1 "$db_password_file")" >"$tmp"
    if put "$tmp" "$ETC/pgpass" 0600; then changed "$ETC/pgpass (products_api's password)"; server_restart=1; fi
    rm -f "$tmp"
    [ "$check" = 1 ] || chown products:products "$ETC/pgpass"
  fi
fi
[ "$changes" -gt "$before" ] || unchanged

# -------------------------------------------------------------------------------- postgresql
step=postgresql
before=$changes
if has db; then
PG_VERSION=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)   # (none yet: --check on a fresh host)
[ -n "$PG_VERSION" ] || [ "$check" = 1 ] || die "PostgreSQL is not installed"
PG_ETC=/etc/postgresql/$PG_VERSION/main
PG_DATA=/var/lib/postgresql/$PG_VERSION/main
PG_UNIT=postgresql@$PG_VERSION-main
if [ "$check" = 0 ] && [ ! -f "$PG_ETC/postgresql.conf" ]; then
  pg_createcluster "$PG_VERSION" main >/dev/null; changed "created cluster $PG_VERSION/main"
fi
# As postgres, from / (postgres cannot enter root's working directory; psql would say so).
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
psql_su() { as_postgres psql -X -q -v ON_ERROR_STOP=1 "$@"; }
pg_wait() { for _ in $(seq 120); do as_postgres pg_isready -q && return 0; sleep 0.5; done; as_postgres pg_isready -q; }
pg_restart=0; pg_reload=0
# Memory: shared_buffers 1/4 of it, the planner told 3/4 is cache; connections: two worker
# generations (a reload overlaps them), the importer's, and a margin for operators. A db host
# serves several app hosts: 200, enough for 6 app hosts of 4 CPUs (16 workers, x2 during a
# reload); a standby needs at least its primary's max_connections, so both db roles use it.
shared_mb=$((MEM_MB / 4)); [ $shared_mb -gt 8192 ] && shared_mb=8192; [ $shared_mb -lt 32 ] && shared_mb=32
maint_mb=$((MEM_MB / 16)); [ $maint_mb -gt 1024 ] && maint_mb=1024; [ $maint_mb -lt 32 ] && maint_mb=32
if [ "$ROLE" = single ]; then max_conn=$((2 * WORKERS + 20)); conn_note="2 x $WORKERS workers (reload overlap) + 20"
else max_conn=200; conn_note="app hosts x workers x 2 (reload overlap) + margin"; fi
if has net; then listen="localhost,$PRIVATE_ADDRESS"; listen_note="loopback and the private address; pg_hba.conf and products-firewall.service admit only the named hosts"
else listen=localhost; listen_note="local connections only (unix socket and loopback)"; fi
case "$ROLE" in
  db-primary) role_conf="# Streaming replication: replicas connect as products_replicator and keep a slot each
# (pg_basebackup -C). A slot keeps WAL until its replica has it; max_slot_wal_keep_size caps
# that, so a replica gone for good cannot fill the disk (it must then be made again).
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
max_slot_wal_keep_size = 8GB
wal_sender_timeout = 10s" ;;
  db-replica) role_conf="# A hot standby of $PRIMARY. A query that holds what replay must change (the import's
# swap takes an exclusive lock on the catalog's view) is cancelled after
# max_standby_streaming_delay, SQLSTATE 40001, and products-server retries it on another host:
# 5 s bounds how far the replica can fall behind for it, at the price of those retries.
hot_standby = on
max_standby_streaming_delay = 5s
# Off: the API's queries take milliseconds; feedback would only hold back vacuum on the primary.
hot_standby_feedback = off
wal_receiver_status_interval = 1s          # pg_stat_replication's lag figures, every second
wal_receiver_timeout = 10s" ;;
  *) role_conf="" ;;
esac
put_text "$PG_ETC/conf.d/products.conf" 0644 <<EOF && { changed "$PG_ETC/conf.d/products.conf"; pg_restart=1; } || true
# Written by the Products API's products-configure for this host ($ROLE, $CPUS CPU, $MEM_MB MB);
# re-running products-configure rewrites it. Your own settings: a later file in conf.d.
listen_addresses = '$listen'   # $listen_note
max_connections = $max_conn                 # $conn_note
shared_buffers = ${shared_mb}MB
effective_cache_size = $((MEM_MB * 3 / 4))MB
maintenance_work_mem = ${maint_mb}MB        # the importer's index builds
work_mem = 16MB
max_wal_size = 4GB                          # an import writes GBs: fewer forced checkpoints
checkpoint_completion_target = 0.9
wal_compression = on
default_toast_compression = lz4
random_page_cost = 1.1                      # SSD-backed volumes (EBS gp3)
max_worker_processes = 8
max_parallel_workers = $CPUS
max_parallel_maintenance_workers = $(( CPUS > 1 ? CPUS / 2 : 1 ))
jit = off                                   # JIT costs more than it saves on key lookups
log_line_prefix = '%m [%p] %q%u@%d@%h '
$role_conf
EOF
# Peer authentication: the OS user products connects as products_api only, products-import
# as products_owner only. The app hosts: products_api with its password (scram-sha-256), from
# their addresses only; replicas: products_replicator, for replication only. The blocks go
# first, so Debian's own lines stay for the rest.
hba_block='# products: begin (products-configure)
local   products   products_api,products_owner   peer map=products'
if has net; then
  for a in ${APP_HOSTS//,/ }; do hba_block+=$'\n'"host    products   products_api   $a/32   scram-sha-256"; done
fi
if [ "$ROLE" = db-primary ]; then
  for a in ${REPLICA_HOSTS//,/ }; do hba_block+=$'\n'"host    replication   products_replicator   $a/32   scram-sha-256"; done
fi
hba_block+=$'\n''# products: end'
ident_block='# products: begin (products-configure)
products   products          products_api
products   products-import   products_owner
# products: end'
for pair in "pg_hba.conf:$hba_block" "pg_ident.conf:$ident_block"; do
  file=$PG_ETC/${pair%%:*}; block=${pair#*:}
  [ -f "$file" ] || continue
  current=$(sed -n '/^# products: begin/,/^# products: end/p' "$file")
  [ "$current" = "$block" ] && continue
  if [ "$check" = 1 ]; then log "postgresql: would update $file"; changes=$((changes + 1)); continue; fi
  { printf '%s\n' "$block"; sed '/^# products: begin/,/^# products: end/d' "$file"; } >"$file.products-new"
  chown --reference="$file" "$file.products-new"; chmod --reference="$file" "$file.products-new"
  mv -f "$file.products-new" "$file"
  changed "$file"; pg_reload=1
done

# A replica starts as a copy of the primary (pg_basebackup: its data, roles and catalog),
# made once; later runs leave the standby's data alone.
if has replica && [ "$check" = 0 ] && [ ! -f "$PG_DATA/standby.signal" ]; then
  if [ -n "$replication_password_file" ]; then
    install -m 0600 -o postgres -g postgres /dev/null /var/lib/postgresql/.pgpass
    printf '*:*:replication:products_replicator:%s\n' "$(head -1 "$replication_password_file")" >/var/lib/postgresql/.pgpass
  fi
  systemctl start "$PG_UNIT" 2>/dev/null || true
  if pg_wait && [ "$(psql_su -tAc "SELECT 1 FROM pg_database WHERE datname = 'products'" 2>/dev/null)" = 1 ]; then
    die "this host's PostgreSQL holds a products database and is not a standby: refusing to replace it with a copy of $PRIMARY (a db-replica host must start empty)"
  fi
  systemctl stop "$PG_UNIT"
  slot=replica_$(hostname -s | tr -c 'a-z0-9_\n' '_')
  log "postgresql: copying $PRIMARY (pg_basebackup, slot $slot); minutes for a full catalog"
  rm -rf "$PG_DATA.products-old"; mv "$PG_DATA" "$PG_DATA.products-old"
  install -d -m 0700 -o postgres -g postgres "$PG_DATA"
  basebackup() { as_postgres env PGPASSFILE=/var/lib/postgresql/.pgpass pg_basebackup -h "$PRIMARY" -p 5432 -U products_replicator -w -D "$PG_DATA" \
    -X stream -c fast -R -S "$slot" "$@" >/tmp/products-basebackup.log 2>&1; }
  if ! basebackup -C; then
    if grep -q 'already exists' /tmp/products-basebackup.log; then
      # The slot survived an earlier copy of this host: reuse it.
      rm -rf "$PG_DATA"; install -d -m 0700 -o postgres -g postgres "$PG_DATA"
      basebackup || true
    fi
  fi
  if [ ! -f "$PG_DATA/standby.signal" ]; then
    cat /tmp/products-basebackup.log >&2
    rm -rf "$PG_DATA"; mv "$PG_DATA.products-old" "$PG_DATA"
    die "pg_basebackup from $PRIMARY failed (log above; the primary's pg_hba.conf must list this host in --replica-hosts)"
  fi
  rm -rf "$PG_DATA.products-old"
  changed "standby of $PRIMARY (pg_basebackup, replication slot $slot)"; pg_restart=1
fi

if [ "$check" = 0 ]; then
  systemctl enable --quiet postgresql
  if [ $pg_restart = 1 ]; then systemctl restart "$PG_UNIT"
  else systemctl start "$PG_UNIT"; [ $pg_reload = 0 ] || systemctl reload "$PG_UNIT"; fi
  pg_wait || die "PostgreSQL did not come up (journalctl -u $PG_UNIT)"
  if ! has replica; then
    roles_before=$(psql_su -tAc "SELECT count(*) FROM pg_roles WHERE rolname IN ('products_owner','products_api')")
    psql_su -d postgres -f "$SHARE/sql/roles.sql" >/dev/null
    [ "$roles_before" = 2 ] || changed "roles products_owner, products_api"
    if [ "$(psql_su -tAc "SELECT 1 FROM pg_database WHERE datname = 'products'")" != 1 ]; then
      psql_su -c "CREATE DATABASE products OWNER products_owner" >/dev/null
      changed "database products"
    fi
    # The database's own privileges (products_api: CONNECT only; no TEMP, no CREATE). Idempotent.
    psql_su -d products -f "$SHARE/sql/database.sql" >/dev/null
    # prometheus-postgres-exporter's role (peer authentication as the OS user prometheus,
    # Debian's `local all all peer`): pg_monitor reads the statistics views, nothing else.
    # Replicas get it from the primary.
    psql_su -d postgres >/dev/null <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'prometheus') AS missing \gset
\if :missing
CREATE ROLE prometheus LOGIN IN ROLE pg_monitor;
\endif
GRANT CONNECT ON DATABASE products TO prometheus;
SQL
  fi
  if [ "$ROLE" = db-primary ]; then
    # The passwords the other hosts need, made once; copy them to those hosts (docs/scale-out.md).
    install -d -m 0700 "$ETC/secrets"
    for secret in api replication; do
      if [ ! -s "$ETC/secrets/$secret.password" ]; then
        (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$ETC/secrets/$secret.password"; echo >>"$ETC/secrets/$secret.password")
        changed "$ETC/secrets/$secret.password"
      fi
    done
    # Set on every run (scram-sha-256; the same password changes nothing). Through psql's
    # environment (\getenv), which only root and postgres can read: a password never appears
    # in a command line (/proc/*/cmdline is world-readable).
    PRODUCTS_API_PASSWORD=$(head -1 "$ETC/secrets/api.password") PRODUCTS_REPLICATION_PASSWORD=$(head -1 "$ETC/secrets/replication.password") \
    psql_su -d postgres >/dev/null <<'SQL'
\getenv api PRODUCTS_API_PASSWORD
\getenv repl PRODUCTS_REPLICATION_PASSWORD
ALTER ROLE products_api PASSWORD :'api';
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'products_replicator') AS missing \gset
\if :missing
CREATE ROLE products_replicator WITH REPLICATION LOGIN;
\endif
ALTER ROLE products_replicator WITH REPLICATION LOGIN PASSWORD :'repl';
SQL
  fi
fi
fi
[ "$changes" -gt "$before" ] || unchanged
