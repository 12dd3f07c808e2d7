# shellcheck disable=SC2154  # ADDR, LBS, FLOATING, alb, vrrp, lb_cpu, work, errors, sent, statuses: test-cluster's
# cluster-lbs.sh: test-cluster's checks of the lb tier, in either of its two shapes:
# - two lbs sharing a floating address (keepalived, VRRP): what works where the network lets an
#   address move between hosts;
# - --alb: the EC2 topology, where it does not (a VPC drops VRRP): a cloud load balancer (the
#   stand-in of lib/alb.sh, on host `alb`) in front of the lbs, which take the client's address
#   from its X-Forwarded-For (--proxies) and answer its health checks on a private admin port
#   (--admin-port <own address>:8081 --admin-clients <alb>).
# Sourced by test-cluster; uses its ADDR, LBS, FLOATING, work, start_load, load_result,
# power_off and power_on.

vip_holder() { local h; for h in "${LBS[@]}"; do host_exec "$h" ip -4 -o addr show 2>/dev/null | grep -q " $FLOATING/" && { echo "$h"; return 0; }; done; return 0; }

# Once the catalog is imported (an lb is ready, for a load balancer's health check, only once its
# app hosts are): the floating address on lb1, or every lb healthy in the load balancer.
cluster_lbs_ready() {
  if [ "$alb" = 1 ]; then cluster_alb_up; return; fi
  [ "$vrrp" = 1 ] || return 0
  local holder="" _
  for _ in $(seq 50); do holder=$(vip_holder); [ -n "$holder" ] && break; sleep 0.2; done
  check "the floating address $FLOATING is held by ${holder:-nobody} (VRRP; lb1 preferred)" test "$holder" = lb1
}

# lb1 powered off under load (with two lbs), then booted again.
cluster_lb_off() {
  [ "${#LBS[@]}" = 2 ] || return 0
  if [ "$alb" = 1 ]; then cluster_alb_lb_off; return; fi
  local t_off t_moved bound
  start_load lb-off 20 300
  sleep 5; power_off lb1; t_off=$(date +%s.%N); step "     lb1 (holding $FLOATING) powered off under 300 req/s"
  for _ in $(seq 100); do [ "$(vip_holder)" = lb2 ] && break; sleep 0.1; done
  t_moved=$(date +%s.%N)
  load_result lb-off
  bound=$((300 * 5))   # 300 req/s x (3 s of VRRP silence + 2 s for the client to reconnect)
  check "lb1 powered off under load: $FLOATING moved to $(vip_holder) in $(awk -v a="$t_off" -v b="$t_moved" 'BEGIN {printf "%.1f", b - a}') s; $errors of $sent failed ($statuses; bound $bound: 5 s of the offered rate)" \
    bash -c "[ '$(vip_holder)' = lb2 ] && [ $errors -le $bound ]"
  power_on lb1 "$lb_cpu" 512
  sleep 3
  lb_back() { [ "$(host_exec lb1 systemctl is-active nginx keepalived | sort -u)" = active ] && [ "$(vip_holder)" = lb2 ]; }
  check "lb1 booted again: nginx and keepalived active, $FLOATING stays on $(vip_holder) (nopreempt: no second failover)" lb_back
}

# The stand-in up, every lb healthy in it, the API through it.
cluster_alb_up() {
  local a=${ADDR[alb]} targets=() h states="" all=1
  for h in "${LBS[@]}"; do targets+=("$h=${ADDR[$h]}"); done
  alb_config 8081 "${targets[@]}" >"$work/haproxy.cfg"
  alb_install alb "$work/haproxy.cfg" || { fail "HAProxy on the alb host"; return 1; }
  for h in "${LBS[@]}"; do
    alb_wait "$a" "$h" UP || all=0
    states+=" $h $(alb_state "$a" "$h")"
  done
  check "the cloud load balancer's stand-in (HAProxy, $a) health-checks the lbs on their admin port:$states" test "$all" = 1
  local ua="test-cluster-alb-$$" code client
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -A "$ua" "http://$a/products/1/styles" || true)
  sleep 1.5   # nginx flushes its access log every second
  client=$(for h in "${LBS[@]}"; do host_exec "$h" grep -h "$ua" /var/log/products/access.log; done | grep -o '"client":"[0-9.]*"' | head -1 || true)
  check "through it: GET /products/1/styles -> $code; the lb logs the client, not the load balancer ($client)" \
    bash -c "[ '$code' = 200 ] && [ '$client' = '\"client\":\"$HOSTS_NET.1\"' ]"
}

# lb1 powered off under load: the load balancer's checks take it out, lb2 serves the rest.
cluster_alb_lb_off() {
  local a=${ADDR[alb]} t_off t_down bound
  start_load lb-off-alb 20 300
  sleep 5; power_off lb1; t_off=$(date +%s.%N); step "     lb1 powered off under 300 req/s, behind the load balancer"
  alb_wait "$a" lb1 DOWN 40 || true; t_down=$(date +%s.%N)
  load_result lb-off-alb
  bound=$((300 * 5))   # as for VRRP: 5 s of the offered rate (2 failed checks, 1 s apart, and the requests in flight)
  check "lb1 powered off under load: the load balancer marked it $(alb_state "$a" lb1) in $(awk -v a="$t_off" -v b="$t_down" 'BEGIN {printf "%.1f", b - a}') s; $errors of $sent failed ($statuses; bound $bound)" \
    bash -c "[ '$(alb_state "$a" lb1)' = DOWN ] && [ $errors -le $bound ]"
  power_on lb1 "$lb_cpu" 512
  alb_wait "$a" lb1 UP 60 || true
  check "lb1 booted again: back in the load balancer ($(alb_state "$a" lb1))" test "$(alb_state "$a" lb1)" = UP
}
