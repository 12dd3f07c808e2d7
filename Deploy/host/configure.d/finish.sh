# shellcheck shell=bash disable=SC2154,SC2034  # (variables come from products-configure and pass between steps)
# products-configure, steps: settings (host.conf, once everything worked), finished.
# Sourced by products-configure (/usr/sbin), in its shell: its options, helpers and the
# values preflight derived are in scope. Not a program of its own.

# The settings are kept only once everything above worked: a failed run changes nothing the
# next run reads.
step=settings
put_text "$ETC/host.conf" 0644 <<EOF && changed "$ETC/host.conf" || true
# Host settings of products-configure; edit and re-run it (or pass its options).
ROLE=$ROLE
SERVER_NAME=$SERVER_NAME
HTTP_PORT=$HTTP_PORT
WORKERS=$WORKERS
CACHE_SIZE=$CACHE_SIZE
CACHE_ON=$CACHE_ON
LOADERIO_TOKEN=$LOADERIO_TOKEN
TRUSTED_CLIENTS=$TRUSTED_CLIENTS
MONITORING_HOSTS=$MONITORING_HOSTS
APP_HOSTS=$APP_HOSTS
APP_MAX_CONNS=$APP_MAX_CONNS
LB_HOSTS=$LB_HOSTS
DB_HOSTS=$DB_HOSTS
REPLICA_HOSTS=$REPLICA_HOSTS
PRIMARY=$PRIMARY
PRIVATE_ADDRESS=$PRIVATE_ADDRESS
FASTCGI_PORT=$FASTCGI_PORT
DATABASE_LIFETIME=$DATABASE_LIFETIME
READ_FROM=$READ_FROM
FLOATING_ADDRESS=$FLOATING_ADDRESS
VRRP_PRIORITY=$VRRP_PRIORITY
VRRP_PEERS=$VRRP_PEERS
RATE_LIMIT=$RATE_LIMIT
BURST=$BURST
PROXIES=$PROXIES
ADMIN_PORT=${ADMIN_ADDRESS:+$ADMIN_ADDRESS:}$ADMIN_PORT
ADMIN_CLIENTS=$ADMIN_CLIENTS
IPV6=$IPV6
TLS_CERT=$TLS_CERT
TLS_KEY=$TLS_KEY
ACME_EMAIL=$ACME_EMAIL
ACME_SERVER=$ACME_SERVER
HTTPS_PORT=$HTTPS_PORT
HTTPS_REDIRECT=$HTTPS_REDIRECT
HSTS=$HSTS
EOF

step=finished
if [ "$check" = 1 ]; then
  if [ "$changes" = 0 ]; then log "check: nothing would change"; exit 0; fi
  log "check: $changes change(s) would be made"; exit 1
fi
case "$ROLE" in
  single) where=" (http://$SERVER_NAME:$HTTP_PORT/products/1)" ;;
  lb) where=" (http://$SERVER_NAME:$HTTP_PORT/products/1$([ "$FLOATING_ADDRESS" = none ] || echo "; floating address $FLOATING_ADDRESS, VRRP priority $VRRP_PRIORITY"))" ;;
  app) where=" (FastCGI on $PRIVATE_ADDRESS:$FASTCGI_PORT for $LB_HOSTS)" ;;
  *) where=" (PostgreSQL on $PRIVATE_ADDRESS:5432 for $APP_HOSTS)" ;;
esac
if [ "$changes" = 0 ]; then log "nothing changed: $RELEASE_VERSION is installed and running as $ROLE"
else log "$changes change(s); $RELEASE_VERSION is installed and running as $ROLE$where"; fi
