# shellcheck shell=bash disable=SC2154,SC2034  # (variables come from products-configure and pass between steps)
# products-configure, steps: nginx (the package's tree, this host's include files, the microcache mount).
# Sourced by products-configure (/usr/sbin), in its shell: its options, helpers and the
# values preflight derived are in scope. Not a program of its own.

# ------------------------------------------------------------------------------------- nginx
step=nginx
before=$changes
nginx_changed=0; mount_changed=0; generation_changed=0
mount_unit=$(systemd-escape -p --suffix=mount "$CACHE_DIR")
if has web; then
# The microcache: nginx's max_size is --cache-size. On a tmpfs a cache miss costs no disk I/O
# (Zipf traffic ran at about twice the rate of the VM's disk, docs/performance.md), but the
# tmpfs must hold more than max_size: nginx's cache manager enforces max_size only when it
# wakes, and with entries kept for minutes (inactive=) it sleeps up to 10 s between checks
# (ngx_http_file_cache_expire caps its wait at 10 s). Whatever misses write meanwhile lands on
# top of max_size; a full tmpfs fails the write (ENOSPC) and breaks the response being
# cached. Measured (docs/deploy.md, host envelope): a 128m tmpfs under max_size 96m, 1 CPU,
# uniform ids: 29,614 broken responses in 14 s. So the tmpfs gets 512 MB of headroom per CPU
# (about 10 s of one CPU's misses, ~6k/s of ~8 KB blocks), which memory must afford: hosts
# under 4 GiB keep the cache on disk (--cache-on), where the headroom is the disk's free space
# and dirty pages are written back in the background.
cache_mb=${CACHE_SIZE%[mg]}; [ "${CACHE_SIZE: -1}" = g ] && cache_mb=$((cache_mb * 1024))
tmpfs_mb=$((cache_mb + 512 * CPUS))
www_uid=$(id -u www-data 2>/dev/null || echo 33); www_gid=$(id -g www-data 2>/dev/null || echo 33)
if [ "$cache_on" = tmpfs ]; then
  put_text "$UNIT_DIR/$mount_unit" 0644 <<EOF && { changed "$UNIT_DIR/$mount_unit"; mount_changed=1; } || true
# The Products API's nginx microcache on a tmpfs (products-configure; --cache-size, --cache-on):
# max_size ${cache_mb} MB plus 512 MB per CPU of headroom for what misses write between two
# runs of nginx's cache manager. Pages are used only as files are written.
[Unit]
Description=Products API nginx microcache (tmpfs, ${tmpfs_mb} MB)
Before=nginx.service

[Mount]
What=tmpfs
Where=$CACHE_DIR
Type=tmpfs
Options=mode=0700,uid=$www_uid,gid=$www_gid,size=${tmpfs_mb}m,noexec,nosuid,nodev

[Install]
WantedBy=local-fs.target
EOF
elif [ -f "$UNIT_DIR/$mount_unit" ]; then
  if [ "$check" = 1 ]; then log "nginx: would move the microcache from tmpfs to disk"; changes=$((changes + 1))
  else
    systemctl disable --quiet --now "$mount_unit" 2>/dev/null || true
    rm -f "$UNIT_DIR/$mount_unit"; mount_changed=1
    changed "microcache moved from tmpfs to disk ($CACHE_DIR)"
  fi
fi
# On disk, the directory is nginx's (its cache manager deletes there as www-data).
if [ "$cache_on" = disk ] && [ "$check" = 0 ] \
   && [ "$(stat -c '%U:%G %a' "$CACHE_DIR" 2>/dev/null)" != "www-data:www-data 700" ]; then
  install -d -m 0700 -o www-data -g www-data "$CACHE_DIR"; changed "$CACHE_DIR (on disk)"
fi
# The access log is rotated by size as well as by day (/etc/logrotate.d/products, the package's:
# maxsize 1G): logrotate must look more often than Debian's daily timer does.
put_text "$UNIT_DIR/logrotate.timer.d/products.conf" 0644 <<EOF && { changed "logrotate.timer drop-in (hourly)"; [ "$check" = 1 ] || { systemctl daemon-reload; systemctl restart logrotate.timer; }; } || true
# products-configure: logrotate every hour, so that /etc/logrotate.d/products's maxsize takes
# effect within the hour (daily rotations stay daily: logrotate keeps their dates).
[Timer]
OnCalendar=
OnCalendar=hourly
AccuracySec=1m
EOF
put_text "$UNIT_DIR/nginx.service.d/products.conf" 0644 <<EOF && changed "nginx.service drop-in" || true
# products-configure: nginx starts after the microcache's tmpfs is mounted.
[Unit]
RequiresMountsFor=$CACHE_DIR
EOF

# products-cache-generation.service asks this host's nginx which catalog generation the
# workers serve (/_health/ready: on the admin port when there is one, since the health routes
# are 404 on the public port then) and puts it in nginx's cache key (snippets/microcache.conf).
generation_port=$HTTP_PORT; [ "$ADMIN_PORT" = none ] || generation_port=$ADMIN_PORT
put_text "$UNIT_DIR/products-cache-generation.service.d/products.conf" 0644 <<EOF && { changed "products-cache-generation.service drop-in"; generation_changed=1; } || true
# products-configure: where this host's nginx answers /_health/ready on loopback.
[Service]
Environment=PRODUCTS_CACHE_GENERATION_URL=http://127.0.0.1:$generation_port/_health/ready
EOF

# The package's nginx tree as it is, and this host's values in generated include files
# (/etc/nginx/products/*.conf), by the same renderer as the local stack's; staged and tested
# (`nginx -t`) before anything in /etc/nginx is replaced. A function: the tls step renders
# again once certbot has the certificate.
nginx_tree() {
stage=$(mktemp -d)
render=(--workers "$CPUS" --server-name "$SERVER_NAME" --cache-dir "$CACHE_DIR" --cache-size "${cache_mb}m"
        --rate "$RATE_LIMIT" --burst "$BURST" --access-log "$ACCESS_LOG")
# Dual stack where the host has IPv6 (--ipv6 auto): [::] as well as IPv4's 0.0.0.0.
ipv6=$IPV6
if [ "$ipv6" = auto ]; then
  ipv6=off; [ "$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null)" != 0 ] || ipv6=on
fi
render+=(--listen "$HTTP_PORT"); [ "$ipv6" = off ] || render+=(--listen "[::]:$HTTP_PORT")
if [ "$ADMIN_PORT" != none ] && [ -n "$ADMIN_ADDRESS" ]; then
  # One private address, and loopback for this host's own checks (the exporter, keepalived).
  render+=(--admin-listen "$ADMIN_ADDRESS:$ADMIN_PORT"); [ "$ADMIN_ADDRESS" = 127.0.0.1 ] || render+=(--admin-listen "127.0.0.1:$ADMIN_PORT")
elif [ "$ADMIN_PORT" != none ]; then
  render+=(--admin-listen "$ADMIN_PORT"); [ "$ipv6" = off ] || render+=(--admin-listen "[::]:$ADMIN_PORT")
fi
# The admin port: the monitoring hosts and --admin-clients (the trusted clients are anyway).
admin_clients=""
for a in ${MONITORING_HOSTS//,/ } ${ADMIN_CLIENTS//,/ }; do
  [ "$a" = none ] || [[ ",$admin_clients," == *",$a,"* ]] || admin_clients+=${admin_clients:+,}$a
done
render+=(--admin-clients "$admin_clients")
[ "$PROXIES" = none ] || render+=(--proxies "$PROXIES")
# HTTPS: the operator's certificate (--tls-cert/--tls-key), or certbot's (--acme-email) once the
# tls step has obtained it; ACME's HTTP-01 challenges are always answered from the webroot.
render+=(--acme-root "$ACME_ROOT")
tls_cert=$TLS_CERT; tls_key=$TLS_KEY
if [ "$ACME_EMAIL" != none ]; then tls_cert=/etc/letsencrypt/live/$SERVER_NAME/fullchain.pem; tls_key=/etc/letsencrypt/live/$SERVER_NAME/privkey.pem; fi
if [ "$tls_cert" != none ] && { [ -f "$tls_cert" ] || [ "$ACME_EMAIL" = none ]; }; then
  render+=(--tls-cert "$tls_cert" --tls-key "$tls_key" --tls-listen "$HTTPS_PORT")
  [ "$ipv6" = off ] || render+=(--tls-listen "[::]:$HTTPS_PORT")
  [ "$HTTPS_REDIRECT" = off ] || render+=(--https-redirect)
  [ "$HSTS" = off ] || render+=(--hsts)
fi
if [ "$ROLE" = lb ]; then
  for a in ${APP_HOSTS//,/ }; do render+=(--upstream "$a:$FASTCGI_PORT"); done
  render+=(--max-conns "$APP_MAX_CONNS")
fi
# Monitoring hosts are trusted clients too (/_status, /_health/*); each address once.
trusted=""
for a in ${TRUSTED_CLIENTS//,/ } ${MONITORING_HOSTS//,/ }; do
  [ "$a" = none ] || [[ ",$trusted," == *",$a,"* ]] || trusted+=${trusted:+,}$a
done
[ "$LOADERIO_TOKEN" = none ] || render+=(--loaderio-token "$LOADERIO_TOKEN")
[ "$check" = 0 ] || render+=(--no-test)   # (nginx may not even be installed yet)
[ "$check" = 1 ] || mkdir -p "$CACHE_DIR"
"$SHARE/render-nginx" "$stage" --trusted "$trusted" "${render[@]}" >/dev/null \
  || die "render-nginx failed for this host's settings: nothing replaced"
# Where loader.io's token was before it moved to products/server.conf.
if [ -d /etc/nginx/snippets/site-verification ] && [ "$check" = 0 ]; then
  rm -rf /etc/nginx/snippets/site-verification; changed "removed /etc/nginx/snippets/site-verification (now products/server.conf)"
  nginx_changed=1
fi
# /etc/nginx/nginx.conf is nginx-common's conffile: diverted (dpkg-divert, the Debian way to
# replace another package's file), so Debian's moves to nginx.conf.debian, where upgrades of
# nginx-common put theirs without a conffile prompt; `apt purge products` restores it.
diverted_now=0
if [ "$(dpkg-divert --truename /etc/nginx/nginx.conf)" = /etc/nginx/nginx.conf ]; then
  if [ "$check" = 1 ]; then log "nginx: would divert /etc/nginx/nginx.conf to nginx.conf.debian"; changes=$((changes + 1))
  else
    # (Before the diversion, Debian's file was copied to nginx.conf.debian: put it back first.)
    if [ -f /etc/nginx/nginx.conf.debian ]; then mv -f /etc/nginx/nginx.conf.debian /etc/nginx/nginx.conf; fi
    dpkg-divert --quiet --package products --add --rename --divert /etc/nginx/nginx.conf.debian /etc/nginx/nginx.conf
    diverted_now=1
    changed "diverted Debian's /etc/nginx/nginx.conf to nginx.conf.debian"
  fi
fi
# What is replaced is kept until the whole of /etc/nginx passes `nginx -t`.
backup=$(mktemp -d); written=()
while IFS= read -r -d '' f; do
  rel=${f#"$stage"/}
  # (cp -p: the backup keeps the file's mode, so a restore leaves it exactly as it was)
  if [ -f "/etc/nginx/$rel" ]; then mkdir -p "$(dirname "$backup/$rel")"; cp -p "/etc/nginx/$rel" "$backup/$rel"; fi
  if put "$f" "/etc/nginx/$rel" 0644; then changed "/etc/nginx/$rel"; nginx_changed=1; written+=("$rel"); fi
done < <(find "$stage" -type f -print0 | sort -z)
rm -rf "$stage"
if [ "$check" = 0 ] && [ $nginx_changed = 1 ]; then
  # The whole of /etc/nginx (an operator's own conf.d files too) must pass; else back it goes.
  if ! nginx -t -q 2>"$backup/.test.log"; then
    cat "$backup/.test.log" >&2
    for rel in "${written[@]}"; do
      if [ -f "$backup/$rel" ]; then cp -p "$backup/$rel" "/etc/nginx/$rel"; else rm -f "/etc/nginx/$rel"; fi
    done
    # A diversion made by this run goes too: Debian's nginx.conf is back where it was.
    [ "$diverted_now" = 0 ] || dpkg-divert --quiet --package products --remove --rename --divert /etc/nginx/nginx.conf.debian /etc/nginx/nginx.conf
    die "nginx -t failed with the new config in /etc/nginx; the previous files are restored"
  fi
fi
rm -rf "$backup"
}
# ACME's webroot, and the directory for the operator's own server-level nginx files (included
# by conf.d/products.conf; nothing here writes into it).
[ "$check" = 1 ] || install -d -m 0755 "$ACME_ROOT" /etc/nginx/products.local
nginx_tree
fi
[ "$changes" -gt "$before" ] || unchanged
