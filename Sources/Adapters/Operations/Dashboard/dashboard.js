// The Flywall dashboard (docs/dashboard.md). It polls the daemon's API once a second, the same
// endpoints `flywall wan ...` reads, and draws cards, SVG charts and the history itself: no
// library, nothing from any other origin. Text from the daemon only ever goes in as textContent.
"use strict";

const POLL_MS = 1000;
const HISTORY_MS = 5000;
const HISTORY_LIMIT = 200;
const HOUR_MS = 3600 * 1000;
const TOKEN_KEY = "flywall.api-token";
const SVG = "http://www.w3.org/2000/svg";

const view = {
  status: null,
  health: null,
  /** interface -> {t: [], rtt: [], loss: [], state: []}, oldest first. */
  samples: new Map(),
  capacity: 720,
  historyKey: "",
  historyAt: 0,
  historyIds: "",
  openEvents: new Set(),
};

const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function svg(tag, attributes = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  return e;
}

// ---- the API -------------------------------------------------------------------------------

/** The token lives in sessionStorage: this tab only, gone when it closes, never in a URL. */
function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers);
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  const response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON: the status says enough */ }
  if (!response.ok) {
    const e = new Error((body && body.error) || response.status + " " + response.statusText);
    e.status = response.status;
    throw e;
  }
  return body;
}

async function poll() {
  try {
    const [status, health] = await Promise.all([api("/api/wan/status"), api("/api/wan/health")]);
    const samples = await api("/api/wan/samples" + samplesQuery());
    mergeSamples(samples, status);
    view.status = status;
    view.health = health;
    render();
    const key = historyKey(status);
    if (key !== view.historyKey || Date.now() - view.historyAt > HISTORY_MS) await loadHistory(key);
    setLive(true, "live, updated " + clock(status.generated_at));
    showProblem(health.history_available ? null : "history unavailable: " + (health.history_problem || "?"));
  } catch (e) {
    setLive(false, "daemon unreachable");
    showProblem(e.status === 401
      ? "This daemon needs its API token for reads from this address: paste it above."
      : "Cannot read the daemon's API: " + e.message);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

// ---- samples: the charts' data --------------------------------------------------------------

/**
 * Asks only for what may be new: from the oldest of the WANs' last samples (a sample keeps its
 * time while later rounds of its slot update it, so that one is read again too).
 */
function samplesQuery() {
  let since = null;
  for (const s of view.samples.values()) {
    if (s.t.length) since = since === null ? s.t[s.t.length - 1] : Math.min(since, s.t[s.t.length - 1]);
  }
  return since === null ? "" : "?since=" + encodeURIComponent(new Date(since).toISOString());
}

function mergeSamples(answer, status) {
  view.capacity = answer.capacity;
  const names = new Set(status.wans.map((w) => w.interface));
  for (const name of view.samples.keys()) if (!names.has(name)) view.samples.delete(name);
  for (const w of answer.wans) {
    const s = view.samples.get(w.interface) || { t: [], rtt: [], loss: [], state: [] };
    const from = w.time_ms.length ? w.time_ms[0] : Infinity;
    let keep = s.t.length;
    while (keep > 0 && s.t[keep - 1] >= from) keep--;
    const cut = Math.max(0, keep + w.time_ms.length - answer.capacity);
    s.t = s.t.slice(cut, keep).concat(w.time_ms);
    s.rtt = s.rtt.slice(cut, keep).concat(w.latency_ms);
    s.loss = s.loss.slice(cut, keep).concat(w.loss_percent);
    s.state = s.state.slice(cut, keep).concat(w.status);
    view.samples.set(w.interface, s);
  }
}

// ---- rendering ------------------------------------------------------------------------------

function render() {
  renderGroups(view.status.groups);
  renderCards(view.status, view.health);
  renderFilter(view.status.wans.map((w) => w.interface));
  renderTokenState();
}

/** One child per key, created once and updated in place, so open menus and focus survive polls. */
function keyed(container, key, create) {
  let e = container.querySelector(":scope > [data-key=\"" + CSS.escape(key) + "\"]");
  if (!e) {
    e = create();
    e.dataset.key = key;
    container.append(e);
  }
  return e;
}

function prune(container, keys) {
  for (const e of [...container.children]) if (!keys.has(e.dataset.key)) e.remove();
}

function renderGroups(groups) {
  const box = $("groups");
  for (const g of groups) {
    const card = keyed(box, g.name, () => {
      const c = el("div", { class: "group", "data-group": g.name },
        el("div", { class: "title" }, el("span", { class: "name" }, g.name), el("span", { class: "mode" })),
        el("div", { class: "active" }), el("div", { class: "members" }), el("div", { class: "controls" }));
      return c;
    });
    card.querySelector(".mode").textContent = g.mode;
    card.dataset.active = g.active.join(",");
    card.querySelector(".active").textContent = g.active.length
      ? "active: " + g.active.join(", ") : "no active uplink";
    card.querySelector(".members").textContent = "members: " + g.members.join(", ");
    groupControls(card.querySelector(".controls"), g);
  }
  prune(box, new Set(groups.map((g) => g.name)));
}

function renderCards(status, health) {
  const box = $("wans");
  const checks = new Map(health.wans.map((w) => [w.interface, w]));
  const now = Date.parse(status.generated_at);
  for (const w of status.wans) {
    const card = keyed(box, w.interface, () => el("div", { class: "card", "data-wan": w.interface },
      el("div", { class: "title" }, el("span", { class: "name" }, w.interface), el("span", { class: "badge" })),
      el("dl", { class: "facts" }), el("div", { class: "reason" }), chartElement(), el("div", { class: "controls" })));
    card.dataset.state = w.status;
    const badge = card.querySelector(".badge");
    badge.dataset.state = w.status;
    badge.textContent = w.status;
    const h = checks.get(w.interface);
    const inGroups = status.groups.filter((g) => g.members.includes(w.interface))
      .map((g) => g.name + (g.active.includes(w.interface) ? " (active)" : ""));
    facts(card.querySelector(".facts"), [
      ["priority", String(w.priority)], ["weight", String(w.weight)],
      ["latency", ms(w.latency_ms)], ["loss", w.loss_percent.toFixed(1) + "%"],
      ["jitter", ms(w.jitter_ms)], ["carrier", w.carrier ? "up" : "down"],
      ["check", h && h.check ? describeCheck(h.check) : "none"], ["counter", h ? h.counter : "?"],
      ["groups", inGroups.join(", ") || "none"],
    ]);
    card.querySelector(".reason").textContent = "since " + clock(w.since) + ": " + w.reason;
    drawChart(card.querySelector("svg"), view.samples.get(w.interface), now);
    maintenanceControl(card.querySelector(".controls"), w);
  }
  prune(box, new Set(status.wans.map((w) => w.interface)));
}

function facts(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-fact": k }, v)]));
}

function describeCheck(c) {
  if (c.type === "icmp") return "icmp, " + c.targets.length + " target" + (c.targets.length === 1 ? "" : "s") + ", every " + c.interval;
  if (c.type === "http") return "http " + (c.expected_status || 200) + ", every " + c.interval;
  return c.type;
}

function ms(x) { return x === null || x === undefined ? "–" : (x < 10 ? x.toFixed(1) : Math.round(x)) + " ms"; }

function clock(rfc3339) {
  const d = new Date(rfc3339);
  return isNaN(d) ? rfc3339 : d.toLocaleTimeString([], { hour12: false });
}

function setLive(ok, text) {
  const e = $("live");
  e.dataset.live = ok ? "ok" : "error";
  e.textContent = text;
}

function showProblem(text) {
  const e = $("problem");
  e.hidden = !text;
  e.textContent = text || "";
}

// ---- charts: SVG drawn here -----------------------------------------------------------------

const CHART = { w: 320, h: 90, left: 30, right: 26, top: 6, bottom: 14 };

function chartElement() {
  return svg("svg", { class: "chart", viewBox: "0 0 " + CHART.w + " " + CHART.h, role: "img" });
}

/**
 * RTT as a line (left axis), loss as a shaded area (right axis, 0-100 %), the time the WAN was
 * not UP as bands behind them. The x axis spans the samples, at least a minute, at most an hour.
 */
function drawChart(chart, s, now) {
  const points = s ? s.t.length : 0;
  chart.dataset.points = String(points);
  const x0 = CHART.left, x1 = CHART.w - CHART.right, y0 = CHART.top, y1 = CHART.h - CHART.bottom;
  const children = [svg("line", { class: "grid", x1: x0, y1: y1, x2: x1, y2: y1 }),
    svg("line", { class: "grid", x1: x0, y1: y0, x2: x1, y2: y0 })];
  if (!points) {
    children.push(label(x0 + 4, (y0 + y1) / 2, "no probe rounds yet", "start"));
    chart.replaceChildren(...children);
    return;
  }
  const end = Math.max(now, s.t[points - 1]);
  const start = Math.max(end - HOUR_MS, Math.min(s.t[0], end - 60 * 1000));
  const x = (t) => x0 + (x1 - x0) * Math.max(0, t - start) / Math.max(1, end - start);
  let top = 1;
  for (const r of s.rtt) if (r !== null && r > top) top = r;
  top = niceCeiling(top * 1.15);
  const yRtt = (r) => y1 - (y1 - y0) * Math.min(r, top) / top;
  const yLoss = (l) => y1 - (y1 - y0) * Math.min(l, 100) / 100;

  for (let i = 0; i < points; i++) {
    if (s.state[i] === "UP") continue;
    const a = x(s.t[i]), b = x(i + 1 < points ? s.t[i + 1] : end);
    children.push(svg("rect", { class: "band-" + s.state[i], x: a, y: y0, width: Math.max(0.5, b - a), height: y1 - y0 }));
  }
  let loss = "M" + x(s.t[0]).toFixed(1) + " " + y1;
  for (let i = 0; i < points; i++) {
    const b = x(i + 1 < points ? s.t[i + 1] : end).toFixed(1);
    loss += " L" + x(s.t[i]).toFixed(1) + " " + yLoss(s.loss[i]).toFixed(1) + " L" + b + " " + yLoss(s.loss[i]).toFixed(1);
  }
  children.push(svg("path", { class: "loss", d: loss + " L" + x(end).toFixed(1) + " " + y1 + " Z" }));
  let rtt = "", pen = false, drawn = 0;
  for (let i = 0; i < points; i++) {
    if (s.rtt[i] === null) { pen = false; continue; }
    rtt += (pen ? " L" : " M") + x(s.t[i]).toFixed(1) + " " + yRtt(s.rtt[i]).toFixed(1);
    pen = true;
    drawn++;
  }
  if (rtt) children.push(svg("path", { class: "rtt", d: rtt.trim() }));
  chart.dataset.rttPoints = String(drawn);

  children.push(label(x0 - 3, y0 + 6, top + " ms", "end", "rtt-label"), label(x0 - 3, y1, "0", "end", "rtt-label"),
    label(x1 + 3, y0 + 6, "100%", "start", "loss-label"), label(x1 + 3, y1, "0%", "start", "loss-label"),
    label(x0, CHART.h - 3, "−" + span(end - start), "start"), label(x1, CHART.h - 3, "now", "end"));
  const last = points - 1;
  const title = svg("title");
  title.textContent = "last sample: " + (s.rtt[last] === null ? "no reply" : s.rtt[last] + " ms") + ", " + s.loss[last] + "% loss, " + s.state[last];
  children.push(title);
  chart.replaceChildren(...children);
}

function label(xPos, yPos, text, anchor, cls) {
  const t = svg("text", { x: xPos, y: yPos, "text-anchor": anchor });
  if (cls) t.setAttribute("class", cls);
  t.textContent = text;
  return t;
}

function niceCeiling(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function span(msSpan) {
  const s = Math.round(msSpan / 1000);
  return s < 120 ? s + " s" : Math.round(s / 60) + " min";
}

// ---- history --------------------------------------------------------------------------------

/** History is read again when a state, an active uplink or a filter changes, else every 5 s. */
function historyKey(status) {
  return status.wans.map((w) => w.interface + w.status).join() + "|" + status.groups.map((g) => g.active.join()).join()
    + "|" + $("filter-wan").value + "|" + $("filter-kind").value;
}

async function loadHistory(key) {
  const q = new URLSearchParams({ limit: String(HISTORY_LIMIT) });
  if ($("filter-wan").value) q.set("interface", $("filter-wan").value);
  if ($("filter-kind").value) q.set("kind", $("filter-kind").value);
  const answer = await api("/api/wan/history?" + q);
  view.historyKey = key;
  view.historyAt = Date.now();
  const ids = answer.events.map((e) => e.id).join();
  if (ids === view.historyIds) return;
  view.historyIds = ids;
  $("history").replaceChildren(...answer.events.map(historyItem));
  $("history-empty").hidden = answer.events.length > 0;
}

function historyItem(e) {
  const subject = e.kind === "wan_up" || e.kind === "wan_down" ? (e.interface || "?")
    : e.kind === "command" ? (e.accepted ? "accepted" : "refused")
    : (e.group || "?") + ": " + (e.from.join(",") || "none") + " → " + (e.to.join(",") || "none");
  const details = el("details", {},
    el("summary", {}, el("span", { class: "time" }, new Date(e.time).toLocaleString([], { hour12: false })),
      el("span", { class: "kind" }, e.kind), el("span", { class: "subject" }, subject),
      el("span", { class: "why" }, e.reason)),
    evidence(e.evidence));
  details.open = view.openEvents.has(e.id);
  details.addEventListener("toggle", () => details.open ? view.openEvents.add(e.id) : view.openEvents.delete(e.id));
  return el("li", { "data-kind": e.kind, "data-id": String(e.id) }, details);
}

function evidence(ev) {
  const box = el("div", { class: "evidence" });
  if (!ev) {
    box.append("no evidence recorded");
    return box;
  }
  const lines = [["cause", ev.cause], ["counter", ev.counter], ["detail", ev.detail], ["command", ev.command],
    ["asked by", ev.origin ? ev.origin.source + (ev.origin.peer ? " from " + ev.origin.peer : "") : null]];
  for (const [k, v] of lines) if (v) box.append(el("div", {}, el("span", { class: "time" }, k + ": "), v));
  if (ev.targets.length) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "target"), el("th", {}, "results, oldest first"), el("th", {}, "RTT")));
    for (const t of ev.targets) {
      table.append(el("tr", { "data-target": t.target }, el("td", {}, t.target), el("td", {}, t.results.join(", ")),
        el("td", {}, t.rtt_ms.length ? t.rtt_ms.map((r) => r.toFixed(1)).join(", ") + " ms" : "–")));
    }
    box.append(table);
    if (ev.omitted_targets) box.append(el("div", {}, "and " + ev.omitted_targets + " more targets"));
  }
  return box;
}

function renderFilter(names) {
  const select = $("filter-wan");
  const have = [...select.options].slice(1).map((o) => o.value).join();
  if (have === names.join()) return;
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "all"), ...names.map((n) => el("option", { value: n }, n)));
  select.value = names.includes(chosen) ? chosen : "";
}

// ---- manual control: only with the token; the daemon refuses writes without it anyway --------

function maintenanceControl(box, w) {
  if (!token()) return box.replaceChildren();
  const on = w.status === "MAINTENANCE";
  let b = box.querySelector("button");
  if (!b) {
    b = el("button", { type: "button", "data-control": "maintenance" });
    b.addEventListener("click", () => command("/api/wan/" + encodeURIComponent(w.interface) + (b.dataset.on === "true" ? "/enable" : "/disable")));
    box.replaceChildren(b);
  }
  b.dataset.on = String(on);
  b.textContent = on ? "End maintenance" : "Maintenance";
}

function groupControls(box, g) {
  if (!token()) return box.replaceChildren();
  let select = box.querySelector("select");
  if (!select) {
    select = el("select", { "aria-label": "uplink to pin " + g.name + " to" });
    const pin = el("button", { type: "button", "data-control": "pin" }, "Pin to");
    const auto = el("button", { type: "button", "data-control": "auto" }, "Automatic");
    pin.addEventListener("click", () => command("/api/groups/" + encodeURIComponent(g.name) + "/failover", { interface: select.value }));
    auto.addEventListener("click", () => command("/api/groups/" + encodeURIComponent(g.name) + "/failover", { auto: true }));
    box.replaceChildren(pin, select, auto);
  }
  if ([...select.options].map((o) => o.value).join() !== g.members.join()) {
    select.replaceChildren(...g.members.map((m) => el("option", { value: m }, m)));
  }
}

async function command(path, body) {
  const options = { method: "POST", headers: { "X-Flywall-Client": "dashboard" } };
  if (body) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  try {
    const r = await api(path, options);
    // The core's own words on what it did (a refusal is a 404/409, shown below).
    notice(r.command + (r.handled ? ": " + (r.result || "done") : ": queued, not handled yet"), true);
  } catch (e) {
    if (e.status === 401 || e.status === 403) forgetToken();
    notice("refused: " + e.message, false);
  }
  view.historyAt = 0;
}

function notice(text, ok) {
  const e = $("notice");
  e.hidden = false;
  e.dataset.ok = String(ok);
  e.textContent = text;
}

function renderTokenState() {
  $("token-form").hidden = !!token();
  $("token-set").hidden = !token();
}

function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  if (view.status) render();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  $("token").value = "";
  if (!value) return;
  sessionStorage.setItem(TOKEN_KEY, value);
  if (view.status) render();
});
$("token-forget").addEventListener("click", forgetToken);
for (const id of ["filter-wan", "filter-kind"]) {
  $(id).addEventListener("change", () => {
    view.historyIds = "";
    if (view.status) loadHistory(historyKey(view.status)).catch(() => { view.historyAt = 0; });
  });
}
renderTokenState();
poll();
