# shellcheck shell=bash disable=SC2154  # (the variables are Deploy/local/stack's)
# stack's status, down and logs commands, sourced by Deploy/local/stack (its variables and
# helpers are in scope). Not a program of its own.

# --- status, down, logs ---------------------------------------------------------------------------
cmd_status() {
  load_state
  local down=0 pid host=$BIND code
  row() { printf '%-16s %s\n' "$1" "$2"; }   # part, state
  if pg_up >/dev/null 2>&1; then row postgresql "up    pid $(pg_pid)   socket $(rel "$PGSOCK")"; else row postgresql down; down=1; fi
  pid=$(server_pid)
  if [ -n "$pid" ]; then row products-server "up    pid $pid, worker processes: $(worker_count "$pid")   socket $(rel "$FCGI_SOCK")"
  else row products-server down; down=1; fi
  pid=$(nginx_pid)
  if [ -n "$pid" ]; then
    row nginx "up    pid $pid   http://$BIND:$PORT"
    [ "$host" != 0.0.0.0 ] || host=127.0.0.1
    code=$(http_code "http://$host:$PORT/products/1")
    if [ "$code" = 200 ]; then row http "ok    GET /products/1 → 200"; else row http "FAIL  GET /products/1 → $code"; down=1; fi
  else row nginx down; down=1; fi
  pid=$(generation_pid)
  if [ -n "$pid" ]; then
    row cache-generation "up    pid $pid   nginx keys its cache with $(sed -n 's/^default "\(.*\)";/\1/p' "$NGX/cache-generation/generation.conf" 2>/dev/null)"
  else row cache-generation down; down=1; fi
  [ -f "$IMPORTED" ] && echo "data             $(cat "$IMPORTED")"
  return "$down"
}


stop_nginx() {
  local pid; pid=$(nginx_pid)
  if [ -z "$pid" ]; then say "nginx: not running"; rm -f "$NGINX_PID"; drop_cache; return; fi
  kill -QUIT "$pid"                       # graceful: finish in-flight requests
  if ! wait_gone "$pid" 10; then
    kill -TERM "$pid" 2>/dev/null || true # fast shutdown
    wait_gone "$pid" 5 || die "nginx (pid $pid) does not stop"
  fi
  say "nginx: stopped (pid $pid)"
  drop_cache
}

drop_cache() {  # the tmpfs cache holds RAM: give it back (a disk cache under .data/ stays)
  case "$(cache_dir)" in /dev/shm/products-stack-*) rm -rf "$(cache_dir)" ;; esac
}

stop_generation() {
  local pid; pid=$(generation_pid)
  if [ -z "$pid" ]; then rm -f "$GENERATION_PID"; return; fi
  kill -TERM "$pid"; wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$GENERATION_PID"
  say "products-cache-generation: stopped (pid $pid)"
}

stop_server() {
  local pid; pid=$(server_pid)
  if [ -z "$pid" ]; then say "products-server: not running"; rm -f "$SERVER_PID"; return; fi
  kill -TERM "$pid"                       # graceful: workers finish their request (--graceful-timeout 10 s)
  if ! wait_gone "$pid" 20; then
    say "products-server: master $pid still running after 20 s; SIGKILL to its process group"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 5 || die "products-server (pid $pid) does not stop"
  fi
  rm -f "$SERVER_PID"
  say "products-server: stopped (pid $pid)"
}

stop_postgres() {
  if pg_up >/dev/null 2>&1; then
    local pid; pid=$(pg_pid)
    "$PGCLUSTER" stop "$PG"
    say "postgresql: stopped (pid $pid)"
  else
    say "postgresql: not running"
  fi
}

cmd_down() {
  [ -d "$STACK" ] || { say "nothing to stop ($(rel "$STACK") does not exist)"; return; }
  load_state        # the port names the microcache directory
  stop_generation   # it would reload a stopped nginx
  stop_nginx        # first: no new requests reach the workers
  stop_server
  stop_postgres
}

cmd_logs() {
  local files=() f
  for f in "$LOGS/products-server.log" "$LOGS/import.log" "$LOGS/cache-generation.log" "$LOGS/nginx/error.log" \
           "$LOGS/nginx/access.log" "$PG/postgresql.log"; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || die "no logs yet under $(rel "$STACK")"
  if [ "${1:-}" = -f ]; then tail -n 20 -F "${files[@]}"; else tail -n 30 "${files[@]}"; fi
}
