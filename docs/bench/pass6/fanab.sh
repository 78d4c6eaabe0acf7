#!/bin/bash
# fanab.sh <rounds> <out.json> label=binary|centrifugo ...: fan-out 10 events/s to 1,000 subscribers, alternated
R=$1; O=$2; shift 2
CF='http://127.0.0.1:8000/connection/uni_sse?cf_connect=%7B%22subs%22%3A%7B%22bench%3A{topic}%22%3A%7B%7D%7D%7D'
for r in $(seq $R); do for lb in "$@"; do l=${lb%%=*}; b=${lb#*=}
  if [ "$b" = centrifugo ]; then
    /tmp/b11/quiet.sh; PID=$(/tmp/b11/srv.sh start centrifugo)
    /tmp/b11/jetsse-bench fanout --n 1000 --k 300 --rate 10 --timeout 120s --sse-url "$CF" --attach first --seq data --publisher http \
      --publish-url http://127.0.0.1:8000/api/publish --publish-header 'X-API-Key: benchkey' \
      --publish-template '{"channel":{{json (print "bench:" .Topic)}},"data":{{.Data}}}' --source-ips 4 --quiet --label $l-$r --pid $PID --out $O --append >/dev/null 2>>/tmp/b11/one.err
    /tmp/b11/srv.sh stop $PID
  else
    /tmp/b11/one.sh $b $O $l-$r fanout --n 1000 --k 300 --rate 10 --timeout 120s
  fi
done; done
