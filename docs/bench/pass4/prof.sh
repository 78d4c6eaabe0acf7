#!/bin/bash
# prof.sh <binary> <tag> <delay> <seconds> <scenario args...>: CPU profile during a run
J=$1; T=$2; D=$3; S=$4; shift 4
cd /tmp/b11; ./quiet.sh
PID=$(./srv.sh start jetsse $J)
( sleep $D; curl -s -H 'Authorization: Bearer bench-admin-token-0001' -o /tmp/b11/cpu-$T.prof "http://127.0.0.1:29090/debug/pprof/profile?seconds=$S" ) &
./jetsse-bench "$@" --addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publisher http --publish-token bench-publish-token --source-ips 4 --quiet --label $T --pid $PID --out /tmp/b11/prof-$T.json >/dev/null 2>>/tmp/b11/one.err
wait
./srv.sh stop $PID
