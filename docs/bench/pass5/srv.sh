#!/bin/bash
# srv.sh start jetsse|centrifugo <bin>  -> prints pid; srv.sh stop <pid>
set -e
case $1 in
start)
  ulimit -n $(ulimit -Hn)
  if [ "$2" = centrifugo ]; then
    /work/peers/centrifugo -c /tmp/b11/centrifugo.json > /tmp/b11/centrifugo.log 2>&1 &
    pid=$!
    for i in $(seq 100); do curl -sf -o /dev/null 127.0.0.1:8000/health && break; sleep 0.1; done
  else
    d=$(mktemp -d /tmp/b11/data.XXXX); echo $d > /tmp/b11/lastdata
    $3 serve --data-dir $d --http-addr 127.0.0.1:28080 --nats-addr 127.0.0.1:24222 --admin-addr 127.0.0.1:29090 \
      --admin-token bench-admin-token-0001 --publish-token bench-publish-token --log-level warn \
      --max-connections-per-ip 0 --new-sessions-per-ip-per-second 0 --new-sessions-per-second 0 $EXTRA >/dev/null 2>$d/log &
    pid=$!
    for i in $(seq 100); do curl -sf -o /dev/null 127.0.0.1:28080/readyz && break; sleep 0.1; done
  fi
  echo $pid ;;
stop)
  kill $2; while kill -0 $2 2>/dev/null; do sleep 0.1; done
  [ -f /tmp/b11/lastdata ] && rm -rf $(cat /tmp/b11/lastdata) /tmp/b11/lastdata || true ;;
esac
