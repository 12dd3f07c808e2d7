#!/usr/bin/env python3
"""consistency.py: is every response of the catalog wholly one generation?

Used by Deploy/host/test-cluster while an import runs on the primary and the replica replays it.

  consistency.py snapshot URL KEYS OUT.json
      GET each key (a path such as /products/7/styles) once, with X-Cache-Bypass, and write
      {key: [status, body sha256, ETag generation]} — the catalog as it is now (a 404 is an
      answer too: an id one export has and the other has not).
  consistency.py record URL KEYS STOPFILE OUT.json [THREADS]
      GET random keys, as fast as THREADS keep-alive connections go, until STOPFILE exists;
      write every distinct (key, body sha256, ETag generation, status) with its count and the
      time it was first and last seen. A GET that meets its kept connection closed before any
      byte of the answer is sent again once on a new one, as browsers and HTTP libraries do
      for an idempotent request (RFC 9110 9.2.2): an nginx reload closes its old workers' idle
      connections (the lb reloads when a new catalog generation arrives). Counted apart
      ("resent"); a second failure, or any failure on a fresh connection, is a transport error.
  consistency.py judge OLD.json NEW.json RECORD.json
      Every recorded answer must be exactly the old one (status, body and generation) or
      exactly the new one. Prints one summary line; exits 1 on any mixed answer.

The ETag is "<generation>-<route><id>..." (docs/api.md): the generation and the body come from
one row of one query, so a body of one catalog with the generation of the other — or a body
that is neither — would be a response that mixes two catalogs.
"""
import hashlib
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse


def ask(conn, key):
    conn.request("GET", key, headers={"X-Cache-Bypass": "1"})
    return conn.getresponse()


def fetch(conn, key):
    return answer(ask(conn, key))


def answer(r):
    body = r.read()
    etag = r.getheader("ETag") or ""
    generation = etag.strip('"').split("-", 1)[0] if etag else ""
    return r.status, hashlib.sha256(body).hexdigest(), generation


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)


def keys_of(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def snapshot(url, keys_path, out):
    conn = connect(url)
    result = {}
    for key in keys_of(keys_path):
        status, sha, gen = fetch(conn, key)
        if status not in (200, 404):
            sys.exit(f"consistency: {key} answered {status}")
        result[key] = [status, sha, gen]
    with open(out, "w") as f:
        json.dump(result, f)
    gens = sorted({v[2] for v in result.values() if v[0] == 200})
    print(f"consistency: snapshot of {len(result)} keys, generation(s) {', '.join(gens)}")


def record(url, keys_path, stopfile, out, threads=4):
    keys = keys_of(keys_path)
    seen = {}
    lock = threading.Lock()
    errors = []
    resent = [0]

    def run(seed):
        rng = random.Random(seed)
        conn, used = connect(url), 0
        while not os.path.exists(stopfile):
            key = rng.choice(keys)
            try:
                try:
                    r = ask(conn, key)
                except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                    if used == 0:
                        raise
                    # The kept connection closed under the request, no answer begun: once more.
                    with lock:
                        resent[0] += 1
                    conn.close()
                    conn, used = connect(url), 0
                    r = ask(conn, key)
                status, sha, gen = answer(r)
                used += 1
            except Exception as e:  # a transport error: count it, reconnect
                with lock:
                    errors.append(str(e))
                conn.close()
                conn, used = connect(url), 0
                time.sleep(0.05)
                continue
            now = time.time()
            with lock:
                entry = seen.setdefault((key, sha, gen, status), [0, now, now])
                entry[0] += 1
                entry[2] = now

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with open(out, "w") as f:
        json.dump({"answers": [[k[0], k[1], k[2], k[3], v[0], v[1], v[2]] for k, v in seen.items()],
                   "transport_errors": errors, "resent": resent[0]}, f)


def judge(old_path, new_path, record_path):
    old = json.load(open(old_path))
    new = json.load(open(new_path))
    rec = json.load(open(record_path))
    counts = {"old": 0, "new": 0, "mixed": 0}
    mixed = []
    first_new = None
    for key, sha, gen, status, n, first, last in rec["answers"]:
        if [status, sha, gen] == old.get(key):
            counts["old"] += n
        elif [status, sha, gen] == new.get(key):
            counts["new"] += n
            first_new = first if first_new is None else min(first_new, first)
        else:
            counts["mixed"] += n
            mixed.append(f"{key} status {status} body {sha[:12]} generation {gen} x{n} (old {old.get(key)}, new {new.get(key)})")
    total = sum(counts.values())
    errors = len(rec["transport_errors"])
    changed = sum(1 for k in old if old[k][:2] != new.get(k, [None, None])[:2])
    print(f"consistency: {total} answers: {counts['old']} wholly old, {counts['new']} wholly new, "
          f"{counts['mixed']} mixed or other, {errors} transport errors, "
          f"{rec.get('resent', 0)} resent after a kept connection closed "
          f"({changed} of {len(old)} keys changed their body)")
    for line in mixed[:10]:
        print(f"consistency:   {line}")
    json.dump({"counts": counts, "transport_errors": errors, "first_new": first_new},
              open(record_path + ".verdict", "w"))
    sys.exit(0 if counts["mixed"] == 0 and errors == 0 and counts["new"] > 0 else 1)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "snapshot":
        snapshot(*args)
    elif command == "record":
        record(args[0], args[1], args[2], args[3], int(args[4]) if len(args) > 4 else 4)
    elif command == "judge":
        judge(*args)
    else:
        sys.exit(__doc__)
