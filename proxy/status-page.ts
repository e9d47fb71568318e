import { createHash } from 'node:crypto';

/**
 * The status page at GET / on the admin listener: one HTML document with its CSS and script
 * inline, no framework and no build step. It holds no data; its script polls GET /api/status
 * and draws the tables and the hashrate chart. Everything from the process (worker names come
 * from miners, so from anyone) goes in as text nodes, never as markup, and the content security
 * policy allows this one script only.
 */

/** How often the page asks for /api/status, ms. */
export const STATUS_POLL_MS = 2000;

const STYLE = String.raw`
:root{--bg:#0f1419;--fg:#e6e6e6;--dim:#8a96a3;--line:#26303a;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--acc:#58a6ff}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.4 system-ui,sans-serif}
header{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:baseline;padding:.8em 1em;border-bottom:1px solid var(--line)}
h1{font-size:1.1em;margin:0}h2{font-size:1em;margin:1.2em 0 .4em}main{padding:0 1em 2em}
.dim{color:var(--dim)}.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9em,1fr));gap:.5em;margin-top:1em}
.card{border:1px solid var(--line);border-radius:6px;padding:.5em .7em}.card b{display:block;font-size:1.3em}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:right;padding:.3em .5em;border-bottom:1px solid var(--line);white-space:nowrap}
th:first-child,td:first-child{text-align:left;position:sticky;left:0;background:var(--bg)}
th{color:var(--dim);font-weight:normal}tr.gone td{color:var(--dim);text-decoration:line-through}
tr.gone td.state{text-decoration:none}
svg{width:100%;height:160px;display:block;border:1px solid var(--line);border-radius:6px}
figure{margin:0}figcaption{font-size:.85em;margin-top:.2em}
form{max-width:24em;margin:3em auto;display:flex;flex-direction:column;gap:.6em}
input,button{font:inherit;padding:.5em;border-radius:4px;border:1px solid var(--line);background:#161b22;color:var(--fg)}
button{cursor:pointer;background:#238636;border-color:#238636}
@media (max-width:640px){.wide{display:none}th,td{padding:.3em .35em}}
`;

const SCRIPT = String.raw`
"use strict";
var KEY = "hashrelay-admin-token";
var POLL = ${STATUS_POLL_MS};
var $ = function (id) { return document.getElementById(id); };
function el(tag, attrs, children) {
  var node = document.createElement(tag);
  if (attrs) for (var name in attrs) if (attrs[name] !== undefined) node.setAttribute(name, attrs[name]);
  (children || []).forEach(function (child) {
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  });
  return node;
}
function hashrate(hps) {
  var units = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s", "EH/s"], i = 0;
  while (hps >= 1000 && i < units.length - 1) { hps /= 1000; i++; }
  return (hps >= 100 ? hps.toFixed(0) : hps.toPrecision(3)) + " " + units[i];
}
function num(n) { return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(10))); }
function pct(x) { return x === null || x === undefined ? "-" : (x * 100).toFixed(1) + "%"; }
function ago(ms, now) {
  if (ms === null || ms === undefined) return "never";
  var s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m ago";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m ago";
  return Math.floor(s / 86400) + "d ago";
}
function short(key) { return key.length > 16 ? key.slice(0, 6) + "\u2026" + key.slice(-6) : key; }
// A validator's worker names start with the farm's hotkey: shortened the same way.
function workerName(name) {
  var m = /^([1-9A-HJ-NP-Za-km-z]{46,48})(\..*)?$/.exec(name);
  return m ? short(m[1]) + (m[2] || "") : name;
}
function rejects(map) {
  var parts = [];
  for (var k in map) parts.push(k + " " + map[k]);
  return parts.length ? parts.join(", ") : "0";
}
function sum(map) { var t = 0; for (var k in map) t += map[k]; return t; }
function table(id, head, rows) {
  var body = rows.map(function (r) { return r; });
  var t = el("table", { id: id }, [el("thead", null, [el("tr", null, head.map(function (h) {
    return el("th", h[1] ? { class: h[1] } : null, [h[0]]);
  }))]), el("tbody", null, body)]);
  return el("div", { class: "scroll" }, [t]);
}
function cell(field, text, cls) { return el("td", { "data-field": field, class: cls }, [text]); }
function section(title, nodes) { return [el("h2", null, [title])].concat(nodes); }

function chart(points) {
  // From the first bucket with work (at least the last 5 minutes), so a new process is not a flat hour.
  var first = points.findIndex(function (p) { return p[1] > 0; });
  points = points.slice(Math.max(0, Math.min(first < 0 ? points.length : first, points.length - 30)));
  var w = 600, h = 160, max = 0;
  points.forEach(function (p) { if (p[1] > max) max = p[1]; });
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("id", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "hashrate over the last hour");
  var line = document.createElementNS(ns, "polyline");
  var step = w / Math.max(1, points.length - 1);
  line.setAttribute("points", points.map(function (p, i) {
    return (i * step).toFixed(1) + "," + (max === 0 ? h - 2 : h - 2 - (p[1] / max) * (h - 24)).toFixed(1);
  }).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#58a6ff");
  line.setAttribute("stroke-width", "2");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.appendChild(line);
  var minutes = Math.round((points.length * 10) / 60);
  return el("figure", null, [svg, el("figcaption", { class: "dim" }, [
    "peak " + hashrate(max) + " \u00b7 last " + minutes + " min, 10 s buckets"])]);
}

function workerRows(s) {
  return s.workers.map(function (w) {
    var gone = w.goneAt !== null;
    return el("tr", { class: gone ? "gone" : undefined, "data-worker": w.worker, "data-connection": String(w.connection) }, [
      el("td", { "data-field": "worker", title: w.worker }, [workerName(w.worker)]),
      cell("state", gone ? "gone " + ago(w.goneAt, s.generatedAt) : "connected", gone ? "state bad" : "state ok"),
      cell("upstream", w.upstream === null ? "-" : short(w.upstream), "wide"),
      cell("connectedAt", ago(w.connectedAt, s.generatedAt), "wide"),
      cell("hashrate5m", hashrate(w.hashrate5m)),
      cell("hashrate1h", hashrate(w.hashrate1h), "wide"),
      cell("accepted", num(w.accepted)),
      cell("rejected", rejects(w.rejected), sum(w.rejected) > 0 ? "warn" : undefined),
      cell("creditedDifficulty", num(w.creditedDifficulty), "wide"),
      cell("lastShareAt", ago(w.lastShareAt, s.generatedAt)),
      cell("difficulty", String(Number(w.difficulty.toPrecision(4))), "wide")
    ]);
  });
}

function upstreamRows(s) {
  return s.upstreams.map(function (u) {
    return el("tr", { "data-upstream": u.name }, [
      cell("name", short(u.name)),
      cell("state", u.healthy ? "up" : "down", u.healthy ? "ok" : "bad"),
      cell("miners", u.miners),
      cell("target", pct(u.target)),
      cell("realised", pct(u.realised)),
      cell("acceptance", pct(u.acceptance)),
      cell("accepted", num(u.answers.accepted || 0), "wide"),
      cell("rejected", num(u.answers.rejected || 0), "wide"),
      cell("latency", u.latencySeconds === null ? "-" : (u.latencySeconds * 1000).toFixed(0) + " ms"),
      cell("lost", num(u.lostShares), "wide"),
      cell("endpoint", u.endpoint, "wide"),
      el("td", { "data-field": "lastFailure", class: "wide", title: u.lastFailure || "" }, [
        (u.lastFailure || "").length > 60 ? u.lastFailure.slice(0, 60) + "\u2026" : u.lastFailure || ""])
    ]);
  });
}

function farmView(f, upstreams) {
  var byName = {};
  upstreams.forEach(function (u) { byName[u.name] = u; });
  if (f.error) return section("On chain", [el("p", { class: "warn" }, [f.error])]);
  var cards = el("div", { class: "cards" }, [
    card("Farm hotkey", short(f.hotkey), "farm-hotkey"),
    card("UID", f.uid === null ? "not registered" : f.uid, "farm-uid"),
    card("Incentive", f.incentive === null ? "-" : f.incentive.toFixed(4), "farm-incentive"),
    card("Emission / tempo", f.emissionPerTempo === null ? "-" : f.emissionPerTempo + " \u03b1", "farm-emission"),
    card("Block", f.block, "farm-block")
  ]);
  var rows = f.validators.map(function (v) {
    var upstream = byName[v.hotkey];
    var reachable = upstream ? (upstream.healthy ? "yes" : "no") : "not used";
    return el("tr", { "data-validator": v.hotkey }, [
      cell("hotkey", short(v.hotkey)),
      cell("uid", v.uid),
      cell("stake", v.stake, "wide"),
      cell("target", pct(upstream ? upstream.target : null)),
      cell("weightToFarm", v.weightToFarm === null ? "-" : num(v.weightToFarm)),
      cell("weightShare", pct(v.weightShare)),
      cell("endpoint", v.endpoint || "-", "wide"),
      cell("reachable", reachable, reachable === "yes" ? "ok" : reachable === "no" ? "bad" : "dim")
    ]);
  });
  return section("On chain (subnet " + f.netuid + ")", [cards, el("h2", null, ["Validators"]),
    table("validators", [["Validator"], ["UID"], ["Stake", "wide"], ["Target"], ["Weight to farm"], ["Share"], ["Endpoint", "wide"], ["Up"]], rows)]);
}

function vectorText(uids, values) {
  var total = values.reduce(function (a, b) { return a + b; }, 0);
  return uids.map(function (uid, i) { return "uid " + uid + " " + pct(total ? values[i] / total : 0); }).join(", ");
}
function none(columns, what) {
  return [el("tr", null, [el("td", { colspan: String(columns), class: "dim" }, [what])])];
}
function validatorView(v) {
  if (v.error) return section("Weights", [el("p", { class: "warn" }, [v.error])]);
  var farms = v.farms.map(function (f) {
    return el("tr", { "data-farm": f.hotkey }, [
      cell("hotkey", short(f.hotkey)),
      cell("uid", f.uid === null ? "-" : f.uid),
      cell("verified", f.verified ? "yes" : "no", f.verified ? "ok" : "bad"),
      cell("connections", f.connections),
      cell("creditedDifficulty", num(f.creditedDifficulty)),
      cell("nextWeight", pct(f.nextWeight))
    ]);
  });
  var posts = v.posts.map(function (p) {
    return el("tr", null, [
      cell("block", p.block),
      cell("kind", p.kind),
      cell("status", p.status, p.status === "landed" ? "ok" : p.status === "failed" ? "bad" : "warn"),
      cell("vector", p.uids === null ? "hidden until revealed" : vectorText(p.uids, p.values), "wide"),
      cell("detail", p.detail || "", "wide")
    ]);
  });
  var pending = v.pendingCommits.map(function (c) {
    return el("tr", null, [cell("hash", short(c.hash)), cell("commitEpoch", c.commitEpoch), cell("revealEpoch", c.revealEpoch === null ? "-" : c.revealEpoch)]);
  });
  var cards = el("div", { class: "cards" }, [
    card("Validator hotkey", short(v.hotkey), "validator-hotkey"),
    card("UID", v.uid === null ? "not registered" : v.uid, "validator-uid"),
    card("Window from block", v.window === null ? "-" : v.window.fromBlock, "window-from"),
    card("Block", v.block === null ? "-" : v.block, "validator-block")
  ]);
  return section("Weights (subnet " + v.netuid + ")", [cards,
    el("h2", null, ["Farms this window"]),
    table("farms", [["Farm hotkey"], ["UID"], ["Verified"], ["Connections"], ["Credited"], ["Next weight"]], farms.length ? farms : none(6, "no farm yet")),
    el("h2", null, ["Posts"]),
    table("posts", [["Block"], ["Kind"], ["Status"], ["Vector", "wide"], ["Detail", "wide"]], posts),
    el("h2", null, ["Pending commits"]),
    table("pending", [["Hash"], ["Commit epoch"], ["Reveal epoch"]], pending.length ? pending : none(3, "none"))]);
}

function card(title, value, id) {
  return el("div", { class: "card" }, [el("span", { class: "dim" }, [title]), el("b", { id: id }, [String(value)])]);
}

function render(s) {
  var t = s.totals;
  var roleName = { farm: "Farm proxy", proxy: "Proxy", validator: "Validator" }[s.role] || s.role;
  $("role").textContent = roleName;
  $("updated").textContent = "updated " + new Date(s.generatedAt).toLocaleTimeString();
  $("updated").className = "ok";
  var nodes = [el("div", { class: "cards" }, [
    card("Miners", t.miners, "total-miners"),
    card("Workers", t.workers + (t.workersGone ? " (+" + t.workersGone + " gone)" : ""), "total-workers"),
    card("Hashrate 5 min", hashrate(t.hashrate5m), "total-hashrate5m"),
    card("Hashrate 1 h", hashrate(t.hashrate1h), "total-hashrate1h"),
    card("Accepted", num(t.accepted), "total-accepted"),
    card("Rejected", num(t.rejected), "total-rejected")
  ])];
  nodes = nodes.concat(section("Hashrate", [chart(s.hashrate.points)]));
  if (s.farm) nodes = nodes.concat(farmView(s.farm, s.upstreams));
  if (s.validator) nodes = nodes.concat(validatorView(s.validator));
  nodes = nodes.concat(section("Upstreams (" + s.routing + ")", [table("upstreams",
    [["Upstream"], ["State"], ["Miners"], ["Target"], ["Realised"], ["Acceptance"], ["Accepted", "wide"], ["Rejected", "wide"], ["Latency"], ["Lost", "wide"], ["Endpoint", "wide"], ["Last failure", "wide"]],
    upstreamRows(s))]));
  nodes = nodes.concat(section("Workers" + (s.workersOmitted ? " (" + s.workersOmitted + " more not listed)" : ""), [table("workers",
    [["Worker"], ["State"], ["Upstream", "wide"], ["Connected", "wide"], ["5 min"], ["1 h", "wide"], ["Accepted"], ["Rejected"], ["Credited", "wide"], ["Last share"], ["Difficulty", "wide"]],
    workerRows(s))]));
  var main = $("main");
  main.replaceChildren.apply(main, nodes);
  document.body.setAttribute("data-generated-at", String(s.generatedAt));
}

function login(message) {
  var input = el("input", { type: "password", id: "token", placeholder: "admin token", autocomplete: "current-password" });
  var form = el("form", { id: "login" }, [el("label", { for: "token" }, [message]), input, el("button", { type: "submit" }, ["Open"])]);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    sessionStorage.setItem(KEY, input.value);
    poll();
  });
  $("main").replaceChildren(form);
  $("updated").textContent = "sign in";
  $("updated").className = "dim";
  input.focus();
}

var timer;
function poll() {
  clearTimeout(timer);
  var token = sessionStorage.getItem(KEY);
  var headers = token ? { authorization: "Bearer " + token } : {};
  fetch("api/status", { headers: headers, cache: "no-store" }).then(function (response) {
    if (response.status === 401 || response.status === 403) {
      return response.json().then(function (body) {
        if (token) sessionStorage.removeItem(KEY);
        login(token ? "Wrong token. Admin token:" : body.error === "missing or wrong bearer token" ? "Admin token (HASHRELAY_ADMIN_TOKEN):" : body.error);
      });
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json().then(function (s) { render(s); timer = setTimeout(poll, POLL); });
  }).catch(function (error) {
    $("updated").textContent = "not updating: " + error.message;
    $("updated").className = "bad";
    timer = setTimeout(poll, POLL * 2);
  });
}
poll();
`;

/** The page's response headers: only its own inline script runs, and it may talk only to this origin. */
export const STATUS_PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': [
    "default-src 'none'",
    `script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'`,
    `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; '),
} as const;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>hashrelay status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body><header><h1>hashrelay <span id="role" class="dim"></span></h1><span id="updated" class="dim">loading…</span></header>
<main id="main"></main>
<script>${SCRIPT}</script></body></html>
`;
