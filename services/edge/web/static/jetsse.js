// jetsse.js: the browser helper for jetsse, served by the edge at /jetsse.js.
// An ES module with no dependencies and no build step.
//
// A plain EventSource works with jetsse as it is: the session rides on a
// cookie, the browser reconnects with Last-Event-ID, and "session", "gap" and
// "takeover" arrive as named events. This helper adds what EventSource cannot:
//
//   - A session per tab. The tab keeps its session token and last event ID in
//     sessionStorage (kept across a reload, not shared with a new tab) and
//     sends them in the Jetsse-Session and Last-Event-ID headers. Two tabs of
//     one browser each get every event, and a reload resumes where the page
//     was: nothing lost, nothing twice.
//   - A duplicated tab starts with a copy of that storage, so the edge gives
//     the session to the newer tab and sends "takeover" to the older one. The
//     older tab does not fight back: it drops the token and goes on with a
//     new session from its own last event ID, so neither tab loses an event.
//   - Reconnects with exponential backoff and jitter while the edge refuses
//     (5xx, 408, 429; Retry-After is honoured) or is down; after a clean end,
//     the server's retry: delay. 204 No Content or another 4xx stops for good.
//     A session taken over again within 30 s backs off the same way.
//   - An event that carries an id: is always data, whatever its type:
//     control events (session, gap, takeover) never have one.
//     A connection that goes quiet for longer than idleTimeout (the edge
//     sends a heartbeat comment every 15 s by default), or whose browser goes
//     offline, is dropped and resumed; going back online retries at once.
//   - With --auth jwt: a token hook. options.token() returns the JWT to
//     send (Authorization: Bearer); it is asked before the first connection
//     and again whenever the edge says the token expired ("reauth": the
//     stream ends) or refuses it (401), and the connection goes on where it
//     was. Without the hook (a page whose server sets the jetsse_auth
//     cookie), a reauth waits the server's retry: delay, time for the page
//     to renew the cookie, then reconnects.
//   - Callbacks for the session, gap, takeover and reauth events and for the
//     state.
//   - Cross-origin use with credentials: pass an absolute URL and
//     credentials: "include"; the edge must list the page's origin in
//     --cors-origins.
//
//   import { connect } from "/jetsse.js";
//   const sub = connect("/events", {
//     topics: ["orders.*"],
//     onEvent: (e) => console.log(e.id, e.type, e.data),
//     onGap: (g) => console.warn(`up to ${g.missing} events are missing`),
//     onState: (state) => console.log(state),
//   });
//   sub.close(); // when done
//
// connect(url, options) returns {close(), state, lastEventId, session, closed}.
// Options:
//   topics          string or array of strings (required)
//   onEvent(e)      {id, type, data}; type is "message" when the publisher set none
//   onSession(s)    {session, resumed, lastEventId}: the connection starts after lastEventId
//   onGap(g)        {lastEventId, firstAvailable, missing}: the events between were
//                   evicted; missing (first - last - 1) is an upper bound
//   onTakeover(t)   {session}: another tab took this tab's session over
//   onReauth(r)     {reason}: the token expired; the helper renews it (token) and reconnects
//   onEnd(e)        {session, reason}: an operator ended the session; the helper stops
//   token(i)        async () => JWT string: asked first, then after reauth or a 401
//                   (i.reason says why); return null/"" to send none
//   onState(s, i)   "connecting", "open", "waiting" (i.delay ms, i.reason) or
//                   "closed" (i.reason)
//   credentials     fetch credentials: "same-origin" (default), "include", "omit"
//   lastEventId     where a tab with no position starts ("0": all retained events)
//   storage         where the tab keeps its state (default sessionStorage; null: memory)
//   key             the storage key (default: "jetsse:" + URL with topics)
//   idleTimeout     ms without a byte (not even a heartbeat) before reconnecting (45000)
//   minDelay        first backoff delay in ms before the server sent retry: (1000)
//   maxDelay        longest backoff delay in ms (30000)
//   fetch           a fetch function (default globalThis.fetch)

export function connect(url, options = {}) {
  const o = { credentials: "same-origin", idleTimeout: 45000, minDelay: 1000, maxDelay: 30000, ...options };
  const topics = [].concat(o.topics ?? []);
  if (topics.length === 0) throw new TypeError("jetsse: options.topics is required");
  const target = new URL(url, globalThis.location?.href);
  for (const t of topics) target.searchParams.append("topic", t);
  const fetchFn = o.fetch ?? globalThis.fetch.bind(globalThis);
  const store = tabStore(o.storage === undefined ? sessionStore() : o.storage, o.key ?? `jetsse:${target.href}`);
  const pos = store.load(); // {token, lastEventId}
  if (!pos.lastEventId && o.lastEventId != null) pos.lastEventId = String(o.lastEventId);

  let state = "", session = null, stopped = false, abort = null, wake = null, idle = 0, serverRetry = 0;
  let takeovers = 0, lastTakeover = 0; // recent takeovers: the second and later back off
  let bearer = null, renew = "first connection"; // the token hook's token; why to ask it again
  const setState = (s, info = {}) => { state = s; call(o.onState, s, info); };
  const drop = (why) => abort?.abort(new Error(why));
  // watch (re)arms the idle timer: no byte for idleTimeout ms drops the connection.
  const watch = () => {
    clearTimeout(idle);
    if (o.idleTimeout > 0) idle = setTimeout(drop, o.idleTimeout, `no data for ${o.idleTimeout} ms`);
  };
  const onOnline = () => wake?.();
  const onOffline = () => drop("the browser went offline");
  globalThis.addEventListener?.("online", onOnline);
  globalThis.addEventListener?.("offline", onOffline);

  async function run() {
    let failures = 0; // consecutive attempts that did not reach the stream
    while (!stopped) {
      setState("connecting");
      let delay = 0, reason = "";
      try {
        abort = new AbortController();
        watch();
        const headers = { Accept: "text/event-stream", "Jetsse-Session": pos.token || "new" };
        if (pos.lastEventId) headers["Last-Event-ID"] = pos.lastEventId;
        if (o.token && renew) { bearer = await o.token({ reason: renew }); renew = ""; }
        if (bearer) headers.Authorization = "Bearer " + bearer;
        const res = await fetchFn(target.href, { headers, credentials: o.credentials, cache: "no-store", signal: abort.signal });
        const type = res.headers.get("Content-Type") ?? "";
        if (res.status === 204) return "the server asked the client to stop (204)";
        if (res.status !== 200 || !/^text\/event-stream\s*(;|$)/i.test(type)) {
          reason = `HTTP ${res.status}${await errorText(res)}`;
          // A refused token is renewed once; refused again, it is final.
          const renewable = res.status === 401 && o.token && failures === 0;
          if (renewable) renew = "the edge refused the token (401)";
          const retryable = res.status >= 500 || res.status === 408 || res.status === 429 || renewable;
          if (!retryable) return reason;
          delay = Math.max(backoffDelay(++failures, serverRetry || o.minDelay, o.maxDelay), retryAfter(res));
        } else {
          failures = 0;
          const token = res.headers.get("Jetsse-Session");
          if (token) { pos.token = token; store.save(pos); }
          setState("open");
          const started = session;
          const end = await read(res.body);
          if (end === "end") return "the session was ended by an operator";
          if (end === "reauth" && o.token) {
            renew = "the token expired";
            // At once with a fresh token; but a token refused before the
            // stream even started (the hook gave an expired one) backs off.
            if (session !== started) continue;
            delay = backoffDelay(++failures, serverRetry || o.minDelay, o.maxDelay);
            reason = "the token was expired already";
          } else if (end === "reauth") {
            delay = serverRetry || o.minDelay;
            reason = "the token expired";
          } else if (end === "takeover") {
            // At once with a new session; but a session taken over again
            // and again backs off, so a tab never reconnects in a loop.
            const now = Date.now();
            if (now - lastTakeover > 30000) takeovers = 0;
            lastTakeover = now;
            if (++takeovers === 1) continue;
            delay = backoffDelay(takeovers - 1, serverRetry || o.minDelay, o.maxDelay);
            reason = "the session was taken over again";
          } else {
            delay = serverRetry || o.minDelay;
            reason = "the stream ended";
          }
        }
      } catch (err) {
        clearTimeout(idle);
        if (stopped) break;
        reason = String(err?.message ?? err);
        delay = backoffDelay(++failures, serverRetry || o.minDelay, o.maxDelay);
      }
      clearTimeout(idle);
      if (stopped) break;
      setState("waiting", { delay, reason });
      await new Promise((resolve) => {
        const timer = setTimeout(() => wake(), delay);
        wake = () => { clearTimeout(timer); wake = null; resolve(); }; // close() and "online" end the wait early
      });
    }
    return "closed by the page";
  }

  // read dispatches the events of one response until it ends; it returns
  // "takeover" when another tab took the session over, "reauth" when the
  // token expired, "end" when an operator ended the session.
  async function read(body) {
    let end = "eof";
    const parser = createParser((ev, ownId) => {
      if (end !== "eof" || stopped) return;
      // Control events never carry an id: an event with one is data,
      // whatever its type says (the edge never lets publishers use these
      // types; this is the second lock).
      if (ownId) {
        pos.lastEventId = ev.id;
        store.save(pos);
        call(o.onEvent, ev);
      } else if (ev.type === "session") {
        const d = json(ev.data);
        session = { session: d.session, resumed: !!d.resumed, lastEventId: d.last_event_id ?? "" };
        call(o.onSession, session);
      } else if (ev.type === "gap") {
        const d = json(ev.data);
        const last = big(d.last_event_id), first = big(d.first_available);
        // The server goes on from first-1; so does the tab from now on.
        if (first > 0n) { pos.lastEventId = String(first - 1n); store.save(pos); }
        const missing = first - last - 1n;
        call(o.onGap, { lastEventId: String(d.last_event_id ?? ""), firstAvailable: String(d.first_available ?? ""), missing: Number(missing > 0n ? missing : 0n) });
      } else if (ev.type === "takeover") {
        end = "takeover";
        pos.token = ""; // do not fight: go on with a new session from our own position
        store.save(pos);
        call(o.onTakeover, { session: json(ev.data).session ?? session?.session ?? "" });
      } else if (ev.type === "reauth") {
        end = "reauth";
        call(o.onReauth, { reason: json(ev.data).reason ?? "" });
      } else if (ev.type === "end") {
        end = "end";
        pos.token = ""; // the session is gone: a later connect starts a new one
        store.save(pos);
        const d = json(ev.data);
        call(o.onEnd, { session: d.session ?? session?.session ?? "", reason: d.reason ?? "" });
      } else {
        if (ev.id) { pos.lastEventId = ev.id; store.save(pos); }
        call(o.onEvent, ev);
      }
    });
    const reader = body.getReader();
    const decoder = new TextDecoder(); // UTF-8, drops one leading BOM
    try {
      while (end === "eof" && !stopped) {
        const { value, done } = await reader.read();
        if (done) break;
        watch();
        parser.push(decoder.decode(value, { stream: true }));
        if (parser.retry !== undefined) serverRetry = parser.retry;
      }
    } finally {
      clearTimeout(idle);
      reader.cancel().catch(() => {});
    }
    return end;
  }

  const closed = run().then((reason) => {
    stopped = true;
    clearTimeout(idle);
    globalThis.removeEventListener?.("online", onOnline);
    globalThis.removeEventListener?.("offline", onOffline);
    setState("closed", { reason });
    return reason;
  });

  return {
    close() {
      if (stopped) return;
      stopped = true;
      abort?.abort();
      wake?.();
    },
    get state() { return state; },
    get lastEventId() { return pos.lastEventId; },
    get session() { return session; },
    closed,
  };
}

// createParser returns a text/event-stream parser that follows the WHATWG
// rules: CR, LF and CRLF end a line, a blank line dispatches, lines starting
// with ":" are comments, one space after the colon is dropped, an id with NUL
// is ignored, retry takes ASCII digits only, and an event with no data line is
// not dispatched. push(text) takes decoded text (drop a leading BOM first, as
// TextDecoder does); onEvent gets {id, type, data} and whether the event had
// an id field of its own (id is the last event ID, which persists). An event
// not ended by a blank line when the stream ends is never dispatched.
export function createParser(onEvent) {
  let partial = "", afterCR = false, data = "", type = "", idBuffer = "", ownId = false;
  const p = { lastEventId: "", retry: undefined, push };

  function push(text) {
    if (text === "") return;
    let i = 0, cr = -2, lf = -2;
    if (afterCR && text.charCodeAt(0) === 10) i = 1;
    afterCR = false;
    while (i < text.length) {
      if (cr !== -1 && cr < i) cr = text.indexOf("\r", i);
      if (lf !== -1 && lf < i) lf = text.indexOf("\n", i);
      const eol = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (eol === -1) { partial += text.slice(i); return; }
      line(partial + text.slice(i, eol));
      partial = "";
      i = eol + 1;
      if (eol === cr) {
        if (i === text.length) afterCR = true;
        else if (text.charCodeAt(i) === 10) i++;
      }
    }
  }

  function line(l) {
    if (l === "") return dispatch();
    if (l[0] === ":") return;
    const c = l.indexOf(":");
    const field = c < 0 ? l : l.slice(0, c);
    let value = c < 0 ? "" : l.slice(c + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "data") data += value + "\n";
    else if (field === "event") type = value;
    else if (field === "id") { ownId = true; if (!value.includes("\0")) idBuffer = value; }
    else if (field === "retry") { if (/^[0-9]+$/.test(value)) p.retry = Number(value); }
  }

  function dispatch() {
    p.lastEventId = idBuffer;
    const hadId = ownId;
    ownId = false;
    if (data === "") { type = ""; return; }
    const ev = { id: p.lastEventId, type: type || "message", data: data.slice(0, -1) };
    data = "";
    type = "";
    onEvent(ev, hadId);
  }

  return p;
}

// backoffDelay is the wait in ms before attempt n (1, 2, …) after failures:
// base doubled per attempt, at most max, with "equal jitter": a random point
// in the upper half, so waits grow and clients spread out.
export function backoffDelay(n, base, max, random = Math.random) {
  const d = Math.min(max, base * 2 ** Math.max(0, n - 1));
  return Math.round(d / 2 + random() * (d / 2));
}

function retryAfter(res) {
  const s = Number(res.headers.get("Retry-After"));
  return Number.isFinite(s) && s > 0 ? s * 1000 : 0;
}

async function errorText(res) {
  try {
    const d = await res.json();
    return d?.error ? `: ${d.error}` : "";
  } catch {
    return "";
  }
}

function big(s) {
  try { return BigInt(s || 0); } catch { return 0n; } // event IDs are uint64: beyond Number's exact range
}

function json(s) {
  try { return JSON.parse(s) ?? {}; } catch { return {}; }
}

function call(fn, ...args) {
  try { fn?.(...args); } catch (err) { console.error("jetsse: callback failed", err); }
}

function sessionStore() {
  try { return globalThis.sessionStorage ?? null; } catch { return null; } // blocked storage
}

function tabStore(storage, key) {
  let memory = { token: "", lastEventId: "" };
  return {
    load() {
      try {
        const v = JSON.parse(storage?.getItem(key) ?? "null");
        if (v) memory = { token: String(v.token ?? ""), lastEventId: String(v.lastEventId ?? "") };
      } catch { /* keep memory */ }
      return memory;
    },
    save(v) {
      memory = v;
      try { storage?.setItem(key, JSON.stringify(v)); } catch { /* quota or blocked */ }
    },
  };
}
