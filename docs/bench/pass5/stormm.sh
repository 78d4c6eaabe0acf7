#!/bin/bash
# stormm.sh <binary> <tag>: a storm run with /metrics scraped before and after
cd /tmp/b11; ./quiet.sh
PID=$(./srv.sh start jetsse $1)
T="Authorization: Bearer bench-admin-token-0001"
./jetsse-bench storm --n 10000 --within 5s --rate 100 --timeout 180s --addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publisher http --publish-token bench-publish-token --source-ips 4 --quiet --label $2 --pid $PID --out /tmp/b11/stormm-$2.json >/dev/null 2>>/tmp/b11/one.err
curl -s -H "$T" http://127.0.0.1:29090/metrics > /tmp/b11/metrics-$2.txt
./srv.sh stop $PID
