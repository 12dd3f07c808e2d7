# shellcheck shell=bash disable=SC2154,SC2034  # (variables come from products-configure and pass between steps)
# products-configure, steps: systemd (role drop-ins, the units enabled) and the firewall.
# Sourced by products-configure (/usr/sbin), in its shell: its options, helpers and the
# values preflight derived are in scope. Not a program of its own.

# ----------------------------------------------------------------------------------- systemd
step=systemd
before=$changes
units_changed=0; socket_changed=0
# The package's units are the single role's; role app gets drop-ins (role.conf) that put the
# socket on the private address for the lb hosts only and open the server's network to the
# lb and database hosts. Other roles have none (a host that was app once loses them).
lbs=${LB_HOSTS//,/ }; dbs=${DB_HOSTS//,/ }
for pair in "products-server.socket:[Socket]
# products-configure (role app): TCP on the private address, for the lb hosts only
# (products-firewall.service says the same in nftables). FreeBind: the address may come up
# after the socket is bound.
ListenStream=
ListenStream=$PRIVATE_ADDRESS:$FASTCGI_PORT
FreeBind=yes
NoDelay=yes
IPAddressAllow=$lbs
IPAddressDeny=any" "products-server.service:[Service]
# products-configure (role app): the lb hosts (its socket's connections) and the database
# hosts, nothing else.
PrivateNetwork=no
IPAddressAllow=$lbs $dbs
IPAddressDeny=any"; do
  u=${pair%%:*}; dropin=$UNIT_DIR/$u.d/role.conf
  if [ "$ROLE" = app ]; then
    if printf '%s\n' "${pair#*:}" | put_text "$dropin" 0644; then
      changed "$dropin"; units_changed=1; [ "$u" != products-server.socket ] || socket_changed=1
    fi
  elif [ -f "$dropin" ]; then
    if [ "$check" = 1 ]; then log "systemd: would remove $dropin"; changes=$((changes + 1))
    else rm -f "$dropin"; changed "removed $dropin"; units_changed=1; [ "$u" != products-server.socket ] || socket_changed=1; fi
  fi
done

# The firewall (app, db-*, and any host with --monitoring-hosts): a table of its own, so the
# host's other rules are not touched. Only the named hosts reach the FastCGI / PostgreSQL /
# exporter ports; others get a TCP reset.
firewall_changed=0
if firewalled; then
  rules=""
  if [ "$MONITORING_HOSTS" != none ]; then
    exporter_ports=(9100); ! has web || exporter_ports+=(9113 3903); ! has db || exporter_ports+=(9187)
    ports=$(IFS=,; echo "${exporter_ports[*]}")
    rules+="        tcp dport { $ports } ip saddr { $MONITORING_HOSTS } accept   # --monitoring-hosts"$'\n'"        tcp dport { $ports } reject with tcp reset"$'\n'
  fi
  if has net && has server; then rules+="        tcp dport $FASTCGI_PORT ip saddr { $LB_HOSTS } accept   # --lb-hosts"$'\n'"        tcp dport $FASTCGI_PORT reject with tcp reset"$'\n'; fi
  if has net && has db; then
    pg_clients=$APP_HOSTS; [ "$ROLE" != db-primary ] || [ -z "$REPLICA_HOSTS" ] || pg_clients+=",$REPLICA_HOSTS"
    rules+="        tcp dport 5432 ip saddr { $pg_clients } accept   # --app-hosts${REPLICA_HOSTS:+, --replica-hosts}"$'\n'"        tcp dport 5432 reject with tcp reset"$'\n'
  fi
  put_text "$ETC/firewall.nft" 0644 <<EOF && { changed "$ETC/firewall.nft"; firewall_changed=1; } || true
#!/usr/sbin/nft -f
# Written by products-configure (role $ROLE) from --lb-hosts/--app-hosts/--replica-hosts;
# loaded by products-firewall.service. Only this project's ports; everything else is as the
# host's own rules (nftables.service, a cloud security group) say.
table inet products
delete table inet products
table inet products {
    chain input {
        type filter hook input priority filter; policy accept;
        iif lo accept
$rules        meta nfproto ipv6 tcp dport { $FASTCGI_PORT, 5432, 9113, 3903, 9187 } reject with tcp reset
    }
}
EOF
fi
if [ "$check" = 0 ]; then
  systemctl daemon-reload
  if firewalled; then
    systemctl enable --quiet products-firewall.service
    if [ "$firewall_changed" = 1 ] && systemctl is-active --quiet products-firewall.service; then systemctl reload products-firewall.service
    else systemctl start products-firewall.service; fi
    nft list table inet products >/dev/null 2>&1 || die "the firewall table did not load (journalctl -u products-firewall)"
  fi
  ! has server || systemctl enable --quiet products-server.socket products-server.service
  if has web; then
    systemctl enable --quiet nginx
    if [ "$cache_on" = tmpfs ]; then
      systemctl enable --quiet "$mount_unit"
      if ! mountpoint -q "$CACHE_DIR"; then
        systemctl start "$mount_unit"; changed "mounted $CACHE_DIR"
      elif [ "$mount_changed" = 1 ]; then
        # A remount keeps the files: nginx keeps its cache across a size change.
        mount -o remount,size=${tmpfs_mb}m "$CACHE_DIR"
      fi
    fi
  fi
  if has server; then
    if [ "$socket_changed" = 1 ] && systemctl is-active --quiet products-server.socket; then
      # A new address or client list: the socket itself must be made again (connections are
      # refused for the moment between; only on a change of these settings).
      systemctl stop products-server.service products-server.socket
    fi
    systemctl start products-server.socket
  fi
fi
[ "$changes" -gt "$before" ] || unchanged
