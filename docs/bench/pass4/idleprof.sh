#!/bin/bash
# idleprof.sh <binary> <tag> [settle]: 10k idle sessions, heap profile + RSS at 10k
cd /tmp/b11
S=${3:-30}
PID=$(./srv.sh start jetsse $1)
T="Authorization: Bearer bench-admin-token-0001"
( sleep $((S + S/2 + 2)); curl -s -H "$T" -o /tmp/b11/heap-$2.prof 'http://127.0.0.1:29090/debug/pprof/heap'
  grep -E 'VmRSS|Threads' /proc/$PID/status
  curl -s -H "$T" 'http://127.0.0.1:29090/debug/pprof/heap?debug=1' | grep -E '^# (HeapAlloc|HeapSys|HeapIdle|HeapInuse|HeapReleased|Stack|MSpan|Sys|NumGC|GCSys|OtherSys|NextGC)'
  curl -s -H "$T" 'http://127.0.0.1:29090/debug/pprof/goroutine?debug=1' | head -1 ) &
./jetsse-bench idle --n 10000 --settle ${S}s --timeout 180s --addr 127.0.0.1:28080 --source-ips 4 --quiet --pid $PID --out /tmp/b11/idle-$2.json >/dev/null
wait
./srv.sh stop $PID
python3 -c "
import json; r=json.load(open('/tmp/b11/idle-$2.json'))[-1]; print({k:r[k] for k in ('baseline_rss_kib','rss_kib','kib_per_session','connect_s')})"
