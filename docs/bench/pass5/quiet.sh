#!/bin/bash
# waits until the loopback has few TIME_WAIT sockets and the load settles
for i in $(seq 120); do
  tw=$(ss -tan state time-wait | wc -l)
  [ "$tw" -lt 15000 ] && break
  sleep 1
done
