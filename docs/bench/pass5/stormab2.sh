#!/bin/bash
# stormab2.sh <rounds> <label=binary|floor>...: storm runs alternated
R=$1; shift
for r in $(seq $R); do for lb in "$@"; do l=${lb%%=*}; b=${lb#*=}
  if [ "$b" = floor ]; then /tmp/b11/stormfloor.sh $l-$r; else /tmp/b11/stormm.sh $b $l-$r; fi
  python3 -c "
import json;d=json.load(open('/tmp/b11/stormm-$l-$r.json'))[0]
print('$l-$r', d.get('all_caught_up_s'), d['catch_up_ms']['median'], d['catch_up_ms']['p99'], d['lost'], d['dup'], d['http_errors'], d['connect_errors'], d['server_cpu_s'], d.get('not_resumed'))" >> /tmp/b11/stormab2.log
done; done
