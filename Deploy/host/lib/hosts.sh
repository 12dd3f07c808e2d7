# hosts.sh: fresh Debian 12 hosts on this machine, for the deploy and scale-out tests.
# Sourced by Deploy/host/test-fresh-host (and the cluster test). Needs root.
#
# A host is a systemd-nspawn container that boots systemd as PID 1, with its own network
# namespace on a private bridge (10.88.0.0/24 by default, this machine at .1), optionally
# limited by cgroup CPU and memory limits like a small cloud instance (v1 or v2, whichever the
# machine has). Its tree is a copy
# of a cached debootstrap base, so every test starts from a pristine host.
#
#   hosts_init                      packages, the nspawn tmpfs, the bridge
#   hosts_base PACKAGE...           the cached base tree; the packages' .debs are downloaded
#                                   into its apt cache (hosts have no route out: an install
#                                   inside finds them there, as from a local mirror).
#                                   HOSTS_PREINSTALLED="openssh-server python3 ..." installs
#                                   those in the tree itself, as a cloud image has them (the
#                                   cluster test reaches its hosts with ssh and Ansible)
#   host_create NAME ADDRESS        a fresh tree and a network namespace with ADDRESS
#   host_boot NAME [CPUS [MEM_MB]]  boots it in the background (CPUS may be fractional: a
#                                   CFS quota; @N: pinned to core N without a quota, like a
#                                   dedicated vCPU, never throttled; C@N: a quota of C on core
#                                   N); a reboot from inside boots it again
#   host_wait NAME [SECONDS]        until systemd inside says running (or degraded)
#   host_exec NAME CMD...           runs CMD inside (all namespaces of its PID 1)
#   host_copy NAME SRC DEST         copies a file into the host's tree
#   port_open FROM ADDRESS PORT     a TCP connect within 3 s from host FROM (-: this machine)
#   hosts_weigh_self NAME           puts this shell in a cgroup NAME with the hosts' CPU weight
#                                   (a load generator that must not starve, nor be starved)
#   host_stop NAME                  powers it off (poweroff; SIGKILL after 30 s)
#   host_kill NAME                  pulls the plug: SIGKILL to its PID 1 (the whole PID
#                                   namespace dies with it) and to its nspawn; no reboot
#   hosts_cleanup                   stops every host, removes trees, namespaces, bridge, cgroups
#
# The rules of this workplace: traffic goes only to these hosts' addresses; the namespaces
# are never routed anywhere else.

HOSTS_CACHE=${HOSTS_CACHE:-/var/cache/products-hosts}
HOSTS_WORK=${HOSTS_WORK:-/var/tmp/products-hosts}
HOSTS_BRIDGE=${HOSTS_BRIDGE:-prodbr0}
HOSTS_NET=${HOSTS_NET:-10.88.0}
HOSTS_MIRROR=${HOSTS_MIRROR:-}

hosts_log() { echo "hosts: $*" >&2; }

# A host with a CPU setting gets its share first when this machine's cores are busy (cgroup v2
# cpu.weight, v1 cpu.shares ×10.24; the default is 100): like a cloud instance, whose vCPUs a
# neighbour does not take. Without it, the load generator and this machine's own work took the
# capped hosts' CPU: overload goodput 0.74–0.90 of the max, 0.92–1.13 with it (real-traffic
# --cluster, 2026-12-06, docs/reliability.md "Overload").
HOSTS_CPU_WEIGHT=${HOSTS_CPU_WEIGHT:-1000}
hosts_weigh_self() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p "/sys/fs/cgroup/$1" && echo "$HOSTS_CPU_WEIGHT" >"/sys/fs/cgroup/$1/cpu.weight" && echo $$ >"/sys/fs/cgroup/$1/cgroup.procs"
  else
    mkdir -p "/sys/fs/cgroup/cpu/$1" && echo $((HOSTS_CPU_WEIGHT * 1024 / 100)) >"/sys/fs/cgroup/cpu/$1/cpu.shares" && echo $$ >"/sys/fs/cgroup/cpu/$1/tasks"
  fi || hosts_log "cannot give this shell the hosts' CPU weight ($1)"
}

hosts_init() {
  local need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v systemd-nspawn >/dev/null || need+=(systemd-container)
  if [ ${#need[@]} -gt 0 ]; then
    hosts_log "installing ${need[*]}"
    apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
  fi
  # systemd-nspawn on a machine whose PID 1 is not systemd needs this on a tmpfs.
  mkdir -p /run/systemd/nspawn
  mountpoint -q /run/systemd/nspawn || mount -t tmpfs tmpfs /run/systemd/nspawn
  mkdir -p "$HOSTS_WORK"
  if ! ip link show "$HOSTS_BRIDGE" >/dev/null 2>&1; then
    ip link add "$HOSTS_BRIDGE" type bridge
    ip addr add "$HOSTS_NET.1/24" dev "$HOSTS_BRIDGE"
    ip link set "$HOSTS_BRIDGE" up
  fi
}

# The base tree: debootstrap once, then per package list a copy whose apt cache holds them.
hosts_base() {
  local key base
  key=$(printf '%s\n' "$@" ${HOSTS_PREINSTALLED:+"installed:" $HOSTS_PREINSTALLED} | sort | sha256sum | cut -c1-12)
  HOSTS_BASE=$HOSTS_CACHE/bookworm-$key
  [ -f "$HOSTS_BASE/.complete" ] && return 0
  base=$HOSTS_CACHE/bookworm-minbase
  if [ ! -f "$base/.complete" ]; then
    hosts_log "debootstrap bookworm (once; cached in $base)"
    rm -rf "$base"; mkdir -p "$HOSTS_CACHE"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,ca-certificates,procps \
      bookworm "$base" $HOSTS_MIRROR >"$HOSTS_CACHE/debootstrap.log" 2>&1 \
      || { tail -5 "$HOSTS_CACHE/debootstrap.log" >&2; return 1; }
    touch "$base/.complete"
  fi
  hosts_log "base tree with ${*} in its apt cache (once; $HOSTS_BASE)"
  rm -rf "$HOSTS_BASE.tmp"; cp -a "$base" "$HOSTS_BASE.tmp"
  cp /etc/resolv.conf "$HOSTS_BASE.tmp/etc/resolv.conf"
  # Keep downloaded packages (a cloud image's apt may clean them; this one must not).
  echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$HOSTS_BASE.tmp/etc/apt/apt.conf.d/01keep"
  systemd-nspawn -q --register=no --keep-unit -D "$HOSTS_BASE.tmp" --pipe /bin/sh -c \
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only --no-install-recommends $* \
     ${HOSTS_PREINSTALLED:+&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $HOSTS_PREINSTALLED}" \
    >"$HOSTS_CACHE/apt.log" 2>&1 || { tail -20 "$HOSTS_CACHE/apt.log" >&2; return 1; }
  # A pristine host: no machine id (systemd makes one at first boot), no resolver of ours.
  : >"$HOSTS_BASE.tmp/etc/machine-id"; rm -f "$HOSTS_BASE.tmp/etc/resolv.conf"
  touch "$HOSTS_BASE.tmp/.complete"
  mv -T "$HOSTS_BASE.tmp" "$HOSTS_BASE"
}

host_tree() { echo "$HOSTS_WORK/$1/root"; }
host_netns() { echo "products-$1"; }

host_create() {
  local name=$1 address=$2 tree netns veth
  tree=$(host_tree "$name"); netns=$(host_netns "$name"); veth="vp-$name"
  [ ${#veth} -le 15 ] || { hosts_log "host name too long: $name"; return 1; }
  rm -rf "${HOSTS_WORK:?}/$name"; mkdir -p "$HOSTS_WORK/$name"
  cp -a "$HOSTS_BASE" "$tree"; rm -f "$tree/.complete"
  echo "$name" >"$tree/etc/hostname"
  ip netns add "$netns"
  ip link add "$veth" type veth peer name host0
  ip link set host0 netns "$netns"
  ip link set "$veth" master "$HOSTS_BRIDGE" up
  ip netns exec "$netns" ip link set lo up
  ip netns exec "$netns" ip addr add "$address/24" dev host0
  ip netns exec "$netns" ip link set host0 up
  echo "$address" >"$HOSTS_WORK/$name/address"
}

# Boots in the background; the loop boots it again after a reboot (nspawn exits 133 then).
host_boot() {
  local name=$1 cpus=${2:-} mem=${3:-} pin="" tree; tree=$(host_tree "$name")
  # @N: a whole core of its own (taskset; the hosts' nproc then says 1), with "max" as the
  # quota so its CPU time is still accounted (host_cpu_seconds). A CFS quota stops every
  # process of the host until the next 100 ms period once it is used up: latency no cloud
  # instance with a dedicated vCPU has (measured: docs/reliability.md, "Overload").
  case $cpus in *@*) pin=${cpus#*@}; cpus=${cpus%@*}; cpus=${cpus:-max} ;; esac
  (
    set +e   # nspawn's exit status is data here (133 = reboot), not a failure of the caller's
    if { [ -n "$cpus" ] || [ -n "$mem" ]; } && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
      # cgroup v2 (unified): one directory, cpu.max and memory.max. The controllers must be
      # enabled for the root's children; a limit that does not take is an error, not a host
      # that silently runs unlimited.
      cg=/sys/fs/cgroup/products-$name
      mkdir -p "$cg"
      echo "+cpu +memory" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
      if [ -n "$cpus" ]; then
        echo "$HOSTS_CPU_WEIGHT" >"$cg/cpu.weight"
        awk -v c="$cpus" 'BEGIN {if (c == "max") print "max 100000"; else printf "%d 100000\n", c * 100000}' >"$cg/cpu.max" \
          || { hosts_log "cgroup v2: cannot limit $name to $cpus CPU ($cg/cpu.max)"; exit 1; }
      fi
      if [ -n "$mem" ]; then
        echo $((mem * 1048576)) >"$cg/memory.max" || { hosts_log "cgroup v2: cannot limit $name to $mem MB ($cg/memory.max)"; exit 1; }
      fi
      echo $BASHPID >"$cg/cgroup.procs" || { hosts_log "cgroup v2: cannot move $name into $cg"; exit 1; }
    elif [ -n "$cpus" ] || [ -n "$mem" ]; then
      if [ -n "$cpus" ]; then
        mkdir -p "/sys/fs/cgroup/cpu/products-$name"
        echo 100000 >"/sys/fs/cgroup/cpu/products-$name/cpu.cfs_period_us"
        echo $((HOSTS_CPU_WEIGHT * 1024 / 100)) >"/sys/fs/cgroup/cpu/products-$name/cpu.shares"
        awk -v c="$cpus" 'BEGIN {if (c == "max") print -1; else printf "%d\n", c * 100000}' >"/sys/fs/cgroup/cpu/products-$name/cpu.cfs_quota_us"
        echo $BASHPID >"/sys/fs/cgroup/cpu/products-$name/tasks"
        # CPU time used (host_cpu_seconds), where the cgroup v1 cpuacct controller is separate.
        if [ -d /sys/fs/cgroup/cpuacct ] && [ ! -e /sys/fs/cgroup/cpu/cpuacct.usage ]; then
          mkdir -p "/sys/fs/cgroup/cpuacct/products-$name"
          echo $BASHPID >"/sys/fs/cgroup/cpuacct/products-$name/tasks"
        fi
      fi
      if [ -n "$mem" ]; then
        mkdir -p "/sys/fs/cgroup/memory/products-$name"
        echo $((mem * 1048576)) >"/sys/fs/cgroup/memory/products-$name/memory.limit_in_bytes"
        echo $BASHPID >"/sys/fs/cgroup/memory/products-$name/tasks"
      fi
    fi
    while :; do
      # CAP_NET_ADMIN: the host owns its network namespace, as a VM owns its network (a
      # firewall unit needs it; nspawn grants it only with --private-network).
      ${pin:+taskset -c "$pin"} systemd-nspawn -q --register=no --keep-unit -D "$tree" --boot --capability=CAP_NET_ADMIN \
        --network-namespace-path="/run/netns/$(host_netns "$name")" </dev/null >>"$HOSTS_WORK/$name/console.log" 2>&1
      rc=$?
      [ $rc = 133 ] || break   # 133: the container rebooted
      echo "--- reboot $(date -Is)" >>"$HOSTS_WORK/$name/console.log"
    done
    echo "$rc" >"$HOSTS_WORK/$name/exit"
  ) &
  echo $! >"$HOSTS_WORK/$name/loop.pid"
  rm -f "$HOSTS_WORK/$name/exit"
}

# PID 1 of the container: the systemd whose parent is the inner systemd-nspawn.
host_pid() {
  local name=$1 tree pid
  tree=$(host_tree "$name")
  for pid in $(pgrep -f "systemd-nspawn .*-D $tree " || true); do
    local child
    for child in $(pgrep -P "$pid" || true); do
      if [ "$(cat /proc/$child/comm 2>/dev/null)" = systemd ]; then echo "$child"; return 0; fi
      local grandchild
      for grandchild in $(pgrep -P "$child" || true); do
        [ "$(cat /proc/$grandchild/comm 2>/dev/null)" = systemd ] && { echo "$grandchild"; return 0; }
      done
    done
  done
  return 1
}

host_exec() { local name=$1 pid; shift; pid=$(host_pid "$name") || { hosts_log "$name is not running"; return 1; }
  nsenter -t "$pid" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

host_copy() { install -D -m 0644 "$2" "$(host_tree "$1")$3"; }

# port_open FROM ADDRESS PORT: a TCP connection to ADDRESS:PORT within 3 s, from the host FROM
# (`-`: this machine).
port_open() {
  if [ "$1" = - ]; then timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
  else host_exec "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; fi
}

host_wait() {
  local name=$1 limit=${2:-60} state i
  for ((i = 0; i < limit * 5; i++)); do
    if host_pid "$name" >/dev/null; then
      state=$(host_exec "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) return 0 ;; esac
    fi
    sleep 0.2
  done
  hosts_log "$name did not finish booting within ${limit}s (state: ${state:-no PID 1}; console: $HOSTS_WORK/$name/console.log)"
  return 1
}

host_stop() {
  local name=$1 i
  host_exec "$name" systemctl poweroff >/dev/null 2>&1 || true
  for ((i = 0; i < 150; i++)); do [ -f "$HOSTS_WORK/$name/exit" ] && break; sleep 0.2; done
  [ -f "$HOSTS_WORK/$name/exit" ] || host_kill "$name"
}

host_kill() {
  local name=$1 pid1 loop
  loop=$(cat "$HOSTS_WORK/$name/loop.pid" 2>/dev/null || true)
  [ -z "$loop" ] || kill "$loop" 2>/dev/null || true   # no reboot loop
  # Killing nspawn alone would leave the container's processes running in their namespace.
  pid1=$(host_pid "$name" || true)
  [ -z "$pid1" ] || kill -KILL "$pid1" 2>/dev/null || true
  pkill -KILL -f "systemd-nspawn .*-D $(host_tree "$name") " 2>/dev/null || true
  local i; for ((i = 0; i < 50; i++)); do [ -n "$pid1" ] && [ -d "/proc/$pid1" ] || break; sleep 0.1; done
}

# CPU seconds the host has used so far, and how often its CPU limit throttled it.
host_cpu_seconds() {
  if [ -r "/sys/fs/cgroup/products-$1/cpu.stat" ]; then   # cgroup v2
    awk '$1 == "usage_usec" {printf "%.3f\n", $2 / 1e6}' "/sys/fs/cgroup/products-$1/cpu.stat"; return 0
  fi
  local f; for f in "/sys/fs/cgroup/cpuacct/products-$1/cpuacct.usage" "/sys/fs/cgroup/cpu/products-$1/cpuacct.usage"; do
    [ -r "$f" ] && { awk '{printf "%.3f\n", $1 / 1e9}' "$f"; return 0; }
  done
  echo 0
}
host_cpu_throttled() { awk '$1 == "nr_throttled" {print $2}' "/sys/fs/cgroup/products-$1/cpu.stat" "/sys/fs/cgroup/cpu/products-$1/cpu.stat" 2>/dev/null || echo 0; }

hosts_cleanup() {
  local dir name
  for dir in "$HOSTS_WORK"/*/; do
    [ -d "$dir" ] || continue
    name=$(basename "$dir")
    [ -f "$dir/loop.pid" ] && host_stop "$name"
    ip netns del "$(host_netns "$name")" 2>/dev/null || true
    ip link del "vp-$name" 2>/dev/null || true
    # Anything of the host still running (a container whose nspawn died before it) dies now.
    local pid; for pid in $(cat "/sys/fs/cgroup/cpu/products-$name/tasks" "/sys/fs/cgroup/memory/products-$name/tasks" "/sys/fs/cgroup/products-$name/cgroup.procs" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null || true
    done
    sleep 0.2
    rmdir "/sys/fs/cgroup/cpu/products-$name" "/sys/fs/cgroup/memory/products-$name" "/sys/fs/cgroup/cpuacct/products-$name" "/sys/fs/cgroup/products-$name" 2>/dev/null || true
    rm -rf "$dir"
  done
  ip link del "$HOSTS_BRIDGE" 2>/dev/null || true
  rmdir /sys/fs/cgroup/cpu/products-generator /sys/fs/cgroup/products-generator 2>/dev/null || true   # once empty
}
