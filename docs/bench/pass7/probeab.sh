#!/bin/bash
# probeab.sh <rounds> <out> label=bin...: the go-sse probe (gosse3) against jetsse builds, alternated
R=$1; O=$2; shift 2
for r in $(seq $R); do for lb in "$@"; do l=${lb%%=*}; b=${lb#*=}
  /tmp/b11/quiet.sh; PID=$(/tmp/b11/srv.sh start jetsse $b)
  echo -n "$l-$r " >> $O; /tmp/b11/gosse3 -server jetsse -url http://127.0.0.1:28080 -publish-token bench-publish-token -m 10000 -repeat 5 | python3 -c "import json,sys; d=json.load(sys.stdin); print('catch-up %.2f first %.2f client-floor %.2f lost %s dup %s'%(d['catch_up_ms']['median'],d['first_event_ms']['median'],d['client_floor_ms']['median'],d.get('lost'),d.get('dup')))" >> $O
  /tmp/b11/srv.sh stop $PID
done; done
