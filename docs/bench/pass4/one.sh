#!/bin/bash
# one.sh <binary> <out.json> <label> <scenario args...>  (env passes through to the server, e.g. GOGC, EXTRA)
J=$1; O=$2; L=$3; shift 3
cd /tmp/b11; ./quiet.sh
PID=$(./srv.sh start jetsse $J)
./jetsse-bench "$@" --addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publisher http --publish-token bench-publish-token --source-ips 4 --quiet --label $L --pid $PID --out $O --append >/dev/null 2>>/tmp/b11/one.err
./srv.sh stop $PID
