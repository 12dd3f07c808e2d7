#!/usr/bin/env python3
"""fcgi-stub: a stand-in for products-server, to test the nginx config without Swift or a database.

    fcgi-stub.py SOCKET [--group GROUP] [--delay SECONDS]

A FastCGI responder on a unix socket (mode 0660, like products-server's; --group sets the
socket's group, e.g. www-data when nginx workers run as that user). --delay holds every answer
that long (a busy worker: requests stay in flight). Standard library only.
Every answer is JSON describing what the stub saw, so a test can tell what nginx forwarded:

    {"n": <how many requests this stub has answered>, "method": ..., "request_uri": ...,
     "gzip": <PRODUCTS_GZIP>, "params": [<every FastCGI param name>], "path": ..., "pad": "..."}

Paths (matched on DOCUMENT_URI):
    /products/404      → 404 {"message": "product not found"}
    /products/503      → 503 {"message": "database unavailable"}, with `Retry-After: 30`
    /products/slow     → sleeps 10 s first (a hung worker), then 200
    /products/cached   → 200 with `Cache-Control: public, max-age=60`, `Vary: *` and `Expires: 0`
                         (nginx obeys the first, ignores the others)
    /products/nostore  → 200 with `Cache-Control: no-store` (nginx must not cache it)
    anything else      → 200, padded to ~2 KB so gzip applies, with `Cache-Control: public,
                         max-age=1` (products-server's policy, shortened so that a test can
                         let an entry expire) and `ETag: "stub<path>"`; 304 without a body
                         when HTTP_IF_NONE_MATCH is exactly that ETag (as products-server does)
Used by Deploy/local/nginx-selftest.
"""
import grp
import json
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 2, 3, 4, 5, 6
KEEP_CONN = 1
counter = 0
counter_lock = threading.Lock()
delay = 0.0


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_record(sock):
    _version, rtype, rid, clen, plen, _ = struct.unpack("!BBHHBB", read_exact(sock, 8))
    content = read_exact(sock, clen) if clen else b""
    if plen:
        read_exact(sock, plen)
    return rtype, rid, content


def write_record(sock, rtype, rid, content):
    for i in range(0, max(len(content), 1), 65535):
        part = content[i:i + 65535]
        sock.sendall(struct.pack("!BBHHBB", 1, rtype, rid, len(part), 0, 0) + part)


def parse_params(data):
    params, i = {}, 0
    while i < len(data):
        lengths = []
        for _ in range(2):
            if data[i] >> 7:
                lengths.append(struct.unpack("!I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lengths.append(data[i])
                i += 1
        name = data[i:i + lengths[0]].decode("latin-1")
        i += lengths[0]
        params[name] = data[i:i + lengths[1]].decode("latin-1")
        i += lengths[1]
    return params


def respond(params):
    global counter
    with counter_lock:
        counter += 1
        n = counter
    path = params.get("DOCUMENT_URI", "")
    headers = {"Content-Type": "application/json"}
    status = "200 OK"
    if path == "/products/404":
        return "404 Not Found", headers, {"message": "product not found"}
    if path == "/products/503":
        headers["Retry-After"] = "30"   # nginx must send its own value only
        return "503 Service Unavailable", headers, {"message": "database unavailable"}
    if path == "/products/slow":
        time.sleep(10)
    elif delay:
        time.sleep(delay)
    if path == "/products/cached":
        headers.update({"Cache-Control": "public, max-age=60", "Vary": "*", "Expires": "0"})
    elif path == "/products/nostore":
        headers["Cache-Control"] = "no-store"
    else:
        headers.update({"Cache-Control": "public, max-age=1", "ETag": '"stub%s"' % path})
        if params.get("HTTP_IF_NONE_MATCH") == headers["ETag"]:
            return "304 Not Modified", {k: v for k, v in headers.items() if k != "Content-Type"}, None
    body = {"n": n, "method": params.get("REQUEST_METHOD"), "request_uri": params.get("REQUEST_URI"),
            "path": path, "query": params.get("QUERY_STRING"), "gzip": params.get("PRODUCTS_GZIP"),
            "params": sorted(params),
            "pad": "product " * 250}
    return status, headers, body


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        try:
            while True:
                rtype, rid, content = read_record(sock)
                if rtype != BEGIN_REQUEST:
                    continue
                flags = content[2]
                params_raw = b""
                while True:
                    rtype, _, content = read_record(sock)
                    if rtype == PARAMS:
                        if not content:
                            continue
                        params_raw += content
                    elif rtype == STDIN and not content:
                        break
                status, headers, body = respond(parse_params(params_raw))
                head = "Status: %s\r\n" % status + "".join("%s: %s\r\n" % kv for kv in headers.items())
                payload = (head + "\r\n" + ("" if body is None else json.dumps(body) + "\n")).encode()
                write_record(sock, STDOUT, rid, payload)
                write_record(sock, STDOUT, rid, b"")
                write_record(sock, END_REQUEST, rid, struct.pack("!IB3x", 0, 0))
                if not flags & KEEP_CONN:
                    return
        except (EOFError, ConnectionError):
            return


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # Default 5: under a few dozen concurrent connects the backlog overflowed and nginx saw
    # EAGAIN (a 502, sent as 503): a failure of the stub, not of the config under test.
    request_queue_size = 256


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    global delay
    path, group = args[0], None
    options = dict(zip(args[1::2], args[2::2]))
    if set(options) - {"--group", "--delay"} or len(args) % 2 == 0:
        print(__doc__)
        return 2
    group = options.get("--group")
    delay = float(options.get("--delay", 0))
    if os.path.exists(path):
        os.unlink(path)
    server = Server(path, Handler)
    if group:
        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    os.chmod(path, 0o660)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("fcgi-stub: listening on %s" % path, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
