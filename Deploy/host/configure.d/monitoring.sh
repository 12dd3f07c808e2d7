# shellcheck shell=bash disable=SC2154,SC2034  # (variables come from products-configure and pass between steps)
# products-configure, steps: monitoring (the exporters) and keepalived (the floating address).
# Sourced by products-configure (/usr/sbin), in its shell: its options, helpers and the
# values preflight derived are in scope. Not a program of its own.

# -------------------------------------------------------------------------------- monitoring
# Debian's exporters, configured through drop-ins (their /etc/default files stay as shipped):
# nginx's from stub_status (/_health/nginx on loopback), PostgreSQL's as the role prometheus
# over the unix socket. On loopback unless --monitoring-hosts names the Prometheus servers
# (then on every address, and the firewall step above admits only those hosts). products-
# server's own counters are scraped through nginx: /_status?openmetrics (trusted clients).
step=monitoring
before=$changes
exporter_address=127.0.0.1; [ "$MONITORING_HOSTS" = none ] || exporter_address=""
exporters=(); dropins_changed=0
# Each exporter's settings: an environment file of ours, read after the package's
# /etc/default file by a drop-in (a later EnvironmentFile= wins), which stays as Debian shipped it.
exporter_env() {  # unit: the environment file on stdin
  if put_text "$ETC/monitoring/$1.env" 0644; then changed "$ETC/monitoring/$1.env"; exporters+=("$1"); fi
  if printf '%s\n' "# products-configure: this exporter's settings for the Products API." "[Service]" \
       "EnvironmentFile=$ETC/monitoring/$1.env" | put_text "$UNIT_DIR/$1.service.d/products.conf" 0644; then
    changed "$UNIT_DIR/$1.service.d/products.conf"; exporters+=("$1"); dropins_changed=1
  fi
}
[ "$check" = 1 ] || install -d -m 0755 "$ETC/monitoring"
if has web; then
  exporter_env prometheus-nginx-exporter <<EOF
# Written by products-configure (--monitoring-hosts: ${MONITORING_HOSTS}); re-running it rewrites this.
ARGS="-nginx.scrape-uri=http://127.0.0.1:$LOCAL_ADMIN_PORT/_health/nginx -web.listen-address=$exporter_address:9113 -nginx.retries=30"
EOF
  # mtail reads nginx's access log (www-data:adm 0640 after a rotation: /etc/logrotate.d/products): group adm.
  if [ "$check" = 0 ] && id mtail >/dev/null 2>&1 && ! id -nG mtail | grep -qw adm; then usermod -aG adm mtail; changed "mtail in group adm"; exporters+=(mtail); fi
  if put "$SHARE/monitoring/nginx-access.mtail" /etc/mtail/products-nginx-access.mtail 0644; then
    changed /etc/mtail/products-nginx-access.mtail; exporters+=(mtail)
  fi
  exporter_env mtail <<EOF
# Written by products-configure (--monitoring-hosts: ${MONITORING_HOSTS}); re-running it rewrites this.
# /etc/mtail/products-nginx-access.mtail counts nginx's JSON access log for Prometheus.
LOGS=$ACCESS_LOG
HOST=${exporter_address:-0.0.0.0}
PORT=3903
EOF
fi
# The host itself (every role): disk, memory, CPU, and the state of this project's units (the
# systemd collector: a failed products-import.service is an alert).
exporter_env prometheus-node-exporter <<EOF
# Written by products-configure (--monitoring-hosts: ${MONITORING_HOSTS}); re-running it rewrites this.
ARGS="--web.listen-address=$exporter_address:9100 --collector.systemd --collector.systemd.unit-include=(products-.*|nginx|postgresql@.*|keepalived).service"
EOF
if has db; then
  exporter_env prometheus-postgres-exporter <<EOF
# Written by products-configure (--monitoring-hosts: ${MONITORING_HOSTS}); re-running it rewrites this.
# Peer authentication as the OS user prometheus (the unit's User=): no password anywhere.
DATA_SOURCE_NAME='user=prometheus host=/run/postgresql dbname=products'
ARGS="--web.listen-address=$exporter_address:9187"
EOF
fi
[ "$check" = 1 ] || [ "$dropins_changed" = 0 ] || systemctl daemon-reload
if [ "$check" = 0 ]; then
  for unit in prometheus-node-exporter prometheus-nginx-exporter mtail prometheus-postgres-exporter; do
    systemctl cat "$unit.service" >/dev/null 2>&1 || continue
    if [ "$unit" = prometheus-node-exporter ] || { [ "$unit" = prometheus-postgres-exporter ] && has db; } \
       || { [[ $unit != prometheus-postgres-exporter ]] && has web; }; then
      systemctl enable --quiet "$unit"
      if [[ " ${exporters[*]} " == *" $unit "* ]]; then systemctl restart "$unit"; else systemctl start "$unit"; fi
    fi
  done
fi
[ "$changes" -gt "$before" ] || unchanged

# --------------------------------------------------------------------------------- keepalived
# Two or more lb hosts share --floating-address: keepalived (VRRP) gives it to the healthy
# host of highest priority. Healthy = nginx answers its own /_health/nginx on loopback (not
# /_health/live, which asks an app host: with every app host down, the lb still serves the
# microcache's stale copies and must keep the address).
step=keepalived
before=$changes
if [ "$ROLE" = lb ] && [ "$FLOATING_ADDRESS" != none ]; then
  # The interface of the private network the address is on: the one that holds it now, if this
  # host is the current holder (a route to it would then say `lo`), else the one that routes to it.
  vrrp_if=$(ip -4 -o addr show | awk -v a="$FLOATING_ADDRESS" '$4 ~ "^" a "/" && !found {print $2; found = 1}')
  [ -n "$vrrp_if" ] || vrrp_if=$(ip -4 -o route get "$FLOATING_ADDRESS" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')
  [ -n "$vrrp_if" ] && [ "$vrrp_if" != lo ] || die "no interface routes to $FLOATING_ADDRESS: it must be on this host's private network"
  prefix=$(ip -4 -o addr show dev "$vrrp_if" | awk 'NR == 1 {print $4}' | cut -d/ -f2)
  unicast=""
  if [ -n "$VRRP_PEERS" ]; then
    unicast="    unicast_peer {"$'\n'"$(for a in ${VRRP_PEERS//,/ }; do echo "        $a"; done)"$'\n'"    }"
  fi
  put_text /etc/keepalived/keepalived.conf 0644 <<EOF && { changed /etc/keepalived/keepalived.conf; keepalived_changed=1; } || true
# Written by the Products API's products-configure (role lb, --floating-address); re-running
# products-configure rewrites it. journalctl -u keepalived shows every state change.
global_defs {
    router_id $(hostname -s)
    enable_script_security
    script_user nobody
}
vrrp_script products_nginx {
    script "/usr/bin/curl -fs -o /dev/null --max-time 1 http://127.0.0.1:$LOCAL_ADMIN_PORT/_health/nginx"
    interval 1
    fall 2
    rise 2
}
vrrp_instance products {
    state BACKUP
    interface $vrrp_if
    virtual_router_id 51
    priority $VRRP_PRIORITY
    advert_int 1
    # A host that comes back does not take the address back (one failover, not two).
    nopreempt
$unicast
    virtual_ipaddress {
        $FLOATING_ADDRESS/$prefix dev $vrrp_if
    }
    track_script {
        products_nginx
    }
}
EOF
  if [ "$check" = 0 ]; then
    systemctl enable --quiet keepalived
    if [ "${keepalived_changed:-0}" = 1 ] && systemctl is-active --quiet keepalived; then systemctl reload keepalived
    else systemctl start keepalived; fi
  fi
elif [ -f /etc/keepalived/keepalived.conf ] && grep -q "Products API" /etc/keepalived/keepalived.conf; then
  if [ "$check" = 0 ]; then
    systemctl disable --quiet --now keepalived 2>/dev/null || true
    rm -f /etc/keepalived/keepalived.conf
  fi
  changed "removed the floating address (keepalived stopped)"
fi
[ "$changes" -gt "$before" ] || unchanged
