# shellcheck shell=bash disable=SC2154,SC2034  # (variables come from products-configure and pass between steps)
# products-configure, helpers: put, put_text, usable CPUs and memory, the PostgreSQL helpers.
# Sourced by products-configure (/usr/sbin), in its shell: its options are in scope. Not a program of its own.

# ---------------------------------------------------------------------------------- helpers

# put SRC DEST MODE: install SRC at DEST if the content or mode differs; 0 = changed.
put() {
  local src=$1 dest=$2 mode=${3:-0644}
  if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then return 1; fi
  if [ "$show_diff" = 1 ]; then
    if [ "${mode: -1}" = 0 ]; then log "$step: $dest: not shown (not readable by all)"
    else diff -u --label "$dest" --label "$dest (products-configure)" "$([ -f "$dest" ] && echo "$dest" || echo /dev/null)" "$src" || true; fi
  fi
  if [ "$check" = 1 ]; then log "$step: would write $dest"; return 0; fi
  install -D -m "$mode" "$src" "$dest.products-new"
  mv -f "$dest.products-new" "$dest"
  return 0
}
# put_text DEST MODE <<< content
put_text() { local tmp; tmp=$(mktemp); cat >"$tmp"; local rc=0; put "$tmp" "$1" "${2:-0644}" || rc=$?; rm -f "$tmp"; return $rc; }

# The CPUs and memory this host may use: a cgroup limit (container, small instance) counts.
usable_cpus() {
  local n quota period; n=$(nproc)
  if [ -r /sys/fs/cgroup/cpu.max ]; then read -r quota period </sys/fs/cgroup/cpu.max
  elif [ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)
  else quota=max; fi
  if [ "$quota" != max ] && [ "$quota" -gt 0 ] 2>/dev/null; then
    local q=$(( (quota + period - 1) / period )); [ "$q" -lt "$n" ] && n=$q
  fi
  echo $(( n < 1 ? 1 : n ))
}
usable_memory_mb() {
  local mem limit=""; mem=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  if [ -r /sys/fs/cgroup/memory.max ]; then limit=$(cat /sys/fs/cgroup/memory.max)
  elif [ -r /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); fi
  if [ -n "$limit" ] && [ "$limit" != max ] && [ $((limit / 1048576)) -lt "$mem" ]; then mem=$((limit / 1048576)); fi
  echo "$mem"
}
