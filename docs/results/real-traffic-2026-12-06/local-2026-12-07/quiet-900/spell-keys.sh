#!/usr/bin/env bash
# spell-keys.sh [ACCESS_LOG] [LINES]: of the keys nginx fetched from the workers after the
# longest gap in the last LINES requests of the local stack's access log (default 1,300,000,
# enough for the quiet row's fill and its 40 s), how many had been asked before the gap. With
# inactive=10m every entry is gone after a 15-minute spell and each such key is fetched again;
# with inactive=60m (and entries held until the next import) only what was never cached is.
set -euo pipefail
log=${1:-.data/stack/logs/nginx/access.log}; lines=${2:-1300000}
tail -n "$lines" "$log" | python3 -c '
import sys, json
from collections import Counter
from datetime import datetime
rows = []
for line in sys.stdin:
    if "/_health" in line: continue
    try: r = json.loads(line)
    except ValueError: continue
    rows.append((datetime.fromisoformat(r["time"]), r["uri"], r.get("cache", "")))
gap = max(range(1, len(rows)), key=lambda i: rows[i][0] - rows[i - 1][0])
before, after = rows[:gap], rows[gap:]
asked = set(u for _, u, _ in before)
fetched = [u for _, u, c in after if c in ("MISS", "EXPIRED", "STALE", "UPDATING", "BYPASS")]
print(f"before the gap: {len(before)} requests ({before[0][0]:%H:%M:%S}-{before[-1][0]:%H:%M:%S}), {len(asked)} distinct keys")
print(f"gap: {rows[gap][0] - rows[gap - 1][0]}")
print(f"after: {len(after)} requests ({after[0][0]:%H:%M:%S}-{after[-1][0]:%H:%M:%S}); cache statuses {Counter(c for _, _, c in after).most_common()}")
print(f"fetched from the workers after the gap: {len(fetched)} ({len(set(fetched))} keys), of which asked before the gap: {len(set(fetched) & asked)}")
'
