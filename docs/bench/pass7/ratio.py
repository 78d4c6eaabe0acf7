import json,sys,statistics as st
# ratio.py <fan10.json>...: per round jetsse/centrifugo/floor CPU and p99, ratios
rows=[]
for f in sys.argv[1:]:
    rs=json.load(open(f))
    by={}
    for r in rs: by.setdefault(r['label'],[]).append(r)
    n=min(len(v) for v in by.values())
    for i in range(n):
        j,c,fl=by['jetsse'][i],by['centrifugo'][i],by['floor'][i]
        rows.append((f.split('/')[-2],i+1,j['server_cpu_us_per_delivery'],c['server_cpu_us_per_delivery'],fl['server_cpu_us_per_delivery'],j['latency']['p99_ms'],c['latency']['p99_ms'],fl['latency']['p99_ms'],sum(x['lost']+x['dup']+x['http_errors']+x['connect_errors'] for x in (j,c,fl))))
for r in rows:
    print("%s r%d cpu j %.2f c %.2f f %.2f  j/c %.3f f/c %.3f j/f %.3f | p99 j %.1f c %.1f f %.1f j/c %.2f f/c %.2f | bad %d"%(r[0],r[1],r[2],r[3],r[4],r[2]/r[3],r[4]/r[3],r[2]/r[4],r[5],r[6],r[7],r[5]/r[6],r[7]/r[6],r[8]))
jc=[r[2]/r[3] for r in rows]; fc=[r[4]/r[3] for r in rows]; jf=[r[2]/r[4] for r in rows]
print("rounds",len(rows),"j/c median %.3f (min %.3f max %.3f) under0.5: %d"%(st.median(jc),min(jc),max(jc),sum(x<=0.5 for x in jc)),"f/c median %.3f"%st.median(fc),"j/f median %.3f"%st.median(jf))
print("medians: j %.2f c %.2f f %.2f ratio-of-medians %.3f"%(st.median([r[2] for r in rows]),st.median([r[3] for r in rows]),st.median([r[4] for r in rows]),st.median([r[2] for r in rows])/st.median([r[3] for r in rows])))
pj=[r[5]/r[6] for r in rows]; pf=[r[7]/r[6] for r in rows]
print("p99 j/c median %.2f (under0.5: %d)  f/c median %.2f"%(st.median(pj),sum(x<=0.5 for x in pj),st.median(pf)))
