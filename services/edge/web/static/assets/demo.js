// The demo page at /: subscribe with /jetsse.js, show what arrives, publish
// test events with POST /publish. The list is kept in sessionStorage with the
// helper's position, so a reload shows that nothing was lost or repeated.
import { connect } from "/jetsse.js";

const $ = (id) => document.getElementById(id);
const LOG_KEY = "jetsse-demo:log";
const MAX_ROWS = 500;
const STATES = { idle: "idle", connecting: "connecting…", open: "open", waiting: "reconnecting", closed: "closed" };

let sub = null;
let rows = loadRows();

// Rows: {k: "event", id, type, data, t} or {k: "session"|"gap"|"takeover"|"reload"|"info", text, t}.
function loadRows() {
  try {
    const r = JSON.parse(sessionStorage.getItem(LOG_KEY) ?? "[]");
    return Array.isArray(r) ? r : [];
  } catch {
    return [];
  }
}

function saveRows() {
  try {
    sessionStorage.setItem(LOG_KEY, JSON.stringify(rows));
  } catch { /* storage full or blocked: the list still shows */ }
}

function add(row) {
  row.t = Date.now();
  rows.push(row);
  if (rows.length > MAX_ROWS) rows.splice(0, rows.length - MAX_ROWS);
  saveRows(); // in the same task as the helper's own position, so a reload keeps both
  show(row);
}

function show(row) {
  const log = $("log");
  const li = document.createElement("li");
  li.className = row.k === "event" ? "event" : `notice ${row.k}`;
  const time = document.createElement("time");
  time.textContent = new Date(row.t).toLocaleTimeString();
  if (row.k === "event") {
    li.dataset.id = row.id;
    li.dataset.type = row.type;
    li.append(span("id", row.id), span("type", row.type === "message" ? "" : row.type), span("data", row.data), time);
  } else {
    li.append(span("text", row.text), time);
  }
  log.prepend(li);
  while (log.children.length > MAX_ROWS) log.lastElementChild.remove();
  facts();
}

function span(cls, text) {
  const s = document.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}

function facts() {
  const events = rows.filter((r) => r.k === "event");
  $("count").textContent = String(events.length);
  $("last-id").textContent = sub?.lastEventId || events.at(-1)?.id || "none";
  $("empty").hidden = rows.length > 0;
}

function setState(state, info = {}) {
  const out = $("state");
  out.dataset.state = state;
  out.textContent = STATES[state] ?? state;
  let detail = "";
  if (state === "waiting") detail = `in ${(info.delay / 1000).toFixed(1)} s: ${info.reason}`;
  if (state === "closed" && info.reason && info.reason !== "closed by the page") detail = info.reason;
  $("state-detail").textContent = detail;
  $("connect").disabled = state !== "idle" && state !== "closed";
  $("disconnect").disabled = state === "idle" || state === "closed";
}

function topicsFromInput() {
  return $("topics").value.split(",").map((t) => t.trim()).filter(Boolean);
}

function start(topics) {
  sub?.close();
  const q = new URLSearchParams(topics.map((t) => ["topic", t]));
  history.replaceState(null, "", `?${q}`); // a reload subscribes again
  sub = connect("/events", {
    topics,
    onState: setState,
    onEvent: (e) => add({ k: "event", id: e.id, type: e.type, data: e.data.length > 2000 ? `${e.data.slice(0, 2000)}…` : e.data }),
    onSession: (s) => {
      $("session").textContent = s.session;
      const after = s.lastEventId ? `after event ${s.lastEventId}` : "with live events only";
      add({ k: "session", text: `${s.resumed ? "Resumed" : "New"} session ${s.session.slice(0, 8)}…, ${after}` });
    },
    onGap: (g) => add({
      k: "gap",
      text: `Gap: up to ${g.missing} event${g.missing === 1 ? "" : "s"} missing. Events after ${g.lastEventId} ` +
        `were evicted from the stream; going on from ${g.firstAvailable}.`,
    }),
    onTakeover: () => add({
      k: "takeover",
      text: `Another tab took this session over (a duplicated tab?). Going on with a new session from event ${sub.lastEventId || "(none yet)"}.`,
    }),
  });
}

async function publish(ev) {
  ev.preventDefault();
  const out = $("pub-result");
  const body = { topic: $("pub-topic").value.trim(), data: $("pub-data").value };
  if ($("pub-type").value.trim()) body.event = $("pub-type").value.trim();
  out.className = "";
  out.textContent = "publishing…";
  try {
    const res = await fetch("/publish", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${$("token").value}` },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    out.dataset.status = String(res.status);
    if (res.ok) {
      out.className = "ok";
      out.dataset.id = answer.id;
      out.textContent = `Published as event ${answer.id}`;
    } else {
      out.className = "error";
      out.textContent = `Refused (${res.status}): ${answer.error ?? res.statusText}`;
    }
  } catch (err) {
    out.className = "error";
    out.dataset.status = "0";
    out.textContent = `Failed: ${err.message}`;
  }
}

$("sub-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const topics = topicsFromInput();
  if (topics.length) start(topics);
});
$("disconnect").addEventListener("click", () => sub?.close());
$("pub-form").addEventListener("submit", publish);
$("clear").addEventListener("click", () => {
  rows = [];
  saveRows();
  $("log").replaceChildren();
  facts();
});

for (const row of rows) show(row);
if (rows.length) add({ k: "reload", text: "Page reloaded. The rows below are from before; the helper resumed right after them." });
facts();
const urlTopics = new URLSearchParams(location.search).getAll("topic").filter(Boolean);
if (urlTopics.length) {
  $("topics").value = urlTopics.join(", ");
  start(urlTopics);
}
