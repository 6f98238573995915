/**
 * The dashboard's page (an MCP App view, ext-apps protocol 2026-01-26): one self-contained HTML
 * document, its style and script inline and allowed by hash alone, with no network at all. It
 * talks to the host over postMessage (JSON-RPC): `ui/initialize`, then the tool result the host
 * forwards, and `tools/call` of the dashboard tool to refresh. It holds no credentials: the host
 * calls the server. Cluster data is untrusted, so it is only ever set as text, never as markup.
 */
import { createHash } from 'node:crypto';

const STYLE = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1d2430; --muted: #667085; --line: #e3e6eb;
  --card: #f7f8fa; --ok: #2e9d57; --warn: #d98b12; --crit: #d4403a; --bar: #3a7bd5; }
:root[data-theme="dark"] { --bg: #15181d; --fg: #e6e9ee; --muted: #98a1ae; --line: #2c323b;
  --card: #1d2128; --bar: #5b95e6; }
@media (prefers-color-scheme: dark) { :root:not([data-theme="light"]) { --bg: #15181d;
  --fg: #e6e9ee; --muted: #98a1ae; --line: #2c323b; --card: #1d2128; --bar: #5b95e6; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 14px; font: 13px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; margin-bottom: 12px; }
h1 { font-size: 16px; margin: 0; }
h2 { font-size: 13px; margin: 16px 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.badge { padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; background: var(--ok); }
.badge.bad { background: var(--crit); }
.muted { color: var(--muted); }
.spacer { flex: 1; }
button, select, input { font: inherit; color: inherit; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; }
button { cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
.card .title { display: flex; align-items: center; gap: 6px; font-weight: 600; margin-bottom: 6px; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--ok); display: inline-block; }
.dot.off { background: var(--crit); }
.metric { display: grid; grid-template-columns: 56px 1fr auto; align-items: center; gap: 6px; margin: 3px 0; }
.bar { height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; }
.bar > i { display: block; height: 100%; width: 0; background: var(--bar); }
.bar > i.warn { background: var(--warn); }
.bar > i.crit { background: var(--crit); }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.storage .metric { grid-template-columns: 170px 1fr 190px; }
.chips { display: flex; gap: 6px; flex-wrap: wrap; margin-bottom: 8px; }
.chip { border-radius: 14px; padding: 2px 10px; }
.chip[aria-pressed="true"] { border-color: var(--bar); outline: 1px solid var(--bar); }
.chip .n { font-weight: 700; margin-left: 4px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; }
td.state-running { color: var(--ok); }
td.state-stopped { color: var(--muted); }
td.state-paused, td.state-unknown { color: var(--warn); }
.failed td.status { color: var(--crit); }
.error { color: var(--crit); margin: 8px 0; }
`;

// Plain ES2017 without template literals: it sits inside one here.
const SCRIPT = `
(function () {
  'use strict';
  var TOOL = 'proxmox_show_dashboard';
  var nextId = 1;
  var pending = {};
  var data = null;
  var filter = { state: 'all', text: '' };
  var canCall = false;
  // The arguments the host called the tool with (the cluster, with several): a refresh repeats them.
  var args = {};
  var $ = function (id) { return document.getElementById(id); };

  function send(msg) { window.parent.postMessage(msg, '*'); }
  function request(method, params) {
    var id = nextId++;
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        delete pending[id];
        reject(new Error(method + ': the host did not answer'));
      }, 30000);
      pending[id] = { resolve: resolve, reject: reject, timer: timer };
      send({ jsonrpc: '2.0', id: id, method: method, params: params });
    });
  }
  function notify(method, params) { send({ jsonrpc: '2.0', method: method, params: params || {} }); }

  window.addEventListener('message', function (ev) {
    // Only the host that embeds the page speaks for the server.
    if (ev.source !== window.parent) return;
    var m = ev.data;
    if (!m || m.jsonrpc !== '2.0') return;
    if (m.id !== undefined && !m.method) {
      var p = pending[m.id];
      if (!p) return;
      delete pending[m.id];
      clearTimeout(p.timer);
      if (m.error) p.reject(new Error(m.error.message || 'error'));
      else p.resolve(m.result);
    } else if (m.method === 'ui/notifications/tool-input') {
      if (m.params && m.params.arguments) args = m.params.arguments;
    } else if (m.method === 'ui/notifications/tool-result') {
      show(m.params);
    } else if (m.method === 'ui/notifications/host-context-changed') {
      applyContext(m.params);
    } else if (m.id !== undefined && (m.method === 'ui/resource-teardown' || m.method === 'ping')) {
      send({ jsonrpc: '2.0', id: m.id, result: {} });
    } else if (m.id !== undefined) {
      send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
    }
  });

  function applyContext(ctx) {
    if (ctx && (ctx.theme === 'dark' || ctx.theme === 'light')) document.documentElement.dataset.theme = ctx.theme;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function bytes(n) {
    if (typeof n !== 'number' || !isFinite(n)) return '?';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(n < 10 ? 1 : 0) : String(n)) + ' ' + units[i];
  }
  function pct(f) { return (f * 100).toFixed(f < 0.1 ? 1 : 0) + '%'; }
  function bar(fraction) {
    var b = el('div', 'bar');
    var i = el('i', fraction >= 0.9 ? 'crit' : fraction >= 0.8 ? 'warn' : '');
    // CSSOM, not a style attribute: the policy allows no inline styles.
    i.style.width = Math.max(0, Math.min(1, fraction || 0)) * 100 + '%';
    b.appendChild(i);
    return b;
  }
  function metric(label, fraction, value) {
    var row = el('div', 'metric');
    row.appendChild(el('span', 'muted', label));
    row.appendChild(bar(fraction));
    row.appendChild(el('span', 'num', value));
    return row;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function show(result) {
    $('error').textContent = '';
    if (!result || result.isError || !result.structuredContent) {
      var text = ((result && result.content) || []).map(function (c) { return c.text || ''; }).join('\\n');
      $('error').textContent = text || 'No dashboard data in the answer.';
      return;
    }
    data = result.structuredContent;
    render();
  }

  function render() {
    var d = data;
    $('cluster').textContent = d.cluster.name ? 'Cluster ' + d.cluster.name : 'Standalone node';
    var q = $('quorum');
    q.textContent = d.cluster.quorate ? 'quorate' : 'not quorate';
    q.className = d.cluster.quorate ? 'badge' : 'badge bad';
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();

    var nodes = clear($('nodes'));
    d.nodes.forEach(function (n) {
      var c = el('div', 'card node');
      c.dataset.node = n.name;
      var t = el('div', 'title');
      t.appendChild(el('span', n.online ? 'dot' : 'dot off'));
      t.appendChild(el('span', 'node-name', n.name));
      t.appendChild(el('span', 'muted node-status', n.online ? 'online' : 'offline'));
      c.appendChild(t);
      if (n.online) {
        c.appendChild(metric('CPU', n.cpu, pct(n.cpu) + (n.cores ? ' of ' + n.cores : '')));
        var m = n.maxmem ? n.mem / n.maxmem : 0;
        c.appendChild(metric('Memory', m, bytes(n.mem) + ' / ' + bytes(n.maxmem)));
      }
      nodes.appendChild(c);
    });

    var storage = clear($('storage'));
    d.storage.forEach(function (s) {
      var f = s.total ? s.used / s.total : 0;
      var row = metric(s.name + ' @ ' + s.node, s.available ? f : 0, s.available ? bytes(s.used) + ' / ' + bytes(s.total) + ' (' + pct(f) + ')' : 'not available');
      row.dataset.storage = s.name;
      storage.appendChild(row);
    });
    if (!d.storage.length) storage.appendChild(el('div', 'muted', 'No storage.'));

    renderGuests();

    var tasks = clear($('tasks'));
    d.failedTasks.forEach(function (t) {
      var tr = el('tr');
      tr.appendChild(el('td', 'num', new Date(t.starttime * 1000).toLocaleString()));
      tr.appendChild(el('td', '', t.node));
      tr.appendChild(el('td', '', t.type));
      tr.appendChild(el('td', '', t.id));
      tr.appendChild(el('td', 'status', t.status));
      tasks.appendChild(tr);
    });
    $('no-tasks').hidden = d.failedTasks.length > 0;
  }

  var STATES = ['running', 'stopped', 'paused', 'template', 'unknown'];
  function renderGuests() {
    var d = data;
    var chips = clear($('counts'));
    ['all'].concat(STATES).forEach(function (s) {
      var n = s === 'all' ? d.guests.length : d.counts[s] || 0;
      if (s !== 'all' && !n) return;
      var b = el('button', 'chip');
      b.dataset.state = s;
      b.setAttribute('aria-pressed', String(filter.state === s));
      b.appendChild(el('span', '', s));
      b.appendChild(el('span', 'n', n));
      b.addEventListener('click', function () { filter.state = s; renderGuests(); });
      chips.appendChild(b);
    });
    var text = filter.text.toLowerCase();
    var rows = d.guests.filter(function (g) {
      return (filter.state === 'all' || g.state === filter.state) &&
        (!text || String(g.vmid).indexOf(text) === 0 || (g.name || '').toLowerCase().indexOf(text) >= 0);
    });
    var body = clear($('guests'));
    rows.forEach(function (g) {
      var tr = el('tr');
      tr.dataset.vmid = g.vmid;
      tr.appendChild(el('td', 'num', g.vmid));
      tr.appendChild(el('td', '', g.name || ''));
      tr.appendChild(el('td', '', g.type === 'qemu' ? 'VM' : 'CT'));
      tr.appendChild(el('td', '', g.node));
      tr.appendChild(el('td', 'state-' + g.state, g.state));
      body.appendChild(tr);
    });
    $('shown').textContent = rows.length + ' of ' + d.guests.length + ' shown';
  }

  function refresh() {
    if (!canCall) return;
    var btn = $('refresh');
    btn.disabled = true;
    btn.textContent = 'Refreshing\\u2026';
    request('tools/call', { name: TOOL, arguments: args }).then(show, function (e) {
      $('error').textContent = 'Refresh failed: ' + e.message;
    }).then(function () {
      btn.disabled = false;
      btn.textContent = 'Refresh';
    });
  }

  $('refresh').addEventListener('click', refresh);
  $('filter').addEventListener('input', function (e) { filter.text = e.target.value.trim(); if (data) renderGuests(); });

  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(function () {
      var r = document.documentElement.getBoundingClientRect();
      notify('ui/notifications/size-changed', { width: Math.ceil(r.width), height: Math.ceil(r.height) });
    }).observe(document.documentElement);
  }

  request('ui/initialize', {
    appInfo: { name: 'proxmox-dashboard', version: '1.0.0' },
    appCapabilities: {},
    protocolVersion: '2026-01-26'
  }).then(function (r) {
    canCall = Boolean(r && r.hostCapabilities && r.hostCapabilities.serverTools);
    $('refresh').disabled = !canCall;
    if (!canCall) $('refresh').title = 'This host does not let apps call tools';
    applyContext(r && r.hostContext);
    notify('ui/notifications/initialized');
    // Shown without the tool's result (reopened, say): ask for the data ourselves.
    setTimeout(function () { if (!data) refresh(); }, 1500);
  }, function (e) {
    $('error').textContent = 'No MCP Apps host: ' + e.message;
  });
})();
`;

const BODY = `
<header>
  <h1 id="cluster">Proxmox VE</h1>
  <span id="quorum" class="badge">loading</span>
  <span id="updated" class="muted"></span>
  <span class="spacer"></span>
  <button id="refresh" type="button" disabled>Refresh</button>
</header>
<div id="error" class="error" role="alert"></div>
<h2>Nodes</h2>
<div id="nodes" class="grid"></div>
<h2>Storage</h2>
<div id="storage" class="storage"></div>
<h2>Guests</h2>
<div class="chips" id="counts"></div>
<div class="chips"><input id="filter" type="search" placeholder="Filter by name or ID" aria-label="Filter guests"><span id="shown" class="muted"></span></div>
<table><thead><tr><th>ID</th><th>Name</th><th>Type</th><th>Node</th><th>State</th></tr></thead><tbody id="guests"></tbody></table>
<h2>Recent failed tasks</h2>
<table class="failed"><thead><tr><th>Started</th><th>Node</th><th>Type</th><th>ID</th><th>Status</th></tr></thead><tbody id="tasks"></tbody></table>
<div id="no-tasks" class="muted" hidden>No failed tasks.</div>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * The policy allows nothing but this page's own style and script (by hash): no network, no other
 * script, no frames, no forms, no base URL. Hosts add theirs from the resource's `_meta.ui.csp`.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'none'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

let html: string | undefined;
export function dashboardHtml(): string {
  html ??= `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${DASHBOARD_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Proxmox VE dashboard</title>
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;
  return html;
}
