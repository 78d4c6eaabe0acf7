#!/bin/bash
# stormfloor.sh <tag>: a storm run against the raw-socket floor with a ring (the cheapest resume)
cd /tmp/b11; ./quiet.sh
ulimit -n $(ulimit -Hn)
d=$(mktemp -d /tmp/b11/floor.XXXX)
./jetsse-bench floor --data-dir $d --http-addr 127.0.0.1:28080 --nats-addr 127.0.0.1:24222 --publish-token bench-publish-token --ring 100000 >/dev/null 2>&1 &
PID=$!
for i in $(seq 100); do curl -s -o /dev/null 127.0.0.1:28080/ && break; sleep 0.1; done
./jetsse-bench storm --n 10000 --within 5s --rate 100 --timeout 180s --addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publisher http --publish-token bench-publish-token --source-ips 4 --quiet --label $1 --pid $PID --out /tmp/b11/stormm-$1.json >/dev/null 2>>/tmp/b11/one.err
kill $PID; while kill -0 $PID 2>/dev/null; do sleep 0.1; done; rm -rf $d
