#!/bin/bash
# Issue 11 like-for-like series. Usage: series.sh <jetsse binary> <outdir> [rows...]
# One server at a time, fresh each run, alternating; every publisher is HTTP (POST /publish, Centrifugo /api/publish) unless the row says otherwise.
# PROBE names the go-sse probe binary for the probe row (cmd/jetsse-bench/probe/gosse; default /tmp/b11/gosse).
PROBE=${PROBE:-/tmp/b11/gosse}
J=$1; OUT=$2; shift 2; ROWS="${*:-idle fan10 fanmax fan10k resume probe storm publish}"
mkdir -p $OUT; cd /tmp/b11
B=/tmp/b11/jetsse-bench
JA=(--addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publisher http --publish-token bench-publish-token --source-ips 4 --quiet)
CF='http://127.0.0.1:8000/connection/uni_sse?cf_connect=%7B%22subs%22%3A%7B%22bench%3A{topic}%22%3A%7B%7D%7D%7D'
CFR='http://127.0.0.1:8000/connection/uni_sse?cf_connect=%7B%22subs%22%3A%7B%22bench%3A{topic}%22%3A%7B%22recover%22%3Atrue%2C%22offset%22%3A{data:offset}%2C%22epoch%22%3A%22{data:epoch}%22%7D%7D%7D'
CA=(--sse-url "$CF" --resume-url "$CFR" --attach first --seq data --publisher http --publish-url http://127.0.0.1:8000/api/publish
    --publish-header 'X-API-Key: benchkey' --publish-template '{"channel":{{json (print "bench:" .Topic)}},"data":{{.Data}}}' --source-ips 4 --quiet)
start() { # start <server> -> PID
  case $1 in
    jetsse) PID=$(/tmp/b11/srv.sh start jetsse $J) ;;
    centrifugo) PID=$(/tmp/b11/srv.sh start centrifugo) ;;
    floor) d=$(mktemp -d /tmp/b11/floor.XXXX); $B floor --data-dir $d --http-addr 127.0.0.1:28080 --nats-addr 127.0.0.1:24222 --publish-token bench-publish-token >/dev/null 2>&1 &
           PID=$!; for i in $(seq 100); do curl -s -o /dev/null 127.0.0.1:28080/ && break; sleep 0.1; done ;;
  esac
}
stop() { kill $PID; while kill -0 $PID 2>/dev/null; do sleep 0.1; done; rm -rf /tmp/b11/floor.* $(cat /tmp/b11/lastdata 2>/dev/null) /tmp/b11/lastdata; }
args() { case $1 in centrifugo) echo centrifugo;; *) echo jetsse;; esac; }
run() { # run <server> <out> <scenario args...>
  s=$1; o=$2; shift 2; /tmp/b11/quiet.sh; start $s
  if [ $s = centrifugo ]; then A=("${CA[@]}"); else A=("${JA[@]}"); fi
  $B "$@" "${A[@]}" --label $s --pid $PID --out $OUT/$o.json --append > /dev/null 2>>$OUT/errors.log
  echo "$(date +%T) $o $s rc=$?" >> $OUT/progress.log; stop
}
for row in $ROWS; do case $row in
  idle)   for s in jetsse centrifugo jetsse jetsse; do run $s idle idle --n 10000 --settle 3s --timeout 180s; done ;;
  fan10)  for r in 1 2 3; do for s in jetsse centrifugo floor; do run $s fan10 fanout --n 1000 --k 300 --rate 10 --timeout 120s; done; done ;;
  fanmax) for r in 1 2 3; do for s in jetsse centrifugo floor; do run $s fanmax fanout --n 1000 --k 3000 --rate max --publish-workers 4 --timeout 150s; done; done ;;
  fan10k) for s in jetsse centrifugo floor; do run $s fan10k fanout --n 10000 --k 20 --rate 0.5 --timeout 150s; done ;;
  resume) run jetsse resume resume --m 10000 --repeat 5 --mode last-event-id,cookie --publish-workers 1 --timeout 120s
          run centrifugo resume resume --m 10000 --repeat 5 --mode last-event-id --publish-workers 1 --timeout 120s ;;
  probe)  for s in jetsse centrifugo; do /tmp/b11/quiet.sh; start $s
            if [ $s = jetsse ]; then $PROBE -server jetsse -url http://127.0.0.1:28080 -publish-token bench-publish-token -m 10000 -repeat 5 >> $OUT/probe-$s.json 2>>$OUT/errors.log
            else $PROBE -server centrifugo -url http://127.0.0.1:8000 -api-key benchkey -m 10000 -repeat 5 >> $OUT/probe-$s.json 2>>$OUT/errors.log; fi
            echo "$(date +%T) probe $s rc=$?" >> $OUT/progress.log; stop; done ;;
  storm)  for r in 1 2 3; do run jetsse storm storm --n 10000 --within 5s --rate 100 --timeout 180s; done
          run centrifugo storm storm --n 10000 --within 5s --rate 100 --timeout 180s ;;
  publish) for r in 1 2 3; do
            /tmp/b11/quiet.sh; EXTRA="--nats-sync 1s" start jetsse
            P=(--addr 127.0.0.1:28080 --nats nats://127.0.0.1:24222 --publish-token bench-publish-token --pid $PID --quiet --out $OUT/publish.json --append)
            for w in 4 16; do
              $B publish "${P[@]}" --label jetsse-http-w$w --publisher http --k 30000 --workers $w >/dev/null 2>>$OUT/errors.log
              $B publish "${P[@]}" --label jetsse-nats-w$w --publisher nats --k 50000 --workers $w >/dev/null 2>>$OUT/errors.log
            done
            $B publish "${P[@]}" --label jetsse-batch100-w4 --publisher http --batch 100 --k 200000 --workers 4 >/dev/null 2>>$OUT/errors.log
            $B publish "${P[@]}" --label jetsse-batch10-w4 --publisher http --batch 10 --k 100000 --workers 4 >/dev/null 2>>$OUT/errors.log
            echo "$(date +%T) publish jetsse" >> $OUT/progress.log; stop
            /tmp/b11/quiet.sh; start centrifugo
            for w in 4 16; do
              $B publish --label centrifugo-http-w$w --publisher http --publish-url http://127.0.0.1:8000/api/publish --publish-header 'X-API-Key: benchkey' \
                --publish-template '{"channel":{{json (print "bench:" .Topic)}},"data":{{.Data}}}' --verify acks --pid $PID --quiet --k 30000 --workers $w --out $OUT/publish.json --append >/dev/null 2>>$OUT/errors.log
            done
            echo "$(date +%T) publish centrifugo" >> $OUT/progress.log; stop
            $B floor-server --addr 127.0.0.1:28090 >/dev/null 2>&1 & PID=$!; sleep 0.5
            for w in 4 16; do
              $B publish --label floor-http-w$w --publisher http --publish-url http://127.0.0.1:28090/publish --verify acks --pid $PID --quiet --k 30000 --workers $w --out $OUT/publish.json --append >/dev/null 2>>$OUT/errors.log
            done
            stop
          done ;;
esac; done
echo "$(date +%T) done" >> $OUT/progress.log
