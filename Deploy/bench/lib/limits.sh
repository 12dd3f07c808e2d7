# shellcheck shell=bash
# limits.sh: the limits a benchmark compares its figures with, in the same run (sourced by
# Deploy/bench/cache-ratio and Deploy/bench/real-traffic).
#
#   start_limit_nginx WORKDIR   a second nginx (same binary, worker_processes auto, a buffered
#                               access log like the stack's) answering a fixed 1 KB JSON body on a
#                               free loopback port; sets LIMIT_URL and LIMIT_PID
#   stop_limit_nginx            stops it (safe to call twice)
#   pgbench_statement ROUTE MAX_ID CLIENTS SECONDS OUTFILE
#                               pgbench of the route's own prepared statement (the worker's query,
#                               Sources/ProductsServer/Queries.swift) over the stack's unix socket;
#                               prints tps. Needs PGSOCK and PGBENCH.
#   ratio A B                   A / B with two decimals ("?" when B is not positive)

LIMIT_URL=""; LIMIT_PID=""

start_limit_nginx() {
  local work=$1 port body nginx
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  body=$(printf '{"fixed":"%s"}' "$(head -c 1000 /dev/zero | tr '\0' x)")   # 1,014 bytes
  mkdir -p "$work/logs"
  cat >"$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 8192; multi_accept on; }
http {
    access_log $work/logs/access.log combined buffer=64k flush=1s;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$port backlog=4096;
        default_type application/json;
        location / { return 200 '$body'; }
    }
}
CONF
  "$nginx" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' 2>"$work/logs/stderr" &
  LIMIT_PID=$!
  LIMIT_URL=http://127.0.0.1:$port
  for _ in $(seq 50); do curl -fsS -o /dev/null "$LIMIT_URL/" 2>/dev/null && return 0; sleep 0.1; done
  echo "limits.sh: the fixed-body nginx did not start: $(cat "$work/logs/stderr")" >&2
  return 1
}

stop_limit_nginx() {
  if [ -n "$LIMIT_PID" ]; then kill "$LIMIT_PID" 2>/dev/null || true; wait "$LIMIT_PID" 2>/dev/null || true; fi
  LIMIT_PID=""
}

pgbench_statement() {
  local route=$1 max_id=$2 clients=$3 seconds=$4 out=$5 sql
  sql=$(mktemp)
  case $route in
    product|styles|related)
      printf '\\set id random(1, %s)\nSELECT %s_doc, generation FROM catalog.product WHERE id = :id::int4;\n' "$max_id" "$route" >"$sql" ;;
    list)
      printf '\\set p random(1, %s)\nSELECT list_doc, generation FROM catalog.product WHERE rank BETWEEN ((:p - 1) * 5 + 1)::int4 AND (:p * 5)::int4 ORDER BY rank;\n' \
        "$(( (max_id + 4) / 5 ))" >"$sql" ;;
    *) echo "pgbench_statement: unknown route $route" >&2; return 1 ;;
  esac
  "$PGBENCH" -n -M prepared -c "$clients" -j 1 -T "$seconds" -f "$sql" \
    "host=$PGSOCK dbname=products user=products_api" >"$out" 2>&1 || { echo "pgbench $route: $(tail -3 "$out")" >&2; rm -f "$sql"; return 1; }
  rm -f "$sql"
  sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -1 | cut -d. -f1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }
