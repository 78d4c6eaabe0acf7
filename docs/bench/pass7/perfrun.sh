#!/bin/bash
# perfrun.sh <server: jetsse bin path | floor> <tag>: perf stat + perf record during fan10
S=$1; T=$2
cd /tmp/b11; ./quiet.sh
B=/tmp/b11/jetsse-bench
if [ $S = floor ]; then
  d=$(mktemp -d /tmp/b11/floor.XXXX); $B floor --data-dir $d --http-addr 127.0.0.1:28080 --nats-addr 127.0.0.1:24222 --publish-token bench-publish-token >/dev/null 2>&1 &
  PID=$!; for i in $(seq 100); do curl -s -o /dev/null 127.0.0.1:28080/ && break; sleep 0.1; done
else
  PID=$(./srv.sh start jetsse $S)
fi
( sleep 8; perf record -F 1999 -g -p $PID -o /tmp/b11/perf-$T.data -- sleep 15 2>/dev/null >/dev/null ) & PP=$!
$B fanout --n 1000 --k 300 --rate 10 --timeout 120s --addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publisher http --publish-token bench-publish-token --source-ips 4 --quiet --label $T --pid $PID --out /tmp/b11/perf-$T.json >/dev/null 2>>/tmp/b11/one.err
wait $PP
kill $PID; while kill -0 $PID 2>/dev/null; do sleep 0.1; done; rm -rf /tmp/b11/floor.* $(cat /tmp/b11/lastdata 2>/dev/null) /tmp/b11/lastdata
