// The operator dashboard: polls GET <api>/channels every 2 s and renders
// it; the buttons POST to <api>/stream/{start,stop,restart}. The API is
// the directory above the page's (/api/dashboard/ -> /api/), so the page
// works under whatever prefix the operator location has. No framework,
// no build step: plain DOM, hand-drawn SVG.
'use strict';

const API = new URL('../', location.href);
const POLL_MS = 2000;
const PAGE_ROWS = 200;          // rows rendered at once; "Show more" adds as many
const MIN_HISTORY = 30, MAX_HISTORY = 30 * 60; // seconds the history charts span
const STATE_ORDER = { ready: 0, starting: 1, restarting: 2, stopping: 3, failed: 4 };

const view = {
  data: null,                   // the last GET channels reply
  sort: { key: 'state', dir: 1 },
  limit: PAGE_ROWS,
  pending: new Set(),           // channel ids with an action under way
  nodes: false,                 // cluster mode: the Node column is shown
};

const $ = (id) => document.getElementById(id);

function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
}

function duration(secs) {
  if (!secs) return '';
  const d = Math.floor(secs / 86400), h = Math.floor(secs / 3600) % 24;
  const m = Math.floor(secs / 60) % 60, s = secs % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

// One channel as the table shows it (derived fields for sort and filter).
function model(c, now) {
  const state = c.state || 'stopped';
  const uptime = c.state && c.started ? Math.max(0, now - c.started) : 0;
  return {
    id: c.id, name: c.name || '', group: c.group || '', state,
    running: !!c.state, viewers: c.viewers || 0, uptime, restarts: c.restarts || 0,
    failure: c.failure || '', reason: c.reason || '', host: c.host || '',
    node: c.node || '', history: c.history || [],
    text: [c.id, c.name, c.group, c.host, c.node, state, c.failure].join(' ').toLowerCase(),
  };
}

// Ids and texts in natural order: 9 before 10.
const collator = new Intl.Collator(undefined, { numeric: true });

function compare(a, b) {
  const { key, dir } = view.sort;
  let x = a[key], y = b[key];
  if (key === 'state') { x = STATE_ORDER[x] ?? 9; y = STATE_ORDER[y] ?? 9; }
  const c = typeof x === 'string' ? collator.compare(x, y) : x - y;
  return c ? c * dir : collator.compare(a.id, b.id);
}

// The rows to show: filtered, "only active", sorted.
function visibleRows() {
  const d = view.data;
  if (!d) return [];
  const words = $('filter').value.toLowerCase().split(/\s+/).filter(Boolean);
  const activeOnly = $('active-only').checked;
  return d.channels
    .map((c) => model(c, d.now))
    .filter((m) => (!activeOnly || m.running) && words.every((w) => m.text.includes(w)))
    .sort(compare);
}

// The time the history charts span: back to the oldest event shown, at
// least 30 seconds and at most 30 minutes, the same for every row so they compare.
function historyWindow(rows, now) {
  let oldest = now;
  for (const m of rows) {
    for (const e of m.history) if (e.t < oldest) oldest = e.t;
  }
  return Math.min(MAX_HISTORY, Math.max(MIN_HISTORY, now - oldest + 5));
}

// A channel's recent events as a small timeline: a bar while it ran
// (amber until ready, green while ready), a red tick for each failure, a
// dark end cap for a stop; every mark has a tooltip with its time and why.
function historySvg(events, now, span, state) {
  const W = 160, H = 22, from = now - span;
  const x = (t) => 2 + (Math.min(span, Math.max(0, t - from)) / span) * (W - 4);
  const tip = (e) => {
    const what = e.kind + (e.ms != null ? ` in ${(e.ms / 1000).toFixed(2)} s` : '')
      + (e.why ? ` (${e.why})` : '');
    return `<title>${esc(what)}, ${duration(now - e.t) || '0s'} ago</title>`;
  };
  let bars = '', marks = '';
  let open = null; // [since, colour] of the bar being drawn
  const close = (t) => {
    if (open && t > from) {
      const x0 = x(open[0]), x1 = Math.max(x(t), x0 + 1.5);
      bars += `<rect x="${x0.toFixed(1)}" y="7" width="${(x1 - x0).toFixed(1)}" height="8" rx="2" fill="${open[1]}"/>`;
    }
    open = null;
  };
  for (const e of events) {
    const px = x(e.t).toFixed(1);
    if (e.kind === 'start') {
      close(e.t); open = [e.t, '#f59e0b'];
      marks += `<rect x="${px}" y="4" width="2" height="14" fill="#9ca3af">${tip(e)}</rect>`;
    } else if (e.kind === 'ready') {
      close(e.t); open = [e.t, '#16a34a'];
      marks += `<circle cx="${px}" cy="11" r="3.5" fill="#15803d" stroke="#fff">${tip(e)}</circle>`;
    } else if (e.kind === 'failure') {
      close(e.t); open = [e.t, '#f59e0b'];
      marks += `<path d="M${px} 2 l4 8 h-8z" fill="#dc2626">${tip(e)}</path>`;
    } else {
      close(e.t);
      marks += `<rect x="${(x(e.t) - 2).toFixed(1)}" y="4" width="4" height="14" fill="#374151">${tip(e)}</rect>`;
    }
  }
  if (state === 'failed' && open) open[1] = '#fca5a5'; // given up: waits for its cool-down
  if (state !== 'stopped') close(now); else open = null;
  return `<svg class="hist" viewBox="0 0 ${W} ${H}" aria-label="recent history">`
    + `<line x1="2" x2="${W - 2}" y1="11" y2="11" stroke="#e5e7eb"/>${bars}${marks}</svg>`;
}

function rowHtml(m, span) {
  const busy = view.pending.has(m.id) ? ' disabled' : '';
  const id = esc(m.id);
  const button = (act, label) =>
    `<button data-act="${act}" data-id="${id}" aria-label="${label} channel ${id}"${busy}>${label}</button>`;
  const buttons = m.running ? button('restart', 'Restart') + button('stop', 'Stop') : button('start', 'Start');
  const failure = m.failure
    ? `<span class="failure" title="${esc(m.reason || m.failure)}">${esc(m.failure.replace(/_/g, ' '))}</span>` : '';
  return `<tr data-id="${id}" data-state="${m.state}">`
    + `<td data-label="Channel"><div><b>${id}</b><span class="name">${esc(m.name)}${m.group ? ' · ' + esc(m.group) : ''}</span></div></td>`
    + `<td data-label="State"><span class="state ${m.state}">${m.state}</span></td>`
    + `<td data-label="Viewers" class="num">${m.viewers}</td>`
    + `<td data-label="Uptime" class="num">${duration(m.uptime)}</td>`
    + `<td data-label="Restarts" class="num">${m.restarts || ''}</td>`
    + `<td data-label="Last failure">${failure}</td>`
    + `<td data-label="Source host" class="host">${esc(m.host)}</td>`
    + (view.nodes ? `<td data-label="Node" class="host node">${esc(m.node)}</td>` : '')
    + `<td data-label="History">${historySvg(m.history, view.data.now, span, m.state)}</td>`
    + `<td class="actions">${buttons}</td></tr>`;
}

function renderTable() {
  // Cluster mode: a Node column once any channel runs on a node.
  view.nodes = !!view.data && view.data.channels.some((c) => c.node);
  $('node-col').hidden = !view.nodes;
  const rows = visibleRows();
  const shown = rows.slice(0, view.limit);
  const span = view.data ? historyWindow(shown, view.data.now) : MIN_HISTORY;
  $('rows').innerHTML = shown.length ? shown.map((m) => rowHtml(m, span)).join('')
    : `<tr class="empty"><td colspan="${view.nodes ? 10 : 9}">${view.data && $('active-only').checked && !$('filter').value
      ? 'No channel runs now. Untick “only active” to see all of them.' : 'No channel matches.'}</td></tr>`;
  $('history-span').textContent = `(last ${duration(span)})`;
  const total = view.data ? view.data.channels.length : 0;
  $('shown').textContent = `${shown.length} of ${rows.length} shown (${total} channels)`;
  $('more').hidden = rows.length <= shown.length;
  for (const th of document.querySelectorAll('th[data-sort]')) {
    th.classList.toggle('asc', th.dataset.sort === view.sort.key && view.sort.dir > 0);
    th.classList.toggle('desc', th.dataset.sort === view.sort.key && view.sort.dir < 0);
  }
}

function renderSummary() {
  const d = view.data;
  const count = (s) => d.channels.filter((c) => c.state === s).length;
  // Failed channels run nothing (and take no --max-streams slot).
  const running = d.channels.filter((c) => c.state && c.state !== 'failed').length;
  const viewers = d.channels.reduce((n, c) => n + (c.viewers || 0), 0);
  const cap = d.capacity ? ` / ${d.capacity}` : '';
  $('summary').innerHTML = [
    ['channels', d.channels.length], ['running', running + cap], ['ready', count('ready')],
    ['starting', count('starting') + count('restarting')], ['failed', count('failed')],
    ['viewers', viewers],
  ].map(([k, v]) => `<span>${k} <b>${v}</b></span>`).join(' ');
}

// A quantile from cumulative buckets, interpolated within its bucket.
function quantile(h, q) {
  if (!h.count) return null;
  const rank = q * h.count;
  let lo = 0, below = 0;
  for (const [le, n] of h.buckets) {
    if (n >= rank) return lo + (le - lo) * ((rank - below) / Math.max(1, n - below));
    lo = le; below = n;
  }
  return lo;
}

// The cold-start histogram as bars, one per bucket (counts per bucket,
// not cumulative; the last is beyond the largest bound).
function renderStarts() {
  const h = view.data.start_seconds;
  const counts = [];
  let prev = 0;
  for (const [le, n] of h.buckets) { counts.push([`${le / 1000}`, n - prev]); prev = n; }
  const lastLe = h.buckets.length ? h.buckets[h.buckets.length - 1][0] / 1000 : 0;
  counts.push([`>${lastLe}`, h.count - prev]);
  const max = Math.max(1, ...counts.map((c) => c[1]));
  const W = 360, top = 12, base = 92, bw = W / counts.length;
  let svg = '';
  counts.forEach(([label, n], i) => {
    const hgt = (n / max) * (base - top);
    const x = i * bw + 2;
    const what = label.startsWith('>') ? `over ${label.slice(1)} s` : `up to ${label} s`;
    svg += `<rect class="bar" x="${x.toFixed(1)}" y="${(base - hgt).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${hgt.toFixed(1)}"><title>${n} cold starts ${what}</title></rect>`;
    if (n) svg += `<text class="count" x="${(x + (bw - 4) / 2).toFixed(1)}" y="${(base - hgt - 2).toFixed(1)}" text-anchor="middle">${n}</text>`;
    svg += `<text x="${(x + (bw - 4) / 2).toFixed(1)}" y="102" text-anchor="middle">${label}</text>`;
  });
  svg += `<line x1="0" x2="${W}" y1="${base}" y2="${base}" stroke="#d1d5db"/>`;
  $('start-chart').innerHTML = svg;
  const s = (ms) => (ms / 1000).toFixed(2) + ' s';
  $('start-stats').textContent = h.count
    ? `${h.count} since the supervisor started · median ~${s(quantile(h, 0.5))} · p90 ~${s(quantile(h, 0.9))} · mean ${s(h.sum_ms / h.count)}`
    : 'none yet';
}

function render() {
  if (!view.data) return;
  renderSummary();
  renderStarts();
  renderTable();
}

// The API key, where the API needs one (stream_autostart_api_key): asked
// for when the API answers 401, kept for this tab only (sessionStorage),
// sent in a header, never in a URL.
const KEY = 'stream-autostart-api-key';

function authHeaders() {
  const key = sessionStorage.getItem(KEY);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function showMessage(text) {
  const m = $('message');
  m.textContent = text || '';
  m.hidden = !text;
}

async function poll() {
  // A hidden tab asks nothing; it catches up when shown again.
  if (document.hidden) {
    clearTimeout(view.timer);
    view.timer = setTimeout(poll, POLL_MS);
    return;
  }
  try {
    const r = await fetch(new URL('channels', API), { cache: 'no-store', headers: authHeaders() });
    const body = await r.json().catch(() => ({}));
    $('login').hidden = r.status !== 401;
    if (r.status === 401) sessionStorage.removeItem(KEY);
    if (!r.ok || !body.ok) {
      throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${r.status}`);
    }
    view.data = body;
    render();
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    $('updated').textContent = `cannot update: ${e.message}`;
  } finally {
    clearTimeout(view.timer);
    view.timer = setTimeout(poll, POLL_MS);
  }
}

// start, stop, restart: the API answers when done (a start when ready).
async function act(action, id) {
  view.pending.add(id);
  renderTable();
  showMessage('');
  try {
    const r = await fetch(new URL(`stream/${action}`, API), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeaders() },
      body: JSON.stringify({ channel_id: id }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok || !body.ok) {
      const why = body.error ? body.error.message : `HTTP ${r.status}`;
      showMessage(`${action} ${id}: ${why}`);
    }
  } catch (e) {
    showMessage(`${action} ${id}: ${e.message}`);
  } finally {
    view.pending.delete(id);
    poll();
  }
}

$('rows').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-act]');
  if (b && !b.disabled) act(b.dataset.act, b.dataset.id);
});
document.querySelector('thead').addEventListener('click', (e) => {
  const th = e.target.closest('th[data-sort]');
  if (!th) return;
  const key = th.dataset.sort;
  view.sort = { key, dir: view.sort.key === key ? -view.sort.dir : (key === 'id' || key === 'state' ? 1 : -1) };
  renderTable();
});
let filterTimer;
$('filter').addEventListener('input', () => {
  clearTimeout(filterTimer);
  view.limit = PAGE_ROWS;
  filterTimer = setTimeout(renderTable, 120);
});
$('active-only').addEventListener('change', () => { view.limit = PAGE_ROWS; renderTable(); });
$('more').addEventListener('click', () => { view.limit += PAGE_ROWS; renderTable(); });

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $('key').value);
  $('key').value = '';
  $('login').hidden = true;
  poll();
});
document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });

poll();
