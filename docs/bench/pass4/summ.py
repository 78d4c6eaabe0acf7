import json,sys,os,statistics as st
D=sys.argv[1]
def load(n):
    p=os.path.join(D,n+'.json')
    return json.load(open(p)) if os.path.exists(p) else []
def med(xs): return st.median(xs) if xs else float('nan')
for row in ['fan10','fanmax','fan10k']:
    runs=load(row)
    print('==',row)
    for lab in ['jetsse','centrifugo','floor']:
        rs=[r for r in runs if r['label']==lab]
        if not rs: continue
        cpu=[r.get('server_cpu_us_per_delivery') for r in rs]
        p99=[r['latency']['p99_ms'] for r in rs]
        dps=[r['deliveries_per_s'] for r in rs]
        lost=sum(r['lost'] for r in rs); dup=sum(r['dup'] for r in rs); err=sum(r['http_errors']+r['connect_errors'] for r in rs)
        pr=[r['publish_rate'] for r in rs]
        print(f"{lab:11} cpu/deliv {['%.2f'%x for x in cpu]} med {med(cpu):.2f} | p99 {['%.1f'%x for x in p99]} med {med(p99):.1f} | deliv/s {['%.0f'%x for x in dps]} | pubrate {['%.1f'%x for x in pr]} | lost {lost} dup {dup} err {err}")
for row in ['idle']:
    for r in load(row): print('idle', r['label'], {k:r[k] for k in r if 'kib' in k or 'per_session' in k})
for r in load('resume'):
    c=[s['catch_up_ms'] for s in r['samples']]; f=[s['first_event_ms'] for s in r['samples']]
    print('resume', r['label'], r['params'].get('mode'), 'catch-up', ['%.2f'%x for x in c], 'median %.2f'%med(c), 'lost', sum(s['lost'] for s in r['samples']), 'dup', sum(s['dup'] for s in r['samples']))
for r in load('storm'):
    print('storm', r['label'], r['all_caught_up_s'], 'p50 %.0f p99 %.0f'%(r['catch_up_ms']['median'], r['catch_up_ms']['p99']), 'err', r['http_errors'], r['connect_errors'], 'lost', r['lost'], 'dup', r['dup'], 'pub', r['published'], 'cpu', r.get('server_cpu_s'))
pub=load('publish')
labs=sorted(set(r['label'] for r in pub))
for lab in labs:
    rs=[r for r in pub if r['label']==lab]
    rate=[r.get('events_per_s') or r.get('rate') for r in rs]
    print('publish', lab, rate, rs[0].keys() if rate[0] is None else '')
