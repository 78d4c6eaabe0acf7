// resume.mjs measures resume with an SSE client that shares nothing with
// jetsse: Node's fetch and the npm eventsource package (its own parser,
// eventsource-parser). Per sample, on a fresh topic, it:
//
//   1. subscribes and waits until it is attached (jetsse: the session
//      event; Centrifugo: the connect push);
//   2. has --warmup events published and waits for them, noting the last
//      event ID (jetsse) or offset and epoch (Centrifugo);
//   3. closes the EventSource;
//   4. publishes --m events over the server's HTTP API and keeps the IDs
//      (offsets) the server acknowledged;
//   5. reconnects presenting its position (jetsse: Last-Event-ID, and with
//      --mode last-event-id the session cookie too, as a browser's
//      EventSource; Centrifugo: uni_sse cf_connect with recover, offset
//      and epoch), and times from the moment the reconnect's fetch() is
//      called to the message that completes the acknowledged set. By
//      default the client does only what it must to know which events
//      arrived (jetsse: the SSE id; Centrifugo: JSON.parse of its frames);
//      --decode-data also parses jetsse's event data.
//
// It checks that exactly the acknowledged IDs arrived, none twice, and
// prints one JSON object (median, min and max over the samples) to stdout;
// it exits 1 when anything was lost, duplicated or not received in time.
// See cmd/jetsse-bench/README.md ("Resume probe") and docs/benchmarks.md.
import { EventSource } from "eventsource";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const usage = `Usage: node resume.mjs --server jetsse|centrifugo [flags]

  --url URL              server base URL (jetsse http://127.0.0.1:8080, centrifugo http://127.0.0.1:8000)
  --publish-token TOKEN  jetsse: POST /publish bearer token
  --api-key KEY          centrifugo: HTTP API key (X-API-Key)
  --namespace NS         centrifugo: channel namespace (default bench)
  --m N                  events missed while disconnected (default 10000)
  --warmup N             events received before disconnecting (default 10)
  --repeat N             samples, each on a fresh topic (default 5)
  --mode MODE            jetsse: last-event-id (Last-Event-ID and the session cookie, as a
                         browser's EventSource; default) or id-only (Last-Event-ID alone)
  --publish-concurrency N  publish requests in flight (default 16)
  --timeout S            seconds a sample may take to catch up (default 30)
  --jit-warmup N         unmeasured local replays before the samples, to warm Node's JIT (default 5)
  --decode-data          jetsse: also JSON.parse each event's data, as an application would
                         (Centrifugo's frames are JSON and always parsed, data included)
  --settle MS            wait this long after the last missed event is acknowledged (default 0)
  --label NAME           name in the result (default: --server)
`;

const { values: a } = parseArgs({
  options: {
    server: { type: "string" },
    url: { type: "string" },
    "publish-token": { type: "string", default: "" },
    "api-key": { type: "string", default: "" },
    namespace: { type: "string", default: "bench" },
    m: { type: "string", default: "10000" },
    warmup: { type: "string", default: "10" },
    repeat: { type: "string", default: "5" },
    mode: { type: "string", default: "last-event-id" },
    "publish-concurrency": { type: "string", default: "16" },
    timeout: { type: "string", default: "30" },
    "jit-warmup": { type: "string", default: "5" },
    "decode-data": { type: "boolean", default: false },
    settle: { type: "string", default: "0" },
    label: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (a.help) {
  process.stderr.write(usage);
  process.exit(2);
}
const fail = (msg) => {
  process.stderr.write(`resume.mjs: ${msg}\n${usage}`);
  process.exit(2);
};
const int = (name, lo, hi) => {
  const v = Number(a[name]);
  if (!Number.isInteger(v) || v < lo || v > hi) fail(`--${name} must be an integer in [${lo}, ${hi}]`);
  return v;
};
const M = int("m", 1, 1_000_000);
const W = int("warmup", 1, 10_000);
const R = int("repeat", 1, 1000);
const C = int("publish-concurrency", 1, 256);
const T = int("timeout", 1, 3600) * 1000;
const J = int("jit-warmup", 0, 100);
const S = int("settle", 0, 600_000);
if (!["jetsse", "centrifugo"].includes(a.server)) fail("--server must be jetsse or centrifugo");
if (!["last-event-id", "id-only"].includes(a.mode)) fail("--mode must be last-event-id or id-only");
const base = (a.url ?? (a.server === "jetsse" ? "http://127.0.0.1:8080" : "http://127.0.0.1:8000")).replace(/\/$/, "");
const eventsourceVersion = JSON.parse(readFileSync(new URL("./node_modules/eventsource/package.json", import.meta.url))).version;

// publishAll publishes n events (counters first, first+1, ...) with C
// requests in flight and returns the acknowledged IDs in counter order.
async function publishAll(server, topic, first, n) {
  const ids = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      ids[i] = await server.publish(topic, JSON.stringify({ t: Date.now(), n: first + i }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(C, n) }, worker));
  return ids;
}

async function post(url, headers, body) {
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

// A server says how to subscribe, publish and resume, and turns what an
// EventSource dispatches into the IDs it carries.
const servers = {
  jetsse: {
    topic: () => `probe.resume.${randomBytes(6).toString("hex")}`,
    async publish(topic, data) {
      const r = await post(`${base}/publish`, { Authorization: `Bearer ${a["publish-token"]}` }, JSON.stringify({ topic, data }));
      return String(r.id);
    },
    url: (topic) => `${base}/events?topic=${encodeURIComponent(topic)}`,
    resumeURL: (topic) => `${base}/events?topic=${encodeURIComponent(topic)}`,
    // headers the reconnect presents
    resumeHeaders(pos) {
      const h = { "Last-Event-ID": pos.lastId };
      if (a.mode === "last-event-id" && pos.token) h.Cookie = `jetsse_session=${pos.token}`;
      return h;
    },
    // replay is what the server writes for a resume of ids (the
    // local replay of clientFloor): its frames, as docs/protocol.md says.
    replay(topic, ids) {
      let b = `retry: 2000\n\nevent: session\ndata: {"session":"${"0".repeat(32)}","resumed":true,"last_event_id":"0"}\n\n`;
      for (const [i, id] of ids.entries()) b += `id: ${id}\ndata: ${JSON.stringify({ t: Date.now(), n: i + 1 })}\n\n`;
      return b;
    },
    // listen calls on.attached(info), on.ids(ids, pos) for each message.
    listen(es, on) {
      es.addEventListener("session", (e) => on.attached(JSON.parse(e.data)));
      es.addEventListener("gap", () => on.gap());
      es.addEventListener("message", (e) => {
        if (a["decode-data"]) JSON.parse(e.data);
        on.ids([e.lastEventId], { lastId: e.lastEventId });
      });
    },
  },
  centrifugo: {
    topic: () => `${a.namespace}:probe.resume.${randomBytes(6).toString("hex")}`,
    async publish(channel, data) {
      const r = await post(`${base}/api/publish`, { "X-API-Key": a["api-key"] }, JSON.stringify({ channel, data: JSON.parse(data) }));
      if (r.error) throw new Error(`publish: ${JSON.stringify(r.error)}`);
      return String(r.result.offset);
    },
    url: (ch) => `${base}/connection/uni_sse?cf_connect=${encodeURIComponent(JSON.stringify({ subs: { [ch]: {} } }))}`,
    resumeURL: (ch, pos) =>
      `${base}/connection/uni_sse?cf_connect=${encodeURIComponent(
        JSON.stringify({ subs: { [ch]: { recover: true, offset: Number(pos.lastId), epoch: pos.epoch } } }),
      )}`,
    resumeHeaders: () => ({}),
    // replay: Centrifugo v6's uni_sse recovery, one connect push carrying
    // every recovered publication.
    replay(ch, ids) {
      const publications = ids.map((id, i) => ({ data: { t: Date.now(), n: i + 1 }, offset: Number(id) }));
      const connect = {
        client: "00000000-0000-0000-0000-000000000000", version: "6.9.1 OSS",
        subs: { [ch]: { recoverable: true, epoch: "AbCdEfGh", publications, recovered: true, offset: 0, positioned: true, was_recovering: true } },
        ping: 25, session: "00000000-0000-0000-0000-000000000000",
      };
      return `data: ${JSON.stringify({ connect })}\n\n`;
    },
    listen(es, on, ch) {
      let epoch = "";
      es.addEventListener("message", (e) => {
        const m = JSON.parse(e.data);
        if (m.connect) {
          const sub = m.connect.subs?.[ch] ?? {};
          epoch = sub.epoch ?? epoch;
          on.attached({ resumed: sub.recovered === true });
          const pubs = sub.publications ?? [];
          if (pubs.length > 0) on.ids(pubs.map((p) => String(p.offset ?? 0)), { lastId: String(pubs.at(-1).offset ?? 0), epoch });
        } else if (m.channel === ch && m.pub) {
          epoch = m.pub.epoch ?? epoch;
          on.ids([String(m.pub.offset ?? 0)], { lastId: String(m.pub.offset ?? 0), epoch });
        }
      });
    },
  },
};
const server = servers[a.server];

// connect opens an EventSource on url, presenting headers on its first
// request. With want (a Set of IDs) it counts those IDs, and any other as
// unexpected; without, every ID it has not seen counts. done resolves once
// count IDs were received or the timeout passed; attached once the server
// said the subscription is on.
function connect(topic, url, headers, want, count) {
  const st = {
    t0: 0, first: 0, last: 0, received: 0, dup: 0, unexpected: 0, gaps: 0, errors: 0,
    resumed: false, token: "", pos: null, seen: new Set(),
  };
  let attached, done;
  const attachedP = new Promise((r) => (attached = r));
  const doneP = new Promise((r) => (done = r));
  const es = new EventSource(url, {
    fetch: async (input, init) => {
      if (st.t0 === 0) st.t0 = performance.now();
      // The eventsource package's own headers (its Last-Event-ID after a
      // retry) win over the ones presented on the first request.
      const res = await fetch(input, { ...init, headers: { ...headers, ...init.headers } });
      st.token = res.headers.get("jetsse-session") ?? st.token;
      return res;
    },
  });
  es.addEventListener("error", () => st.errors++);
  server.listen(
    es,
    {
      attached(info) {
        st.resumed = info.resumed === true;
        attached();
      },
      gap() {
        st.gaps++;
      },
      ids(ids, pos) {
        const now = performance.now();
        for (const id of ids) {
          if (st.seen.has(id)) st.dup++;
          else if (!want || want.has(id)) {
            st.seen.add(id);
            st.received++;
            if (st.first === 0) st.first = now;
          } else st.unexpected++;
        }
        st.pos = pos;
        if (st.received === count && st.last === 0) {
          st.last = now;
          done();
        }
      },
    },
    topic,
  );
  const timer = setTimeout(done, T);
  return {
    st, attachedP, doneP,
    close() {
      clearTimeout(timer);
      es.close();
    },
  };
}

// clientFloor times this client receiving the bytes of a resume of ids
// from a local server that writes them all at once: what the client
// itself costs, with no server work behind it.
async function clientFloor(topic, ids) {
  const body = server.replay(topic, ids);
  const srv = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
    res.end(body);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const c = connect(topic, `http://127.0.0.1:${srv.address().port}/`, {}, new Set(ids), ids.length);
    await c.doneP;
    c.close();
    return c.st.last ? round3(c.st.last - c.st.t0) : null;
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
}

async function sample(i) {
  const topic = server.topic();
  // 1-2: attach, warm up, note the position.
  const c1 = connect(topic, server.url(topic), {}, null, W);
  await Promise.race([c1.attachedP, c1.doneP]);
  await publishAll(server, topic, 1, W);
  await c1.doneP;
  c1.close();
  if (c1.st.received !== W || c1.st.dup !== 0) throw new Error(`sample ${i}: ${c1.st.received} of ${W} warm-up events, ${c1.st.dup} duplicates`);
  const pos = { ...c1.st.pos, token: c1.st.token };

  // 4: miss M events.
  const missed = new Set(await publishAll(server, topic, W + 1, M));
  if (missed.size !== M) throw new Error(`sample ${i}: ${missed.size} distinct IDs acknowledged for ${M} events`);

  if (S > 0) await new Promise((r) => setTimeout(r, S));
  // 5: reconnect presenting the position.
  const c2 = connect(topic, server.resumeURL(topic, pos), server.resumeHeaders(pos), missed, M);
  await c2.doneP;
  c2.close();
  const s = c2.st;
  lastIds = [...missed];
  return {
    complete: s.last !== 0,
    resumed: s.resumed,
    expected: M,
    received: s.received,
    lost: M - s.received,
    dup: s.dup,
    unexpected: s.unexpected,
    gaps: s.gaps,
    reconnects: s.errors,
    first_event_ms: s.first ? round3(s.first - s.t0) : null,
    catch_up_ms: s.last ? round3(s.last - s.t0) : null,
  };
}

const round3 = (v) => Math.round(v * 1000) / 1000;
function spread(vs) {
  if (vs.length === 0) return null;
  const s = [...vs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { n: s.length, median: round3(median), min: s[0], max: s.at(-1) };
}

const started = new Date().toISOString();
// IDs of the last sample's missed events, for the client floor.
let lastIds = Array.from({ length: M }, (_, i) => String(1_000_000 + i));
for (let i = 0; i < J; i++) await clientFloor(server.topic(), lastIds);
const samples = [];
for (let i = 0; i < R; i++) {
  const s = await sample(i + 1);
  samples.push(s);
  process.stderr.write(
    `resume ${a.server} sample ${i + 1}/${R}: ${s.received}/${s.expected} received, dup ${s.dup}, ` +
      `first ${s.first_event_ms} ms, last ${s.catch_up_ms} ms${s.resumed ? ", resumed" : ""}\n`,
  );
}
const floors = [];
for (let i = 0; i < R; i++) floors.push(await clientFloor(server.topic(), lastIds));
process.stderr.write(`resume ${a.server}: client floor (a local replay of the same events) ${floors.join(", ")} ms\n`);
const sum = (k) => samples.reduce((t, s) => t + s[k], 0);
const result = {
  scenario: "resume-probe",
  label: a.label ?? a.server,
  server: a.server,
  client: `npm eventsource ${eventsourceVersion}, Node.js ${process.version}`,
  url: base,
  params: { m: M, warmup: W, repeat: R, mode: a.server === "jetsse" ? a.mode : "recover", publish_concurrency: C, jit_warmup: J, decode_data: a["decode-data"], settle_ms: S },
  started,
  catch_up_ms: spread(samples.filter((s) => s.complete).map((s) => s.catch_up_ms)),
  first_event_ms: spread(samples.filter((s) => s.complete).map((s) => s.first_event_ms)),
  // The same client receiving the same events from a local replay that
  // writes them at once: the client's own share of catch_up_ms.
  client_floor_ms: spread(floors.filter((v) => v !== null)),
  expected: sum("expected"),
  received: sum("received"),
  lost: sum("lost"),
  dup: sum("dup"),
  unexpected: sum("unexpected"),
  not_resumed: samples.filter((s) => !s.resumed && !(a.server === "jetsse" && a.mode === "id-only")).length,
  complete: samples.every((s) => s.complete),
  samples,
};
process.stdout.write(JSON.stringify(result, null, 2) + "\n");
process.exit(result.complete && result.lost === 0 && result.dup === 0 && result.unexpected === 0 ? 0 : 1);
