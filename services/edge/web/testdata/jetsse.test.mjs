// Unit tests of jetsse.js under Node (node --test), run by jetsse_test.go,
// which copies static/jetsse.js next to this file as jetsse.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createParser, backoffDelay } from "./jetsse.mjs";

// parse feeds the chunks to a parser and returns what it dispatched.
function parse(...chunks) {
  const events = [];
  const p = createParser((e) => events.push(e));
  for (const c of chunks) p.push(c);
  return { events, p };
}

const data = (r) => r.events.map((e) => e.data);

// The stream fixtures of web-platform-tests/eventsource, as the browser must
// see them.
test("WPT format-field-parsing: only exact field names count", () => {
  const r = parse("data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n");
  assert.deepEqual(data(r), ["\0\n 2\n1\n3\n\n4"]);
});

test("WPT format-comments: comments, with CR, LF and CRLF, are ignored", () => {
  const x = "x".repeat(2048);
  const r = parse(`data:1\r:\0\n:\r\ndata:2\n:${x}\rdata:3\n:data:fail\r:${x}\ndata:4\n\n`);
  assert.deepEqual(data(r), ["1\n2\n3\n4"]);
});

test("WPT format-field-data: empty data is dispatched, no data is not", () => {
  assert.deepEqual(data(parse("data:\n\ndata\ndata\n\ndata:test\n\n")), ["", "\n", "test"]);
  assert.deepEqual(data(parse("event:x\n\nid:1\n\n")), []);
});

test("WPT format-field-id-3: the id persists, changes and resets", () => {
  const ids = (s) => parse(s).events.map((e) => e.id);
  assert.deepEqual(ids("id: 1\ndata: 1\n\ndata:2\n\n"), ["1", "1"]);
  assert.deepEqual(ids("id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n"), ["1", "2", "2"]);
  assert.deepEqual(ids("id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n"), ["1", "", ""]);
});

test("WPT format-field-id-null: an id with NUL is ignored", () => {
  const r = parse("id: 7\ndata: a\n\nid: \0\0\ndata: hello\n\nid: 8\0\ndata: b\n\n");
  assert.deepEqual(r.events.map((e) => e.id), ["7", "7", "7"]);
  assert.equal(r.p.lastEventId, "7");
});

test("WPT format-field-retry(-bogus, -empty): ASCII digits only", () => {
  assert.equal(parse("retry:02000\ndata:x\n\n").p.retry, 2000);
  assert.equal(parse("retry:2000\nretry:1000x\ndata:x\n\n").p.retry, 2000);
  assert.equal(parse("retry:2000\nretry:\nretry: -1\nretry:1.5\n").p.retry, 2000);
  assert.equal(parse("retry: 300\n").p.retry, 300);
});

test("WPT format-data-before-final-empty-line: an unterminated event is never dispatched", () => {
  const r = parse("retry:1000\ndata:test1\n\nid:test\ndata:test2");
  assert.deepEqual(data(r), ["test1"]);
  assert.equal(r.p.lastEventId, "", "the id of an unterminated event does not count");
});

test("WPT format-field-event: event types, and the type resets after each event", () => {
  const r = parse("event: test\ndata: x\n\ndata: x\n\nevent:\ndata:y\n\n");
  assert.deepEqual(r.events.map((e) => e.type), ["test", "message", "message"]);
});

test("CR, LF and CRLF end lines, also when a chunk ends between CR and LF", () => {
  const stream = "id: 1\r\ndata: a\r\ndata: b\r\n\r\nid: 2\rdata: c\r\rid: 3\ndata: d\n\n";
  const want = [{ id: "1", type: "message", data: "a\nb" }, { id: "2", type: "message", data: "c" }, { id: "3", type: "message", data: "d" }];
  assert.deepEqual(parse(stream).events, want);
  assert.deepEqual(parse(...stream.split("")).events, want, "one character per chunk");
  assert.deepEqual(parse("data: a\r", "\n", "data: b\r", "", "\n\r", "\n").events, [{ id: "", type: "message", data: "a\nb" }]);
  assert.deepEqual(data(parse("data: a\n\r\n")), ["a"], "LF then CRLF is two line ends");
});

// A fake fetch: each call takes the next scripted answer.
function fakeFetch(answers) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, headers: { ...init.headers }, credentials: init.credentials });
    const a = answers.shift();
    if (!a) return new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason)));
    if (a instanceof Error) throw a;
    return a(init.signal);
  };
  return { fn, calls };
}

// stream answers 200 with the chunks; open keeps the body open until abort.
function stream(chunks, { headers = {}, open = false, bytes = false } = {}) {
  return (signal) => {
    const enc = new TextEncoder();
    const body = new ReadableStream({
      start(c) {
        for (const ch of chunks) c.enqueue(bytes ? ch : enc.encode(ch));
        if (!open) c.close();
        else signal.addEventListener("abort", () => c.error(signal.reason));
      },
    });
    return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream", ...headers } });
  };
}

function status(code, body = "", headers = {}) {
  return () => new Response(body || null, { status: code, headers: { "Content-Type": "application/json", ...headers } });
}

function memoryStorage(init = {}) {
  const m = new Map(Object.entries(init));
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), map: m };
}

const session = (id, resumed = false, last = "") =>
  `event: session\ndata: {"session":"${id}","resumed":${resumed},"last_event_id":"${last}"}\n\n`;

function record() {
  const r = { events: [], sessions: [], gaps: [], takeovers: [], states: [] };
  r.opts = {
    onEvent: (e) => r.events.push(e),
    onSession: (s) => r.sessions.push(s),
    onGap: (g) => r.gaps.push(g),
    onTakeover: (t) => r.takeovers.push(t),
    onState: (s, i) => r.states.push([s, i]),
  };
  return r;
}

test("connect: a new tab asks for a new session, then resumes with its token and last event ID", async () => {
  const f = fakeFetch([
    stream(["retry: 5\n\n", session("s1"), "id: 5\ndata: a\n\n", "id: 6\nevent: x\ndata: b\n\n"], { headers: { "Jetsse-Session": "tok1" } }),
    stream([session("s1", true, "6"), "id: 7\ndata: c\n\n"], { headers: { "Jetsse-Session": "tok1b" } }),
    status(204),
  ]);
  const storage = memoryStorage();
  const r = record();
  const sub = connect("http://edge.test/events", { topics: ["a.*", "b"], storage, fetch: f.fn, ...r.opts });
  const reason = await sub.closed;
  assert.match(reason, /204/);
  assert.equal(f.calls.length, 3, "204 ends reconnecting");
  assert.equal(f.calls[0].url, "http://edge.test/events?topic=a.*&topic=b");
  assert.deepEqual(f.calls[0].headers, { Accept: "text/event-stream", "Jetsse-Session": "new" });
  assert.deepEqual(f.calls[1].headers, { Accept: "text/event-stream", "Jetsse-Session": "tok1", "Last-Event-ID": "6" });
  assert.deepEqual(f.calls[2].headers, { Accept: "text/event-stream", "Jetsse-Session": "tok1b", "Last-Event-ID": "7" });
  assert.equal(f.calls[0].credentials, "same-origin");
  assert.deepEqual(r.events, [{ id: "5", type: "message", data: "a" }, { id: "6", type: "x", data: "b" }, { id: "7", type: "message", data: "c" }]);
  assert.deepEqual(r.sessions, [{ session: "s1", resumed: false, lastEventId: "" }, { session: "s1", resumed: true, lastEventId: "6" }]);
  assert.deepEqual(JSON.parse(storage.map.get("jetsse:http://edge.test/events?topic=a.*&topic=b")), { token: "tok1b", lastEventId: "7" });
  assert.deepEqual(r.states.at(-1), ["closed", { reason }]);
  assert.equal(sub.state, "closed");
  // A reload: a new connect on the same storage resumes from it.
  const g = fakeFetch([status(204)]);
  await connect("http://edge.test/events", { topics: ["a.*", "b"], storage, fetch: g.fn }).closed;
  assert.deepEqual(g.calls[0].headers, { Accept: "text/event-stream", "Jetsse-Session": "tok1b", "Last-Event-ID": "7" });
});

test("connect: a leading BOM is dropped once; a second one spoils its line", async () => {
  const bom = [0xef, 0xbb, 0xbf];
  const bytes = new Uint8Array([...bom, ...new TextEncoder().encode("data:1\n\n"), ...bom, ...new TextEncoder().encode("data:2\n\ndata:3\n\n")]);
  const f = fakeFetch([stream([bytes.slice(0, 2), bytes.slice(2)], { bytes: true }), status(204)]);
  const r = record();
  await connect("http://edge.test/events", { topics: "t", storage: null, fetch: f.fn, minDelay: 1, ...r.opts }).closed;
  assert.deepEqual(r.events.map((e) => e.data), ["1", "3"]);
});

test("connect: refusals back off, Retry-After is honoured, other 4xx stop", async () => {
  const f = fakeFetch([
    status(503, '{"error":"draining"}', { "Retry-After": "0" }),
    new TypeError("connection refused"),
    status(429),
    stream([session("s1"), "id: 1\ndata: a\n\n"]),
    status(400, '{"error":"topic: bad"}'),
  ]);
  const r = record();
  const reason = await connect("http://edge.test/events", { topics: "t", storage: null, fetch: f.fn, minDelay: 2, maxDelay: 50, ...r.opts }).closed;
  assert.equal(reason, "HTTP 400: topic: bad");
  assert.equal(f.calls.length, 5);
  const waits = r.states.filter(([s]) => s === "waiting").map(([, i]) => i);
  assert.deepEqual(waits.map((w) => w.reason), ["HTTP 503: draining", "connection refused", "HTTP 429", "the stream ended"]);
  // Attempts 1, 2, 3 wait within [base·2^(n-1)/2, base·2^(n-1)].
  assert.ok(waits[0].delay >= 1 && waits[0].delay <= 2, `first wait ${waits[0].delay}`);
  assert.ok(waits[1].delay >= 2 && waits[1].delay <= 4, `second wait ${waits[1].delay}`);
  assert.ok(waits[2].delay >= 4 && waits[2].delay <= 8, `third wait ${waits[2].delay}`);
  assert.deepEqual(r.events.map((e) => e.id), ["1"]);
});

test("backoffDelay: doubles per attempt, capped, with jitter in the upper half", () => {
  for (let n = 1; n <= 10; n++) {
    const d = Math.min(30000, 1000 * 2 ** (n - 1));
    assert.equal(backoffDelay(n, 1000, 30000, () => 0), d / 2);
    assert.equal(backoffDelay(n, 1000, 30000, () => 1), d);
  }
  assert.equal(backoffDelay(20, 1000, 30000, () => 1), 30000);
});

test("connect: on takeover the tab drops its token and goes on from its own last event ID", async () => {
  const storage = memoryStorage({ k: JSON.stringify({ token: "shared", lastEventId: "2" }) });
  const f = fakeFetch([
    stream([session("s1", true, "2"), "id: 3\ndata: c\n\n", 'event: takeover\ndata: {"session":"s1"}\n\n', "id: 4\ndata: never\n\n"], { headers: { "Jetsse-Session": "shared" } }),
    stream([session("s2", false, "3"), "id: 4\ndata: d\n\n"], { headers: { "Jetsse-Session": "own" }, open: true }),
  ]);
  const r = record();
  const sub = connect("http://edge.test/events", { topics: "t", storage, key: "k", fetch: f.fn, ...r.opts });
  while (r.events.length < 2) await new Promise((res) => setTimeout(res, 1));
  sub.close();
  assert.equal(await sub.closed, "closed by the page");
  assert.equal(f.calls.length, 2);
  assert.deepEqual(f.calls[0].headers, { Accept: "text/event-stream", "Jetsse-Session": "shared", "Last-Event-ID": "2" });
  assert.deepEqual(f.calls[1].headers, { Accept: "text/event-stream", "Jetsse-Session": "new", "Last-Event-ID": "3" });
  assert.deepEqual(r.takeovers, [{ session: "s1" }]);
  assert.deepEqual(r.events.map((e) => e.data), ["c", "d"]);
  assert.ok(!r.states.some(([s]) => s === "waiting"), "reconnects at once after a takeover");
  assert.deepEqual(JSON.parse(storage.map.get("k")), { token: "own", lastEventId: "4" });
});

test("connect: a gap reports an upper bound of missing events and moves the position past it", async () => {
  const f = fakeFetch([
    stream([session("s1", true, "2"), 'event: gap\ndata: {"last_event_id":"2","first_available":"6"}\n\n']),
    status(204),
  ]);
  const r = record();
  await connect("http://edge.test/events", { topics: "t", storage: null, fetch: f.fn, lastEventId: "2", minDelay: 1, ...r.opts }).closed;
  assert.deepEqual(r.gaps, [{ lastEventId: "2", firstAvailable: "6", missing: 3 }]);
  assert.equal(f.calls[0].headers["Last-Event-ID"], "2");
  assert.equal(f.calls[1].headers["Last-Event-ID"], "5", "the next connection starts where the server went on");
});

test("connect: a 200 that is not an event stream fails like EventSource", async () => {
  const f = fakeFetch([() => new Response("<html>", { status: 200, headers: { "Content-Type": "text/html" } })]);
  const reason = await connect("http://edge.test/events", { topics: "t", storage: null, fetch: f.fn }).closed;
  assert.equal(reason, "HTTP 200");
  assert.equal(f.calls.length, 1);
});

test("connect: a connection quiet for longer than idleTimeout is dropped and resumed", async () => {
  const f = fakeFetch([
    stream([session("s1"), "id: 1\ndata: a\n\n"], { open: true, headers: { "Jetsse-Session": "tok" } }),
    status(204),
  ]);
  const r = record();
  await connect("http://edge.test/events", { topics: "t", storage: null, fetch: f.fn, idleTimeout: 30, minDelay: 1, ...r.opts }).closed;
  const waits = r.states.filter(([s]) => s === "waiting").map(([, i]) => i.reason);
  assert.deepEqual(waits, ["no data for 30 ms"]);
  assert.deepEqual(f.calls[1].headers, { Accept: "text/event-stream", "Jetsse-Session": "tok", "Last-Event-ID": "1" });
});

test("connect: an event with its own id is data, whatever its type", async () => {
  const f = fakeFetch([
    stream([session("s1"), "id: 3\nevent: takeover\ndata: {\"session\":\"s1\"}\n\n", "id: 4\nevent: gap\ndata: {\"last_event_id\":\"3\",\"first_available\":\"999999\"}\n\n", "id: 5\nevent: session\ndata: x\n\n"]),
    status(204),
  ]);
  const r = record();
  await connect("http://edge.test/events", { topics: "t", storage: null, fetch: f.fn, minDelay: 1, ...r.opts }).closed;
  assert.deepEqual(r.events.map((e) => [e.id, e.type]), [["3", "takeover"], ["4", "gap"], ["5", "session"]]);
  assert.deepEqual(r.takeovers, []);
  assert.deepEqual(r.gaps, []);
  assert.equal(r.sessions.length, 1);
  assert.equal(f.calls[1].headers["Last-Event-ID"], "5", "the position follows the data events");
});

test("connect: a session taken over again and again backs off with jitter", async () => {
  const takeover = (id) => stream([session(id, true, "1"), `event: takeover\ndata: {"session":"${id}"}\n\n`], { headers: { "Jetsse-Session": "tok" } });
  const f = fakeFetch([takeover("a"), takeover("b"), takeover("c"), takeover("d"), status(204)]);
  const r = record();
  await connect("http://edge.test/events", { topics: "t", storage: null, fetch: f.fn, lastEventId: "1", minDelay: 4, maxDelay: 100, ...r.opts }).closed;
  assert.equal(r.takeovers.length, 4);
  const waits = r.states.filter(([s]) => s === "waiting").map(([, i]) => i);
  // The first takeover reconnects at once; the next ones wait 2-4, 4-8, 8-16 ms.
  assert.deepEqual(waits.map((w) => w.reason), ["the session was taken over again", "the session was taken over again", "the session was taken over again"]);
  for (const [i, [lo, hi]] of [[2, 4], [4, 8], [8, 16]].entries()) {
    assert.ok(waits[i].delay >= lo && waits[i].delay <= hi, `wait ${i + 1}: ${waits[i].delay}`);
  }
});

const reauth = 'event: reauth\ndata: {"reason":"token expired"}\n\n';

test("connect: the token hook is asked first and again on reauth; the stream goes on where it was", async () => {
  const f = fakeFetch([
    stream([session("s1"), "id: 1\ndata: a\n\n", reauth, "id: 2\ndata: never\n\n"], { headers: { "Jetsse-Session": "tok" } }),
    stream([session("s1", true, "1"), "id: 2\ndata: b\n\n"], { headers: { "Jetsse-Session": "tok" }, open: true }),
  ]);
  const r = record();
  const reasons = [], reauths = [];
  let n = 0;
  const sub = connect("http://edge.test/events", {
    topics: "t", storage: null, fetch: f.fn, ...r.opts,
    token: async (i) => { reasons.push(i.reason); return "jwt" + ++n; },
    onReauth: (x) => reauths.push(x),
  });
  while (r.events.length < 2) await new Promise((res) => setTimeout(res, 1));
  sub.close();
  await sub.closed;
  assert.deepEqual(reasons, ["first connection", "the token expired"]);
  assert.deepEqual(reauths, [{ reason: "token expired" }]);
  assert.equal(f.calls[0].headers.Authorization, "Bearer jwt1");
  assert.deepEqual(f.calls[1].headers, { Accept: "text/event-stream", "Jetsse-Session": "tok", "Last-Event-ID": "1", Authorization: "Bearer jwt2" });
  assert.deepEqual(r.events.map((e) => e.data), ["a", "b"]);
  assert.ok(!r.states.some(([s]) => s === "waiting"), "reconnects at once after a reauth");
});

test("connect: a hook that hands out an expired token backs off instead of looping", async () => {
  const expired = stream(["retry: 10000\n\n", reauth]);
  const f = fakeFetch([expired, expired, status(204)]);
  const r = record();
  await connect("http://edge.test/events", {
    topics: "t", storage: null, fetch: f.fn, minDelay: 4, maxDelay: 8, ...r.opts, token: async () => "stale",
  }).closed.catch(() => {});
  const waits = r.states.filter(([s]) => s === "waiting").map(([, i]) => i);
  assert.equal(waits.length, 2);
  assert.ok(waits.every((w) => w.reason === "the token was expired already" && w.delay >= 2 && w.delay <= 8), JSON.stringify(waits));
});

test("connect: a 401 renews the token once; refused again, the helper stops", async () => {
  const f = fakeFetch([status(401, '{"error":"expired"}'), status(401, '{"error":"still"}')]);
  const r = record();
  const reasons = [];
  const why = await connect("http://edge.test/events", {
    topics: "t", storage: null, fetch: f.fn, minDelay: 1, maxDelay: 2, ...r.opts,
    token: async (i) => { reasons.push(i.reason); return "x"; },
  }).closed;
  assert.deepEqual(reasons, ["first connection", "the edge refused the token (401)"]);
  assert.match(why, /^HTTP 401/);
  assert.equal(f.calls.length, 2);
});

test("connect: without a token hook, a reauth waits the server's retry for the page to renew its cookie", async () => {
  const f = fakeFetch([stream(["retry: 3\n\n", session("s1"), reauth]), status(204)]);
  const r = record();
  await connect("http://edge.test/events", { topics: "t", storage: null, fetch: f.fn, ...r.opts }).closed;
  const waits = r.states.filter(([s]) => s === "waiting").map(([, i]) => i);
  assert.deepEqual(waits, [{ delay: 3, reason: "the token expired" }]);
  assert.equal(f.calls[1].headers.Authorization, undefined);
});

test("connect: an operator's end stops the helper and drops the session token", async () => {
  const storage = memoryStorage();
  const f = fakeFetch([stream([session("s1"), "id: 1\ndata: a\n\n", 'event: end\ndata: {"session":"s1","reason":"ended by an operator"}\n\n'], { headers: { "Jetsse-Session": "tok" } })]);
  const r = record();
  const ends = [];
  const why = await connect("http://edge.test/events", { topics: "t", storage, key: "k", fetch: f.fn, ...r.opts, onEnd: (e) => ends.push(e) }).closed;
  assert.equal(why, "the session was ended by an operator");
  assert.deepEqual(ends, [{ session: "s1", reason: "ended by an operator" }]);
  assert.equal(f.calls.length, 1);
  assert.deepEqual(JSON.parse(storage.map.get("k")), { token: "", lastEventId: "1" });
});
