# alb.sh: a stand-in for a cloud load balancer (an AWS ALB and its target group) in front of
# the products lbs, for the host tests: HAProxy on a booted host of its own, adding
# X-Forwarded-For, health-checking each target on its admin port every second (GET
# /_health/ready, 5 s timeout, down after 2 failures). Like an ALB, it does not retry a request elsewhere
# (retries 0): a target that dies fails what was sent to it until its checks fail. Sourced after hosts.sh (Deploy/host/test-edge, test-cluster --alb).
#
#   alb_config CHECK_PORT NAME=ADDRESS...  the haproxy.cfg, on stdout: :80 to each target's :80,
#                                          health checks on CHECK_PORT, stats on :8404
#   alb_install HOST CONFIG                installs HAProxy on HOST (from its apt cache) with CONFIG
#   alb_state ALB_ADDRESS NAME             the target's state in HAProxy's stats (UP, DOWN, ...)
#   alb_wait ALB_ADDRESS NAME STATE [N]    until the target is in STATE (N half-seconds, 30)

alb_config() {
  local port=$1 target; shift
  cat <<EOF
global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    option forwardfor
    retries 0
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    # An ALB's health-check timeout (5 s by default; HAProxy's own default is the interval).
    timeout check 5s
frontend public
    bind :80
    default_backend products
backend products
    balance roundrobin
    option httpchk GET /_health/ready
    http-check expect status 200
EOF
  for target in "$@"; do
    echo "    server ${target%%=*} ${target#*=}:80 check port $port inter 1s fall 2 rise 1"
  done
  cat <<EOF
frontend stats
    bind :8404
    stats enable
    stats uri /stats
EOF
}

alb_install() {
  local host=$1 config=$2
  host_exec "$host" apt-get install -y -q --no-install-recommends haproxy >"$config.apt.log" 2>&1 \
    || { tail -20 "$config.apt.log" >&2; return 1; }
  host_copy "$host" "$config" /etc/haproxy/haproxy.cfg
  host_exec "$host" systemctl restart haproxy
}

alb_state() { curl -s --max-time 3 "http://$1:8404/stats;csv" | awk -F, -v s="$2" '$1 == "products" && $2 == s {print $18}'; }

alb_wait() {
  local _; for _ in $(seq "${4:-30}"); do [ "$(alb_state "$1" "$2")" = "$3" ] && return 0; sleep 0.5; done
  return 1
}
