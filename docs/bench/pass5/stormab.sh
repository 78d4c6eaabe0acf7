#!/bin/bash
# stormab.sh <rounds> <label=binary>...: storm runs alternated, with /metrics
R=$1; shift
for r in $(seq $R); do for lb in "$@"; do l=${lb%%=*}; b=${lb#*=}
  /tmp/b11/stormm.sh $b $l-$r
  python3 -c "
import json;d=json.load(open('/tmp/b11/stormm-$l-$r.json'))[0]
print('$l-$r', d.get('all_caught_up_s'), d['catch_up_ms']['median'], d['catch_up_ms']['p99'], d['lost'], d['dup'], d['http_errors'], d['connect_errors'], d['server_cpu_s'])" >> /tmp/b11/stormab.log
done; done
