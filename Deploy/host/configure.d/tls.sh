# shellcheck shell=bash disable=SC2154,SC2034  # (variables come from products-configure and pass between steps)
# products-configure, step: tls (a certificate from an ACME server with certbot, --acme-email).
# Sourced by products-configure (/usr/sbin), in its shell: its options, helpers and the
# values preflight derived are in scope. Not a program of its own.

# --------------------------------------------------------------------------------------- tls
# certbot's webroot mode: nginx answers the HTTP-01 challenge from $ACME_ROOT (it does since the
# nginx step; the server step has reloaded it), certbot writes the certificate to
# /etc/letsencrypt/live/<server name>/, and the nginx tree is rendered again with HTTPS. Debian's
# certbot.timer renews it twice a day when it nears its end, and the deploy hook saved with it
# reloads nginx. Without a certificate (the ACME server unreachable, the name not pointing here)
# the run fails at this step and the host keeps serving plain HTTP as before.
step=tls
before=$changes
if has web && [ "$ACME_EMAIL" != none ]; then
  live=/etc/letsencrypt/live/$SERVER_NAME
  if [ -f "$live/fullchain.pem" ]; then
    unchanged "certificate for $SERVER_NAME until $(openssl x509 -enddate -noout -in "$live/fullchain.pem" | cut -d= -f2) (certbot.timer renews it)"
  elif [ "$check" = 1 ]; then
    log "tls: would obtain a certificate for $SERVER_NAME from $ACME_SERVER (certbot, HTTP-01)"; changes=$((changes + 1))
  else
    if ! certbot certonly --non-interactive --agree-tos --email "$ACME_EMAIL" --server "$ACME_SERVER" \
           --webroot -w "$ACME_ROOT" -d "$SERVER_NAME" --deploy-hook "systemctl reload nginx" >/tmp/products-certbot.log 2>&1; then
      tail -20 /tmp/products-certbot.log >&2
      die "certbot could not obtain a certificate for $SERVER_NAME from $ACME_SERVER (log: /tmp/products-certbot.log); plain HTTP keeps serving"
    fi
    changed "certificate for $SERVER_NAME from $ACME_SERVER (certbot; certbot.timer renews it and reloads nginx)"
    step=nginx; nginx_tree; step=tls
    systemctl reload nginx
  fi
fi
[ "$changes" -gt "$before" ] || unchanged
