#!/bin/bash
# pubab.sh <rounds> <jetsse binary> <outfile>: POST /publish, one event per request, 4 workers,
# alternated: jetsse (--nats-sync 1s), the floor storing in JetStream (same sync), Centrifugo, the HTTP floor storing nothing
R=$1; J=$2; OUT=$3
cd /tmp/b11
B=/tmp/b11/jetsse-bench
for r in $(seq $R); do
  ./quiet.sh; PID=$(EXTRA="--nats-sync 1s" ./srv.sh start jetsse $J)
  $B publish --addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publish-token bench-publish-token --pid $PID --quiet --out $OUT --append --label jetsse-http-w4 --publisher http --k 30000 --workers 4 >/dev/null 2>>/tmp/b11/pub.err
  $B publish --addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publish-token bench-publish-token --pid $PID --quiet --out $OUT --append --label jetsse-nats-w4 --publisher nats --k 50000 --workers 4 >/dev/null 2>>/tmp/b11/pub.err
  ./srv.sh stop $PID
  ./quiet.sh; d=$(mktemp -d /tmp/b11/floor.XXXX)
  $B floor --data-dir $d --http-addr 127.0.0.1:28080 --nats-addr 127.0.0.1:24222 --nats-sync 1s --publish-token bench-publish-token >/dev/null 2>&1 & PID=$!
  for i in $(seq 100); do curl -s -o /dev/null 127.0.0.1:28080/ && break; sleep 0.1; done
  $B publish --addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publish-token bench-publish-token --pid $PID --quiet --out $OUT --append --label storefloor-http-w4 --publisher http --k 30000 --workers 4 >/dev/null 2>>/tmp/b11/pub.err
  kill $PID; while kill -0 $PID 2>/dev/null; do sleep 0.1; done; rm -rf $d
  ./quiet.sh; PID=$(./srv.sh start centrifugo)
  $B publish --label centrifugo-http-w4 --publisher http --publish-url http://127.0.0.1:8000/api/publish --publish-header 'X-API-Key: benchkey' \
    --publish-template '{"channel":{{json (print "bench:" .Topic)}},"data":{{.Data}}}' --verify acks --pid $PID --quiet --k 30000 --workers 4 --out $OUT --append >/dev/null 2>>/tmp/b11/pub.err
  ./srv.sh stop $PID
  $B floor-server --addr 127.0.0.1:28090 >/dev/null 2>&1 & PID=$!; sleep 0.5
  $B publish --label httpfloor-http-w4 --publisher http --publish-url http://127.0.0.1:28090/publish --verify acks --pid $PID --quiet --k 30000 --workers 4 --out $OUT --append >/dev/null 2>>/tmp/b11/pub.err
  kill $PID; while kill -0 $PID 2>/dev/null; do sleep 0.1; done
done
