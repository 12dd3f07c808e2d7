# shellcheck shell=bash disable=SC2154,SC2034  # (variables come from products-configure and pass between steps)
# products-configure, step: server (products-server up and staying up, nginx reloaded).
# Sourced by products-configure (/usr/sbin), in its shell: its options, helpers and the
# values preflight derived are in scope. Not a program of its own.

# ------------------------------------------------------------------------------------ server
# products-server with the package's binary: restarted when its settings or drop-ins changed
# (a restart, not a reload: the master reads them; the socket stays with systemd, so the
# moment between the old master's graceful stop and the new one's first accept is queueing,
# not refusal); after a package upgrade dpkg has restarted it already.
step=server
if has server && [ "$check" = 0 ]; then
  if [ "$units_changed" = 1 ] || [ "$server_restart" = 1 ]; then
    systemctl restart products-server.service; changed "products-server restarted (new settings)"
  elif ! systemctl is-active --quiet products-server.service; then
    systemctl start products-server.service; changed "products-server started"
  else unchanged "products-server $RELEASE_VERSION running"; fi
  restarts_before=$(systemctl show -p NRestarts --value products-server.service)
else unchanged; fi
if [ "$check" = 0 ] && has web; then
  if [ "$nginx_changed" = 1 ] || [ "$mount_changed" = 1 ]; then
    if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl restart nginx; fi
  else
    systemctl start nginx
  fi
  # The catalog generation in nginx's cache key (nginx.sh): once nginx answers.
  systemctl enable --quiet products-cache-generation.service
  if [ "$generation_changed" = 1 ]; then systemctl restart products-cache-generation.service
  else systemctl start products-cache-generation.service; fi
elif [ "$check" = 0 ] && systemctl is-enabled --quiet products-cache-generation.service 2>/dev/null; then
  systemctl disable --quiet --now products-cache-generation.service; changed "products-cache-generation stopped (no nginx in role $ROLE)"
fi
if [ "$check" = 0 ] && has server; then
  # The master must stay up: a release that dies at start is caught here, not by the users.
  sleep 2
  if ! systemctl is-active --quiet products-server.service \
     || [ "$(systemctl show -p NRestarts --value products-server.service)" != "$restarts_before" ]; then
    die "products-server $RELEASE_VERSION does not stay up (journalctl -u products-server): if it came with a package upgrade, install the previous package again (apt install --allow-downgrades ./products_<previous>.deb)"
  fi
fi
