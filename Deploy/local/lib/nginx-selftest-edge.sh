# shellcheck shell=bash disable=SC2154,SC2034  # (the variables and checks are nginx-selftest's)
# nginx-selftest's checks of the edge (issue 24): a proxy in front, the admin listener, the
# operator's own include, HTTPS. Sourced by Deploy/local/nginx-selftest, after its other checks:
# its vocabulary (req, ok, bad, is_status, has, ...) and ports are in scope.

# --- the edge: a proxy in front, an admin listener, the operator's own include (issue 24) -------
# A fourth nginx from the same tree: 127.0.0.3 is a proxy or cloud load balancer in front
# (--proxies), the admin endpoints have a listener of their own (--admin-listen) that 127.0.0.4
# may use too (--admin-clients: a load balancer's health checker), and a file of the operator's
# sits in products.local/ (which no install writes).
eport=$(free_port $((bport + 1))); aport=$(free_port $((eport + 1)))
"$RENDER" "$T/edge" --local --upstream "unix:$T/edge.sock" --listen "127.0.0.1:$eport" --cache-dir "$T/edge-cache" \
  --proxies 127.0.0.3 --admin-listen "127.0.0.1:$aport" --admin-clients 127.0.0.4 >/dev/null
mkdir -p "$T/edge/products.local"
printf 'location = /local-check {\n    return 200 "{\\"local\\":true}\\n";\n}\n' >"$T/edge/products.local/check.conf"
nginx -p "$T/edge/" -e "$T/edge/logs/error.log" -c "$T/edge/nginx.conf"
start_stub "$T/edge.sock"
E=http://127.0.0.1:$eport; A=http://127.0.0.1:$aport
for _ in $(seq 50); do curl -s -o /dev/null "$E/" && break; sleep 0.1; done
req "admin listener: /_status on the public port → 404, even from loopback" "$E/_status"; is_status 404
req "… /_health/nginx on the public port → 404" "$E/_health/nginx"; is_status 404
req "… /_health/live on the admin port from loopback → 200" "$A/_health/live"; is_status 200
req "… /_status on the admin port from an --admin-clients address → 200" --interface 127.0.0.4 "$A/_status"; is_status 200
req "… from anyone else → 404 JSON" --interface 127.0.0.2 "$A/_status"; json_error 404 "not found"
req "… the admin port serves nothing else: /products/1 → 404" "$A/products/1"; is_status 404
# 250 fast requests each; the limit is 50 r/s with a burst of 100.
burst() {  # interface, X-Forwarded-For or "": how many of 250 fast requests got 429
  local xff=(); [ -z "$2" ] || xff=(-H "X-Forwarded-For: $2")
  local urls=(); for _ in $(seq 250); do urls+=("$E/products/1"); done
  curl -s --interface "$1" "${xff[@]}" -o /dev/null -w '%{http_code}\n' "${urls[@]}" | grep -c '^429$' || true
}
headers=""; body=""
n=$(burst 127.0.0.4 ""); name="… an --admin-clients address gains no trust on the public port: $n of 250 → 429"; [ "$n" -gt 0 ] && ok || bad "never limited"
n=$(burst 127.0.0.3 203.0.113.7); name="behind the proxy: one client (X-Forwarded-For 203.0.113.7) is limited: $n of 250 → 429"; [ "$n" -gt 0 ] && ok || bad "never limited"
n=$(burst 127.0.0.3 203.0.113.8); name="… another client through the same proxy has its own budget: $n of 250 → 429"
[ "$n" -gt 0 ] && [ "$n" -le 150 ] && ok || bad "$n limited (the proxy's budget shared?)"
n=$(burst 127.0.0.2 127.0.0.1); name="a forged X-Forwarded-For: 127.0.0.1 from a non-proxy changes nothing: $n of 250 → 429"; [ "$n" -gt 0 ] && ok || bad "trusted by a forged header"
sleep 1.2   # the access log is flushed every second
name="… the access log names the client behind the proxy, not the proxy"
grep -q '"client":"203.0.113.7"' "$T/edge/logs/access.log" && ! grep -q '"client":"127.0.0.3"' "$T/edge/logs/access.log" && ok || bad "$(tail -1 "$T/edge/logs/access.log")"
req "the operator's products.local/*.conf is included: /local-check → 200" "$E/local-check"; is_status 200; body_is '{"local":true}'
stop_stub
kill -QUIT "$(cat "$T/edge/run/nginx.pid")" 2>/dev/null || true

# --- HTTPS (issue 24) ---------------------------------------------------------------------------
# A fifth nginx with a certificate of its own (a throwaway CA signs it for `localhost`), HTTP/2,
# the redirect of plain HTTP and HSTS, and an ACME webroot for certbot's HTTP-01 challenges.
hport=$(free_port $((aport + 1))); sport=$(free_port $((hport + 1)))
mkdir -p "$T/pki" "$T/acme/.well-known/acme-challenge"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/pki/ca.key" -out "$T/pki/ca.pem" \
  -days 2 -subj /CN=selftest-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/pki/key.pem" -out "$T/pki/req.pem" -subj /CN=localhost 2>/dev/null
openssl x509 -req -in "$T/pki/req.pem" -CA "$T/pki/ca.pem" -CAkey "$T/pki/ca.key" -CAcreateserial -days 2 \
  -extfile <(printf 'subjectAltName=DNS:localhost\n') -out "$T/pki/cert.pem" 2>/dev/null
echo "token-123.thumbprint" >"$T/acme/.well-known/acme-challenge/token-123"
"$RENDER" "$T/tls" --local --upstream "unix:$T/tls.sock" --listen "127.0.0.1:$hport" --cache-dir "$T/tls-cache" \
  --tls-cert "$T/pki/cert.pem" --tls-key "$T/pki/key.pem" --tls-listen "127.0.0.1:$sport" \
  --https-redirect --hsts --acme-root "$T/acme" >/dev/null
nginx -p "$T/tls/" -e "$T/tls/logs/error.log" -c "$T/tls/nginx.conf"
start_stub "$T/tls.sock"
S=https://localhost:$sport; H=http://127.0.0.1:$hport
for _ in $(seq 50); do curl -s -o /dev/null "$H/" && break; sleep 0.1; done
req "HTTPS: GET /products/1 with the chain verified (curl --cacert) → 200" --cacert "$T/pki/ca.pem" "$S/products/1"; is_status 200
has 'Strict-Transport-Security: max-age=63072000'; has 'X-Cache-Status: '
v=$(curl -s -o /dev/null -w '%{http_version}' --cacert "$T/pki/ca.pem" "$S/products/1")
name="… over HTTP/2 (ALPN h2): $v"; [ "$v" = 2 ] && ok || bad "HTTP version $v"
v=$(curl -s -o /dev/null -w '%{http_code}' --tlsv1.2 --tls-max 1.2 --cacert "$T/pki/ca.pem" "$S/products/1")
name="… TLS 1.2 as well: $v"; [ "$v" = 200 ] && ok || bad "$v"
req "… an unverifiable chain is refused by curl (no --cacert)" "$S/products/1"; [ "$status" = 000 ] && ok || bad "status $status"
req "plain HTTP → 301 to https://" "$H/products/1?x=1"; is_status 301; has "Location: https://127.0.0.1/products/1\?x=1"
hasnt 'Strict-Transport-Security'
req "… except ACME's HTTP-01 challenge, served from the webroot" "$H/.well-known/acme-challenge/token-123"; is_status 200
body_is "token-123.thumbprint"
req "… and the health checks (trusted, over HTTP)" "$H/_health/live"; is_status 200
stop_stub
kill -QUIT "$(cat "$T/tls/run/nginx.pid")" 2>/dev/null || true
