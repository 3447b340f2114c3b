// The Anchor dashboard: one plain ES module, no framework and no build step (see dashboard/README.md for why).
// Data comes from the HTTP API the page is served next to: the change feed (/api/events, one EventSource for the
// whole page) keeps tasks, DAGs, apps and throughput live; nodes and queue counts have no stream, so those two are polled
// while the tab is visible.

const TASK_EVENTS = ['Submitted', 'Dispatched', 'Started', 'Waiting', 'Requeued', 'RetryScheduled', 'RetryDue',
  'VerificationStarted', 'ReplicaReported', 'Withdrawn', 'Completed', 'Failed', 'Cancelled'];
const DAG_EVENTS = ['Scheduled', 'NodeStarted', 'NodeCompleted', 'NodeFailed', 'NodeSkipped', 'NodeCancelled'];
const NODE_EVENTS = ['Quarantined'];
const APP_EVENTS = ['Created', 'Placed', 'Started', 'Healthy', 'Crashed', 'Restarted', 'Stopped', 'Moved', 'Failed',
  'Deleted'].map(e => 'App' + e);
const ENDED = new Set(['Completed', 'Failed', 'Cancelled']);
const POLL_MS = 3000;
const SPARK_POINTS = 60;
const MAX_TASKS = 3000;
const BUCKET_MS = 10_000;
const BUCKETS = 60; // ten minutes of throughput

// ------------------------------------------------------------------ DOM helpers

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Builds an element; text always goes in as text, never as HTML, so API data cannot inject markup. */
function h(tag, attrs, ...kids) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (!svg && k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...kids);
  return el;
}

function append(el, ...kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

const $ = (sel, root = document) => root.querySelector(sel);

function fill(el, ...kids) {
  el.replaceChildren();
  append(el, ...kids);
  return el;
}

const fmtTime = ms => ms ? new Date(ms).toLocaleTimeString([], { hour12: false }) : '–';
const fmtDateTime = ms => ms ? new Date(ms).toLocaleString([], { hour12: false }) : '–';
function fmtDur(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return m < 60 ? `${m} min ${Math.round((ms % 60_000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
const fmtUptime = s => fmtDur((s || 0) * 1000);
// random ids (UUIDs) are told apart by their first characters, also inside a DAG node's task id (dag-<uuid>.<node>)
const shortId = id => !id ? '–' : id.replace(/([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
  (m, head) => id === m ? head : head + '…');
const pretty = v => v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v, null, 2);

function badge(status) {
  return h('span', { class: `badge s-${status || 'Unknown'}` }, status || 'Unknown');
}

// ------------------------------------------------------------------ API and sign-in

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/**
 * Every API call of the page. The session cookie carries the sign-in; writes add the X-Anchor-Dashboard header, which
 * is what lets the server accept the cookie for them (another site cannot send it).
 */
async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-Anchor-Dashboard'] = '1';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  } catch (e) {
    setBanner('api', 'The node does not answer (' + e.message + '); retrying…');
    throw new ApiError(0, { error: 'the node does not answer' });
  }
  setBanner('api', null);
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (r.status === 401) askToken(data && data.error);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

let signedIn = false;

function askToken(problem) {
  signedIn = false;
  const dlg = $('#signin');
  $('#signin-error').textContent = problem && !/no bearer token/.test(problem) ? problem : '';
  if (!dlg.open) dlg.showModal();
  $('#signin-token').focus();
}

async function signIn(token) {
  const r = await fetch('/api/session', { method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
  const data = await r.json().catch(() => ({}));
  if (r.status === 409) return data; // authentication is off: nothing to exchange
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function setupSignIn() {
  $('#signin-form').addEventListener('submit', async e => {
    e.preventDefault();
    const token = $('#signin-token').value.trim();
    try {
      await signIn(token);
      $('#signin-token').value = '';
      $('#signin').close();
      start();
    } catch (err) {
      $('#signin-error').textContent = err.message;
    }
  });
  // the dialog is the only way forward while signed out: Escape must not leave an empty page behind
  $('#signin').addEventListener('cancel', e => { if (!signedIn) e.preventDefault(); });
  $('#signout').addEventListener('click', async () => {
    await fetch('/api/session', { method: 'DELETE', credentials: 'same-origin' });
    // with authentication off (ANCHOR_AUTH=off) the API still answers: there is nothing to sign out of
    const open = await fetch('/api/nodes', { credentials: 'same-origin' }).then(r => r.ok, () => false);
    if (open) { toast('Authentication is off on this node (ANCHOR_AUTH=off): there is nothing to sign out of'); return; }
    closeFeed();
    askToken();
  });
}

/**
 * A link such as /?token=… is normally exchanged by the server (303 to /); this covers an address it did not handle
 * (e.g. /dashboard/?token=… typed by hand): exchange it, then drop it from the address bar and the history entry.
 */
async function tokenFromAddress() {
  const params = new URLSearchParams(location.search);
  const token = params.get('token') || params.get('access_token');
  if (!token) return;
  params.delete('token');
  params.delete('access_token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  try {
    await signIn(token);
  } catch (e) {
    askToken(e.message);
  }
}

// ------------------------------------------------------------------ banners and the live indicator

const banners = new Map();

function setBanner(key, text) {
  if (text) banners.set(key, text);
  else banners.delete(key);
  const el = $('#banner');
  el.hidden = banners.size === 0;
  el.textContent = [...banners.values()].join(' · ');
}

function setLive(state) {
  const el = $('#live');
  el.className = 'live st-' + state;
  el.textContent = { live: 'live', reconnecting: 'reconnecting…', offline: 'disconnected', idle: 'not connected' }[state];
  setBanner('feed', state === 'live' || state === 'idle' ? null
    : 'Disconnected from the live feed: showing what was last received; reconnecting (missed changes are caught up)…');
}

let toastTimer;
function toast(text, error = false) {
  let el = $('#toast');
  if (!el) document.body.append(el = h('div', { id: 'toast', role: 'status', 'aria-live': 'polite' }));
  el.className = error ? 'toast error' : 'toast';
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 5000);
}

// ------------------------------------------------------------------ state

const state = {
  tasks: new Map(),          // taskId → the task's latest view (summary or full)
  nodes: [],                 // GET /api/nodes
  nodeHistory: new Map(),    // nodeId → {cpu:[], ram:[]}
  stats: null,               // GET /api/queue/stats
  throughput: new Map(),     // bucket start → {completed, failed}
  dags: new Map(),           // dagId → latest DagChange or DagView
  apps: new Map(),           // clusterId → the app's latest view (GET /api/clusters or the feed)
  lastEventAt: 0,
};

/** A DAG node's task id is dag-<dagId>.<node> (DagEntity.taskId), so the task list also tells which DAGs ran lately. */
function noteDagOf(t) {
  const m = /^dag-([^.]+)\./.exec(t.taskId);
  if (!m || state.dags.has(m[1])) return;
  const slash = (t.name || '').lastIndexOf('/');
  state.dags.set(m[1], { dagId: m[1], name: slash > 0 ? t.name.slice(0, slash) : undefined, seenAt: t.submittedAt || 0 });
}

function upsertTask(t) {
  noteDagOf(t);
  const old = state.tasks.get(t.taskId);
  // an older summary must not overwrite a newer change from the feed (a list fetched while events arrive)
  if (old && old.status && ENDED.has(old.status) && !ENDED.has(t.status) && t.attempts <= old.attempts) return;
  state.tasks.set(t.taskId, old ? { ...old, ...t } : t);
  // trimmed in batches, so a busy feed does not sort the whole map at every event
  if (state.tasks.size > MAX_TASKS + 500) {
    const oldest = [...state.tasks.values()].sort((a, b) => (a.submittedAt || 0) - (b.submittedAt || 0));
    for (const x of oldest.slice(0, state.tasks.size - MAX_TASKS)) state.tasks.delete(x.taskId);
  }
}

function countThroughput(name, at = Date.now()) {
  if (name !== 'Completed' && name !== 'Failed') return;
  const bucket = Math.floor(at / BUCKET_MS) * BUCKET_MS;
  if (bucket < Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS - BUCKETS * BUCKET_MS) return;
  const b = state.throughput.get(bucket) || { completed: 0, failed: 0 };
  if (name === 'Completed') b.completed++;
  else b.failed++;
  state.throughput.set(bucket, b);
  for (const k of state.throughput.keys()) if (k < bucket - BUCKETS * BUCKET_MS) state.throughput.delete(k);
}

function rememberDag(id, info, persist = true) {
  const old = state.dags.get(id);
  state.dags.set(id, { seenAt: Date.now(), ...(old || {}), ...info, dagId: id });
  if (!persist) return;
  try {
    const ids = [...state.dags.keys()].slice(-100);
    localStorage.setItem('anchor.dags', JSON.stringify(ids));
  } catch { /* private mode: the list lives for this page only */ }
}

function loadRememberedDags() {
  try {
    for (const id of JSON.parse(localStorage.getItem('anchor.dags') || '[]')) {
      if (!state.dags.has(id)) state.dags.set(id, { dagId: id, seenAt: 0 });
    }
  } catch { /* nothing remembered */ }
}

function upsertApp(a) {
  const old = state.apps.get(a.clusterId);
  // a list fetched while the feed runs must not overwrite a newer change (each change adds to the history)
  if (old && (old.history || []).length > (a.history || []).length) return;
  state.apps.set(a.clusterId, a);
}

async function loadApps() {
  const list = await api('/api/clusters');
  const ids = new Set(list.map(a => a.clusterId));
  for (const id of state.apps.keys()) if (!ids.has(id)) state.apps.delete(id);
  for (const a of list) upsertApp(a);
  state.appsLoaded = true;
  invalidate();
}

let throughputSeeded = false;
const endedBeforeSeed = new Set(); // tasks the feed counted while the first list was on its way

async function loadTasks() {
  const list = await api('/api/tasks?limit=500');
  for (const t of list) upsertTask(t);
  // the chart starts with the listed tasks' end times, so it is not empty on a fresh page; only once, because the
  // feed counts every later end (a reload of the list after a reconnect would count them twice)
  if (!throughputSeeded) {
    throughputSeeded = true;
    for (const t of list) {
      if (t.completedAt && !endedBeforeSeed.has(t.taskId)) countThroughput(t.status, t.completedAt);
    }
    endedBeforeSeed.clear();
  }
  invalidate();
}

async function pollNodes() {
  const nodes = await api('/api/nodes');
  state.nodes = nodes;
  for (const n of nodes) {
    const hist = state.nodeHistory.get(n.nodeId) || { cpu: [], ram: [] };
    hist.cpu.push(n.metrics.cpuUsage || 0);
    hist.ram.push(n.metrics.ramUsage || 0);
    if (hist.cpu.length > SPARK_POINTS) { hist.cpu.shift(); hist.ram.shift(); }
    state.nodeHistory.set(n.nodeId, hist);
  }
}

async function pollStats() {
  state.stats = await api('/api/queue/stats');
}

let pollTimer;
let polling = false;
/** One loop at a time: a tab coming back into view starts a round early rather than a second loop. */
async function poll() {
  clearTimeout(pollTimer);
  if (polling) return;
  polling = true;
  try {
    if (!document.hidden && signedIn) {
      await Promise.allSettled([pollNodes(), pollStats()]);
      invalidate();
    }
  } finally {
    polling = false;
    pollTimer = setTimeout(poll, POLL_MS);
  }
}

// ------------------------------------------------------------------ the change feed

let feed = null;
let feedRetry = 0;
let feedRetryTimer;

/**
 * One EventSource for the page. While the connection is merely interrupted the browser reconnects by itself and sends
 * Last-Event-ID, so the server resumes right after the last change we saw: no gap and no repeat. When the browser gives
 * up (an error answer, e.g. a node restarting), a new EventSource cannot send that header, so after it opens the task
 * list is fetched again to catch up; rows are keyed by task id, so nothing is listed twice.
 */
function openFeed() {
  closeFeed();
  const es = new EventSource('/api/events');
  feed = es;
  let fresh = feedRetry > 0;
  es.onopen = () => {
    feedRetry = 0;
    setLive('live');
    if (fresh) { fresh = false; loadTasks().catch(() => {}); if (state.appsLoaded) loadApps().catch(() => {}); }
  };
  es.onerror = () => {
    if (es !== feed) return;
    if (es.readyState === EventSource.CONNECTING) { setLive('reconnecting'); return; }
    setLive('offline');
    es.close();
    // find out why: a 401 asks for a token, anything else is retried with a growing pause
    api('/api/queue/stats').then(() => scheduleFeed(), e => { if (e.status !== 401) scheduleFeed(); });
  };
  const onEvent = name => e => {
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    state.lastEventAt = Date.now();
    handleChange(name, data);
  };
  for (const name of new Set([...TASK_EVENTS, ...DAG_EVENTS, ...NODE_EVENTS, ...APP_EVENTS])) es.addEventListener(name, onEvent(name));
}

function scheduleFeed() {
  clearTimeout(feedRetryTimer);
  const wait = Math.min(15_000, 1000 * 2 ** feedRetry++);
  feedRetryTimer = setTimeout(openFeed, wait);
}

function closeFeed() {
  if (feed) feed.close();
  feed = null;
  setLive('idle');
}

function handleChange(name, data) {
  if (data.dagId) { // DAG changes share the names Completed/Failed/Cancelled with tasks; only theirs carry a dagId
    rememberDag(data.dagId, { status: data.status, completed: data.completed, total: data.total, event: name },
      name === 'Scheduled');
    currentView.onDag && currentView.onDag(data);
  } else if (data.taskId) {
    upsertTask(data);
    countThroughput(name);
    if (!throughputSeeded && ENDED.has(name)) endedBeforeSeed.add(data.taskId);
    currentView.onTask && currentView.onTask(data, name);
  } else if (data.clusterId && name.startsWith('App')) {
    if (name === 'AppDeleted') state.apps.delete(data.clusterId);
    else upsertApp(data);
    currentView.onApp && currentView.onApp(data, name);
  } else if (name === 'Quarantined') {
    toast(`Node ${data.nodeId} was quarantined: ${data.reason}`, true);
    pollNodes().then(invalidate, () => {});
  }
  invalidate();
}

// ------------------------------------------------------------------ views and routing

let currentView = {};
let renderQueued = false;

/** Coalesces bursts of events into one update per animation frame. */
function invalidate() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    if (currentView.update) currentView.update();
  });
}

function route() {
  const [, view = 'overview', id] = (location.hash || '#/overview').split('/').map(decodeURIComponent);
  const make = { overview: overviewView, queues: queuesView, tasks: id ? taskView : tasksView,
    dags: id ? dagView : dagsView, apps: id ? appView : appsView, fraud: id ? fraudRecordView : fraudView, submit: submitView }[view] || overviewView;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (currentView.unmount) currentView.unmount();
  const main = $('#main');
  main.replaceChildren();
  currentView = make(main, id) || {};
  if (currentView.update) currentView.update();
}

function section(title, ...kids) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...kids);
}

function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, e.status === 403 ? `Not allowed: ${e.message}` : e.message);
}

async function act(label, fn) {
  try {
    await fn();
    toast(`${label}: done`);
  } catch (e) {
    toast(`${label} failed: ${e.message}`, true);
  }
}

// ---- cluster overview

function spark(values, max, label) {
  const w = 120, hgt = 28, step = w / (SPARK_POINTS - 1);
  // the newest sample sits at the right edge, so a fresh page draws a short line that grows leftwards
  const pts = values.map((v, i) => `${w - (values.length - 1 - i) * step},${hgt - (Math.min(v, max) / max) * (hgt - 2) - 1}`);
  const last = values.length ? values[values.length - 1] : 0;
  return h('span', { class: 'spark' },
    h('svg:svg', { width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': `${label} ${last.toFixed(0)}%` },
      h('svg:rect', { x: 0, y: 0, width: w, height: hgt, class: 'spark-bg' }),
      h('svg:polyline', { points: pts.join(' '), fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 })),
    h('span', { class: 'num' }, `${last.toFixed(0)}%`));
}

function flags(n) {
  const out = [];
  if (n.status === 'Draining') out.push(h('span', { class: 'flag warn' }, 'draining'));
  if (n.cordoned) out.push(h('span', { class: 'flag warn' }, 'cordoned'));
  if (n.quarantined) out.push(h('span', { class: 'flag bad' }, 'quarantined'));
  if (!n.acceptsTasks && out.length === 0) out.push(h('span', { class: 'flag' }, 'not taking work'));
  if (n.proven) out.push(h('span', { class: 'flag good' }, 'proven'));
  return out.length ? out : h('span', { class: 'muted' }, '–');
}

function nodeAction(n, op) {
  return h('button', { type: 'button', class: 'small', 'data-op': op, 'aria-label': `${op} node ${n.nodeId}`,
    onclick: () => {
      if ((op === 'drain' || op === 'cordon') && !confirm(`${op} node ${n.nodeId}?`)) return;
      act(`${op} ${n.nodeId}`, async () => {
        await api(`/api/nodes/${encodeURIComponent(n.nodeId)}/${op}`, { method: 'POST' });
        await pollNodes();
        invalidate();
      });
    } }, op);
}

function overviewView(main) {
  const summary = h('div', { class: 'tiles' });
  const table = h('div', { class: 'table-wrap' });
  append(main, h('h1', {}, 'Cluster'), summary, section('Nodes', table));
  return {
    update() {
      const nodes = state.nodes;
      const online = nodes.filter(n => n.status !== 'Offline').length;
      const running = nodes.reduce((s, n) => s + (n.metrics.runningTasks || 0), 0);
      const capacity = nodes.reduce((s, n) => s + (n.specs.capacity || 0), 0);
      const t = state.stats && state.stats.total;
      fill(summary,
        tile('Nodes online', `${online} / ${nodes.length}`),
        tile('Running / capacity', `${running} / ${capacity}`),
        tile('Waiting', t ? t.waiting : '–'),
        tile('Completed', t ? t.completed : '–'),
        tile('Failed', t ? t.failed : '–'),
        tile('Dead-lettered', t ? t.deadLettered : '–'));
      if (!nodes.length) { fill(table, h('p', { class: 'muted' }, 'No node has reported yet.')); return; }
      fill(table, h('table', { class: 'grid', id: 'nodes' },
        h('thead', {}, h('tr', {}, ['Node', 'Status', 'Flags', 'Reputation', 'Running', 'CPU', 'RAM', 'Runtimes',
          'Uptime', 'Actions'].map(c => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, nodes.map(n => {
          const hist = state.nodeHistory.get(n.nodeId) || { cpu: [], ram: [] };
          const rep = n.reputation === null || n.reputation === undefined ? null : n.reputation;
          return h('tr', { 'data-node-id': n.nodeId, 'data-status': n.status },
            h('th', { scope: 'row' }, h('div', {}, n.nodeId), h('div', { class: 'muted small' },
              `${n.specs.host || ''} · ${n.specs.cpuCores ?? '?'} cores · ${Math.round((n.specs.ramMb || 0) / 1024)} GB`
              + (n.specs.gpu ? ` · GPU ${n.specs.gpuModel || ''}` : ''))),
            h('td', {}, badge(n.status)),
            h('td', {}, flags(n)),
            h('td', {}, rep === null ? h('span', { class: 'muted' }, '–')
              : h('span', { class: 'rep' }, h('meter', { min: 0, max: 1, low: 0.3, high: 0.7, optimum: 1, value: rep,
                'aria-label': `reputation of ${n.nodeId}` }), ` ${rep.toFixed(2)}`),
              h('div', { class: 'muted small' }, `${n.agreed} agreed · ${n.disagreed} disagreed`)),
            h('td', { class: 'num' }, `${n.metrics.runningTasks ?? 0} / ${n.specs.capacity ?? '?'}`),
            h('td', {}, spark(hist.cpu, 100, 'CPU')),
            h('td', {}, spark(hist.ram, 100, 'RAM')),
            h('td', {}, (n.specs.runtimes || []).join(', ')),
            h('td', {}, fmtUptime(n.metrics.uptime)),
            h('td', { class: 'actions' },
              n.status === 'Draining' ? null : nodeAction(n, 'drain'),
              n.cordoned || n.status === 'Draining' ? nodeAction(n, 'uncordon') : nodeAction(n, 'cordon'),
              n.quarantined ? nodeAction(n, 'release') : null));
        }))));
    },
  };
}

function tile(label, value) {
  return h('div', { class: 'tile' }, h('div', { class: 'tile-value' }, String(value)), h('div', { class: 'tile-label' }, label));
}

// ---- queues

function throughputChart() {
  const now = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
  const series = [];
  for (let i = BUCKETS - 1; i >= 0; i--) {
    const b = state.throughput.get(now - i * BUCKET_MS) || { completed: 0, failed: 0 };
    series.push(b);
  }
  const w = 720, hgt = 180, pad = 28;
  const max = Math.max(1, ...series.map(b => b.completed + b.failed));
  const bw = (w - pad) / BUCKETS;
  const y = v => hgt - 18 - (v / max) * (hgt - 30);
  const bars = series.flatMap((b, i) => {
    const x = pad + i * bw;
    return [
      h('svg:rect', { x, y: y(b.completed), width: Math.max(1, bw - 1), height: hgt - 18 - y(b.completed), class: 'bar-ok' },
        h('svg:title', {}, `${b.completed} completed, ${b.failed} failed`)),
      b.failed ? h('svg:rect', { x, y: y(b.completed + b.failed), width: Math.max(1, bw - 1),
        height: y(b.completed) - y(b.completed + b.failed), class: 'bar-bad' }) : null,
    ];
  });
  const total = series.reduce((s, b) => s + b.completed + b.failed, 0);
  return h('figure', { class: 'chart' },
    h('svg:svg', { viewBox: `0 0 ${w} ${hgt}`, role: 'img', width: '100%',
      'aria-label': `Tasks ended per 10 seconds over the last 10 minutes: ${total} in all, at most ${max} in one interval` },
      h('svg:line', { x1: pad, x2: w, y1: hgt - 18, y2: hgt - 18, class: 'axis' }),
      h('svg:text', { x: 0, y: 12, class: 'axis-label' }, String(max)),
      h('svg:text', { x: 0, y: hgt - 18, class: 'axis-label' }, '0'),
      h('svg:text', { x: pad, y: hgt - 4, class: 'axis-label' }, '−10 min'),
      h('svg:text', { x: w - 30, y: hgt - 4, class: 'axis-label' }, 'now'),
      bars),
    h('figcaption', { class: 'muted small' }, `Completed (green) and failed (red) tasks per 10 s: the live feed since `
      + `this page opened, and before that the newest 500 tasks · ${(series.slice(-6).reduce((s, b) => s + b.completed + b.failed, 0) / 60).toFixed(2)} tasks/s over the last minute`));
}

function queuesView(main) {
  const table = h('div', { class: 'table-wrap' });
  const chart = h('div');
  append(main, h('h1', {}, 'Queues'), section('Jobs per queue', table), section('Throughput', chart));
  const tick = setInterval(invalidate, BUCKET_MS / 2); // the chart moves on even when nothing happens
  return {
    unmount() { clearInterval(tick); },
    update() {
      fill(chart, throughputChart());
      const s = state.stats;
      if (!s) { fill(table, h('p', { class: 'muted' }, 'Loading…')); return; }
      const cols = ['waiting', 'active', 'completed', 'failed', 'delayed', 'deadLettered'];
      const row = (name, c, total) => h('tr', total ? { class: 'total' } : {},
        h('th', { scope: 'row' }, name), cols.map(k => h('td', { class: 'num' }, String(c[k]))));
      fill(table, h('table', { class: 'grid', id: 'queues' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Queue'),
          cols.map(k => h('th', { scope: 'col', class: 'num' }, k === 'deadLettered' ? 'dead-lettered' : k)))),
        h('tbody', {}, Object.entries(s.queues || {}).map(([q, c]) => row(q, c, false)), row('total', s.total, true))));
    },
  };
}

// ---- tasks

const taskFilter = { status: '', runtime: '', node: '', text: '' };

function select(id, label, value, options, onchange) {
  return h('label', { for: id }, label,
    h('select', { id, onchange: e => onchange(e.target.value) },
      h('option', { value: '' }, 'any'),
      options.map(o => h('option', { value: o, selected: o === value }, o))));
}

function tasksView(main) {
  const filters = h('div', { class: 'filters' });
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' });
  const table = h('div', { class: 'table-wrap' });
  append(main, h('h1', {}, 'Tasks'), filters, count, table);
  let shownOptions = '';
  function drawFilters() {
    const tasks = [...state.tasks.values()];
    const runtimes = [...new Set(tasks.map(t => t.runtime).filter(Boolean))].sort();
    const nodes = [...new Set([...state.nodes.map(n => n.nodeId), ...tasks.map(t => t.nodeId).filter(Boolean)])].sort();
    const key = runtimes.join() + '|' + nodes.join();
    if (key === shownOptions) return; // keep the controls (and keyboard focus) unless their choices changed
    shownOptions = key;
    const set = k => v => { taskFilter[k] = v; invalidate(); };
    fill(filters,
      select('f-status', 'Status ', taskFilter.status, ['Queued', 'Running', 'Completed', 'Failed', 'Cancelled'], set('status')),
      select('f-runtime', 'Runtime ', taskFilter.runtime, runtimes, set('runtime')),
      select('f-node', 'Node ', taskFilter.node, nodes, set('node')),
      h('label', { for: 'f-text' }, 'Name or id ',
        h('input', { id: 'f-text', type: 'search', value: taskFilter.text, oninput: e => set('text')(e.target.value.trim()) })));
  }
  return {
    update() {
      drawFilters();
      const f = taskFilter, text = f.text.toLowerCase();
      const rows = [...state.tasks.values()]
        .filter(t => (!f.status || t.status === f.status) && (!f.runtime || t.runtime === f.runtime)
          && (!f.node || t.nodeId === f.node)
          && (!text || (t.name || '').toLowerCase().includes(text) || t.taskId.includes(text)))
        .sort((a, b) => (b.submittedAt || 0) - (a.submittedAt || 0));
      count.textContent = `${rows.length} task${rows.length === 1 ? '' : 's'}` + (rows.length > 300 ? ' (newest 300 shown)' : '');
      fill(table, h('table', { class: 'grid', id: 'tasks' },
        h('thead', {}, h('tr', {}, ['Task', 'Name', 'Status', 'Runtime', 'Node', 'Attempts', 'Priority', 'Submitted',
          'Total time'].map(c => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows.slice(0, 300).map(t => h('tr', { 'data-task-id': t.taskId, 'data-status': t.status },
          h('td', {}, h('a', { href: `#/tasks/${encodeURIComponent(t.taskId)}`, class: 'mono' }, shortId(t.taskId))),
          h('td', {}, t.name || ''),
          h('td', {}, badge(t.status)),
          h('td', {}, t.runtime || ''),
          h('td', {}, t.nodeId || ''),
          h('td', { class: 'num' }, String(t.attempts ?? '')),
          h('td', { class: 'num' }, String(t.priority ?? 0)),
          h('td', {}, fmtTime(t.submittedAt)),
          h('td', {}, t.completedAt && t.submittedAt ? fmtDur(t.completedAt - t.submittedAt) : ''))))));
    },
  };
}

function field(label, value) {
  return [h('dt', {}, label), h('dd', {}, value === null || value === undefined || value === '' ? '–' : value)];
}

function taskView(main, id) {
  const body = h('div', { id: 'task-detail', 'data-task-id': id });
  append(main, h('p', {}, h('a', { href: '#/tasks' }, '← Tasks')), h('h1', {}, 'Task ', h('span', { class: 'mono' }, id)), body);
  let task = null, error = null;
  const load = () => api(`/api/tasks/${encodeURIComponent(id)}`).then(t => { task = t; error = null; invalidate(); },
    e => { error = e; invalidate(); });
  load();
  return {
    onTask(t) { if (t.taskId === id) { task = t; } },
    update() {
      if (error) { fill(body, errorBox(error)); return; }
      if (!task) { fill(body, h('p', { class: 'muted' }, 'Loading…')); return; }
      const t = task;
      body.dataset.status = t.status;
      const ended = ENDED.has(t.status);
      fill(body,
        h('div', { class: 'row' }, badge(t.status),
          ended ? null : h('button', { type: 'button', class: 'danger', onclick: () => {
            if (confirm(`Cancel task ${id}?`)) act('Cancel', async () => { task = await api(`/api/tasks/${encodeURIComponent(id)}`, { method: 'DELETE' }); invalidate(); });
          } }, 'Cancel task')),
        section('Summary', h('dl', { class: 'facts' },
          field('Name', t.name), field('Type', t.type), field('Runtime', t.runtime), field('Priority', String(t.priority)),
          field('Node', t.nodeId), field('Attempts', String(t.attempts)), field('Submitted', fmtDateTime(t.submittedAt)),
          field('Ended', fmtDateTime(t.completedAt)), field('Duration', fmtDur(t.durationMs)),
          field('Waiting because', t.waitingReason), field('Next retry', t.nextRetryAt ? fmtDateTime(t.nextRetryAt) : null),
          field('Error kind', t.errorKind))),
        t.error ? section('Error', h('pre', { class: 'error' }, t.error)) : null,
        section('Result', h('pre', { id: 'task-result' }, t.result === null || t.result === undefined ? '–' : pretty(t.result))),
        section('Logs', h('pre', { class: 'logs' }, t.logs || '(nothing printed)')),
        section('History', h('ol', { class: 'timeline' }, (t.history || []).map(e => h('li', {},
          h('time', {}, fmtTime(e.at)), ' ', h('strong', {}, e.event),
          e.attempt ? ` · attempt ${e.attempt}` : '', e.nodeId ? ` · ${e.nodeId}` : '', e.detail ? ` · ${e.detail}` : '')))),
        t.verification ? verificationSection(t.verification) : null,
        h('p', { class: 'muted small' }, 'The task\'s input is not part of the API\'s task view, so it is not shown here.'));
    },
  };
}

function verificationSection(v) {
  return section('Verification',
    h('p', {}, `${v.replicas} replicas, quorum ${v.quorum} (up to ${v.maxReplicas}), policy ${v.policy}`
      + (v.reason ? `, because ${v.reason}` : '') + (v.agreedHash ? ` · agreed on ${v.agreedHash.slice(0, 12)}…` : ' · not decided')),
    h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, ['Job', 'Node', 'Status', 'Result hash', 'Took', 'Error', 'Verdict'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, (v.runs || []).map(r => h('tr', {},
        h('td', { class: 'num' }, String(r.job)), h('td', {}, r.nodeId || ''), h('td', {}, badge(r.status)),
        h('td', { class: 'mono' }, r.resultHash ? r.resultHash.slice(0, 12) : ''), h('td', {}, fmtDur(r.durationMs)),
        h('td', {}, r.error || ''),
        h('td', {}, (v.disagreeing || []).includes(r.nodeId) ? h('span', { class: 'flag bad' }, 'disagreed')
          : (v.agreeing || []).includes(r.nodeId) ? h('span', { class: 'flag good' }, 'agreed') : r.late ? 'late' : ''))))));
}

// ---- DAGs

function dagsView(main) {
  const list = h('div', { class: 'table-wrap' });
  const open = h('form', { class: 'filters', onsubmit: e => {
    e.preventDefault();
    const id = $('#dag-id').value.trim();
    if (id) location.hash = `#/dags/${encodeURIComponent(id)}`;
  } }, h('label', { for: 'dag-id' }, 'Open a DAG by id ', h('input', { id: 'dag-id', type: 'text', size: 38 })),
  h('button', { type: 'submit' }, 'Open'));
  append(main, h('h1', {}, 'DAGs'), open,
    h('p', { class: 'muted small' }, 'DAGs with a node among the newest tasks, scheduled from this browser, or seen on '
      + 'the live feed; the API has no list of DAGs, so open any other by its id.'), list);
  const newest = () => [...state.dags.values()].sort((a, b) => (b.seenAt || 0) - (a.seenAt || 0));
  // DAGs known only by id get their status read, the newest 20, one request at a time
  let closed = false;
  (async () => {
    for (const d of newest().filter(x => !x.status).slice(0, 20)) {
      if (closed) return;
      try {
        const v = await api(`/api/dag/${encodeURIComponent(d.dagId)}`);
        rememberDag(d.dagId, { name: v.name, status: v.status, completed: v.completed, total: v.total }, false);
        invalidate();
      } catch { /* expired or unknown: listed without a status */ }
    }
  })();
  return {
    unmount() { closed = true; },
    update() {
      const dags = newest();
      if (!dags.length) { fill(list, h('p', { class: 'muted' }, 'No DAG seen yet: schedule one from Submit.')); return; }
      fill(list, h('table', { class: 'grid', id: 'dags' },
        h('thead', {}, h('tr', {}, ['DAG', 'Name', 'Status', 'Progress', 'Last change'].map(c => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, dags.map(d => h('tr', { 'data-dag-id': d.dagId },
          h('td', {}, h('a', { href: `#/dags/${encodeURIComponent(d.dagId)}`, class: 'mono' }, shortId(d.dagId))),
          h('td', {}, d.name || ''),
          h('td', {}, d.status ? badge(d.status) : ''),
          h('td', {}, d.total ? `${d.completed} / ${d.total}` : ''),
          h('td', {}, d.event || ''))))));
    },
  };
}

const DAG_BOX = { w: 168, h: 50, gx: 64, gy: 18 };

/** Columns by dependency depth (a node sits one column right of its deepest dependency), rows in given order. */
function layoutDag(nodes) {
  const byId = new Map(nodes.map(n => [n.id, n]));
  const depth = new Map();
  const depthOf = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0; // the server refuses cycles; this only keeps a bad view from looping
    seen.add(id);
    const deps = (byId.get(id)?.dependencies || []).filter(d => byId.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map(x => depthOf(x, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  const columns = [];
  for (const n of nodes) (columns[depthOf(n.id)] ||= []).push(n.id);
  const pos = new Map();
  columns.forEach((col, c) => col.forEach((id, r) => pos.set(id, {
    x: 10 + c * (DAG_BOX.w + DAG_BOX.gx), y: 10 + r * (DAG_BOX.h + DAG_BOX.gy) })));
  const width = 20 + columns.length * (DAG_BOX.w + DAG_BOX.gx) - DAG_BOX.gx;
  const height = 20 + Math.max(...columns.map(c => c.length)) * (DAG_BOX.h + DAG_BOX.gy) - DAG_BOX.gy;
  return { pos, width, height };
}

function dagGraph(dag) {
  const { pos, width, height } = layoutDag(dag.steps);
  const critical = dag.criticalPath || [];
  const onPath = new Set(critical);
  const criticalEdge = (from, to) => {
    const i = critical.indexOf(to);
    return i > 0 && critical[i - 1] === from;
  };
  const edges = dag.steps.flatMap(n => (n.dependencies || []).filter(d => pos.has(d)).map(d => {
    const a = pos.get(d), b = pos.get(n.id);
    const x1 = a.x + DAG_BOX.w, y1 = a.y + DAG_BOX.h / 2, x2 = b.x, y2 = b.y + DAG_BOX.h / 2, mx = (x1 + x2) / 2;
    return h('svg:path', { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 6},${y2}`,
      class: criticalEdge(d, n.id) ? 'edge critical' : 'edge', 'marker-end': 'url(#arrow)' });
  }));
  const boxes = dag.steps.map(n => {
    const p = pos.get(n.id);
    const timing = n.durationMs !== null && n.durationMs !== undefined ? fmtDur(n.durationMs)
      : n.startedAt ? `since ${fmtTime(n.startedAt)}` : '';
    const g = h('svg:g', { class: `dag-node d-${n.status}${onPath.has(n.id) ? ' critical' : ''}`,
      transform: `translate(${p.x},${p.y})`, 'data-node': n.id, 'data-status': n.status,
      tabindex: n.taskId ? 0 : null, role: n.taskId ? 'link' : null,
      'aria-label': `${n.id}: ${n.status}${timing ? ', ' + timing : ''}` },
    h('svg:title', {}, `${n.id} · ${n.status}${timing ? ' · ' + timing : ''}${n.error ? '\n' + n.error : ''}`),
    h('svg:rect', { width: DAG_BOX.w, height: DAG_BOX.h, rx: 8 }),
    h('svg:text', { x: 10, y: 20, class: 'dag-label' }, n.id.length > 20 ? n.id.slice(0, 19) + '…' : n.id),
    h('svg:text', { x: 10, y: 38, class: 'dag-sub' }, `${n.status}${timing ? ' · ' + timing : ''}`));
    if (n.taskId) {
      const go = () => { location.hash = `#/tasks/${encodeURIComponent(n.taskId)}`; };
      g.addEventListener('click', go);
      g.addEventListener('keydown', e => { if (e.key === 'Enter') go(); });
    }
    return g;
  });
  return h('svg:svg', { class: 'dag', width, height, viewBox: `0 0 ${width} ${height}`, role: 'group',
    'aria-label': `DAG of ${dag.steps.length} steps` },
  h('svg:defs', {}, h('svg:marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 4, refY: 5, markerWidth: 8,
    markerHeight: 8, orient: 'auto-start-reverse' }, h('svg:path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }))),
  edges, boxes);
}

function dagView(main, id) {
  const body = h('div', { id: 'dag-detail', 'data-dag-id': id });
  append(main, h('p', {}, h('a', { href: '#/dags' }, '← DAGs')), h('h1', {}, 'DAG ', h('span', { class: 'mono' }, id)), body);
  let dag = null, error = null, loading = false, again = false;
  // changes arrive as small notices (which node, which status); the full view (timings, critical path) is re-read,
  // at most one request at a time
  const load = () => {
    if (loading) { again = true; return; }
    loading = true;
    api(`/api/dag/${encodeURIComponent(id)}`).then(d => {
      dag = d; error = null;
      rememberDag(id, { name: d.name, status: d.status, completed: d.completed, total: d.total });
    }, e => { error = e; }).finally(() => {
      loading = false;
      invalidate();
      if (again) { again = false; load(); }
    });
  };
  load();
  return {
    onDag(c) { if (c.dagId === id) load(); },
    update() {
      if (error) { fill(body, errorBox(error)); return; }
      if (!dag) { fill(body, h('p', { class: 'muted' }, 'Loading…')); return; }
      body.dataset.status = dag.status;
      fill(body,
        h('div', { class: 'row' }, badge(dag.status), ` ${dag.completed} of ${dag.total} done · ${dag.running} running · ${dag.failed} failed`,
          ENDED.has(dag.status) ? null : h('button', { type: 'button', class: 'danger', onclick: () => {
            if (confirm(`Cancel DAG ${id}?`)) act('Cancel DAG', async () => { await api(`/api/dag/${encodeURIComponent(id)}`, { method: 'DELETE' }); load(); });
          } }, 'Cancel DAG')),
        section('Graph', h('div', { class: 'dag-wrap' }, dagGraph(dag)),
          h('p', { class: 'legend small' }, ['Pending', 'Running', 'Completed', 'Failed', 'Skipped', 'Cancelled']
            .map(s => h('span', { class: `key d-${s}` }, s)), h('span', { class: 'key critical' }, 'critical path'))),
        section('Summary', h('dl', { class: 'facts' },
          field('Name', dag.name), field('Failure policy', dag.failurePolicy), field('Max parallel', dag.maxParallel ? String(dag.maxParallel) : 'no limit'),
          field('Submitted', fmtDateTime(dag.submittedAt)), field('Ended', fmtDateTime(dag.completedAt)),
          field('Duration', fmtDur(dag.durationMs)),
          field('Critical path', (dag.criticalPath || []).length ? `${dag.criticalPath.join(' → ')} (${fmtDur(dag.criticalPathMs)})` : null))),
        dag.error ? section('Error', h('pre', { class: 'error' }, dag.error)) : null,
        dag.result !== null && dag.result !== undefined ? section('Result', h('pre', { id: 'dag-result' }, pretty(dag.result))) : null,
        section('Nodes', h('table', { class: 'grid' },
          h('thead', {}, h('tr', {}, ['Node', 'Status', 'Task', 'Depends on', 'Started', 'Took'].map(c => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, dag.steps.map(n => h('tr', {},
            h('th', { scope: 'row' }, n.id), h('td', {}, badge(n.status)),
            h('td', {}, n.taskId ? h('a', { href: `#/tasks/${encodeURIComponent(n.taskId)}`, class: 'mono' }, shortId(n.taskId)) : '–'),
            h('td', {}, (n.dependencies || []).join(', ') || '–'), h('td', {}, fmtTime(n.startedAt)), h('td', {}, fmtDur(n.durationMs))))))));
    },
  };
}

// ---- fraud evidence

function fraudView(main) {
  const body = h('div', { class: 'table-wrap' });
  const nodeInput = h('input', { id: 'fraud-node', type: 'text' });
  append(main, h('h1', {}, 'Fraud evidence'),
    h('form', { class: 'filters', onsubmit: e => { e.preventDefault(); load(); } },
      h('label', { for: 'fraud-node' }, 'Faulty node ', nodeInput), h('button', { type: 'submit' }, 'Refresh')),
    body);
  let records = null, error = null;
  function load() {
    const q = nodeInput.value.trim();
    api('/api/fraud?limit=200' + (q ? '&nodeId=' + encodeURIComponent(q) : ''))
      .then(r => { records = r; error = null; }, e => { error = e; }).finally(invalidate);
  }
  load();
  return {
    update() {
      if (error) { fill(body, errorBox(error)); return; }
      if (!records) { fill(body, h('p', { class: 'muted' }, 'Loading…')); return; }
      if (!records.length) { fill(body, h('p', { class: 'muted' }, 'No fraud evidence: every verified task\'s replicas agreed.')); return; }
      fill(body, h('table', { class: 'grid', id: 'fraud' },
        h('thead', {}, h('tr', {}, ['Record', 'Runtime', 'Faulty nodes', 'Replicas', 'Agreed', 'Recorded', 'Expires'].map(c => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, records.map(r => h('tr', {},
          h('td', {}, h('a', { href: `#/fraud/${encodeURIComponent(r.id)}`, class: 'mono' }, shortId(r.id))),
          h('td', {}, r.runtime || ''),
          h('td', {}, (r.faultyNodes || []).map(n => h('span', { class: 'flag bad' }, n))),
          h('td', { class: 'num' }, String((r.replicas || []).length)),
          h('td', {}, r.agreedKey ? 'yes' : 'no quorum'),
          h('td', {}, fmtDateTime(r.createdAt)),
          h('td', {}, fmtDateTime(r.expiresAt)))))));
    },
  };
}

function fraudRecordView(main, id) {
  const body = h('div');
  append(main, h('p', {}, h('a', { href: '#/fraud' }, '← Fraud evidence')), h('h1', {}, 'Evidence ', h('span', { class: 'mono' }, id)), body);
  let r = null, error = null;
  api(`/api/fraud/${encodeURIComponent(id)}`).then(x => { r = x; }, e => { error = e; }).finally(invalidate);
  return {
    update() {
      if (error) { fill(body, errorBox(error)); return; }
      if (!r) { fill(body, h('p', { class: 'muted' }, 'Loading…')); return; }
      fill(body,
        section('Record', h('dl', { class: 'facts' },
          field('Task', h('a', { href: `#/tasks/${encodeURIComponent(r.taskId)}`, class: 'mono' }, r.taskId)),
          field('Runtime', r.runtime), field('Code hash', h('span', { class: 'mono' }, r.codeHash || '–')),
          field('Agreed outcome', r.agreedKey ? h('span', { class: 'mono' }, r.agreedKey) : 'no quorum'),
          field('Faulty nodes', (r.faultyNodes || []).join(', ')),
          field('Recorded', fmtDateTime(r.createdAt)), field('Expires', fmtDateTime(r.expiresAt)))),
        section('Replicas', h('table', { class: 'grid' },
          h('thead', {}, h('tr', {}, ['Node', 'Job', 'Verdict', 'Outcome', 'Result', 'Error', 'Started', 'Took'].map(c => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, (r.replicas || []).map(x => h('tr', {},
            h('th', { scope: 'row' }, x.nodeId), h('td', { class: 'num' }, String(x.job)),
            h('td', {}, h('span', { class: x.agreed ? 'flag good' : 'flag bad' }, x.agreed ? 'agreed' : 'disagreed')),
            h('td', { class: 'mono' }, (x.outcomeKey || '').slice(0, 16)),
            h('td', {}, h('pre', { class: 'inline' }, x.result === null || x.result === undefined ? '' : String(x.result).slice(0, 500))),
            h('td', {}, x.error || ''), h('td', {}, fmtTime(x.startedAt)), h('td', {}, fmtDur(x.durationMs))))))));
    },
  };
}

// ---- apps

const appUrl = a => `/apps/${encodeURIComponent(a.clusterId)}/`;
const health = v => h('span', { class: 'flag ' + ({ healthy: 'good', unhealthy: 'bad' }[v] || '') }, v || 'unknown');
const limitsText = l => l ? `${l.ramMb} MB · ${l.cpu} CPU` : '–';
const enforced = l => l ? `memory: ${l.memory || '–'}; CPU: ${l.cpuEnforcement || '–'}` : '';

/** Stop, start, restart or delete; the answer (the app's view) is shown at once, the feed brings what follows. */
function appAction(a, op, after) {
  return h('button', { type: 'button', class: op === 'delete' ? 'small danger' : 'small', 'data-op': op,
    'aria-label': `${op} app ${a.name}`, onclick: () => {
      if ((op === 'delete' || op === 'stop') && !confirm(`${op} app ${a.name}?`)) return;
      act(`${op} ${a.name}`, async () => {
        const id = encodeURIComponent(a.clusterId);
        if (op === 'delete') {
          await api(`/api/clusters/${id}`, { method: 'DELETE' });
          state.apps.delete(a.clusterId);
        } else {
          upsertApp(await api(`/api/clusters/${id}/${op}`, { method: 'POST' }));
        }
        if (after) after(op);
        invalidate();
      });
    } }, op);
}

const appActions = (a, after) => [a.desiredRunning ? appAction(a, 'stop', after) : appAction(a, 'start', after),
  appAction(a, 'restart', after), appAction(a, 'delete', after)];

function appsView(main) {
  const table = h('div', { class: 'table-wrap' });
  append(main, h('h1', {}, 'Apps'), table);
  let error = null;
  loadApps().catch(e => { error = e; invalidate(); });
  return {
    update() {
      if (error && !state.appsLoaded) { fill(table, errorBox(error)); return; }
      if (!state.appsLoaded) { fill(table, h('p', { class: 'muted' }, 'Loading…')); return; }
      const apps = [...state.apps.values()].sort((a, b) => (b.createdAt || 0) - (a.createdAt || 0));
      if (!apps.length) {
        fill(table, h('p', { class: 'muted' }, 'No apps. Deploy one from Submit (POST /api/clusters).'));
        return;
      }
      fill(table, h('table', { class: 'grid', id: 'apps' },
        h('thead', {}, h('tr', {}, ['App', 'Status', 'Health', 'Node', 'Port / URL', 'Restarts', 'Limits', 'Actions']
          .map(c => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, apps.map(a => h('tr', { 'data-app-id': a.clusterId, 'data-status': a.status, 'data-health': a.health },
          h('td', {}, h('a', { href: `#/apps/${encodeURIComponent(a.clusterId)}` }, a.name || shortId(a.clusterId))),
          h('td', {}, badge(a.status)),
          h('td', {}, health(a.health)),
          h('td', {}, a.nodeId || '–'),
          h('td', {}, a.port ? `${a.port} ` : '', h('a', { href: appUrl(a), target: '_blank', rel: 'noopener' }, shortId(appUrl(a)))),
          h('td', { class: 'num' }, String(a.restarts ?? 0)),
          h('td', {}, limitsText(a.limits), h('div', { class: 'muted small' }, enforced(a.limits))),
          h('td', {}, appActions(a)))))));
    },
  };
}

function appView(main, id) {
  const body = h('div', { id: 'app-detail', 'data-app-id': id });
  const logs = h('pre', { class: 'logs', id: 'app-logs' }, '(nothing printed)');
  const title = h('span', {}, 'App');
  append(main, h('p', {}, h('a', { href: '#/apps' }, '← Apps')), h('h1', {}, title, ' ', h('span', { class: 'mono small' }, id)),
    body, section('Logs (live)', logs));
  let app = state.apps.get(id), error = null;
  api(`/api/clusters/${encodeURIComponent(id)}`).then(a => { upsertApp(a); app = state.apps.get(id); invalidate(); },
    e => { error = e; invalidate(); });
  // the log stream replays its last 200 lines on every (re)connection, so the pane starts over at each open
  let lines = [];
  const es = new EventSource(`/api/clusters/${encodeURIComponent(id)}/logs/events?limit=200`);
  es.onopen = () => { lines = []; };
  es.addEventListener('line', e => {
    lines.push(e.data);
    if (lines.length > 500) lines.splice(0, lines.length - 500);
    logs.textContent = lines.join('\n');
  });
  return {
    unmount() { es.close(); },
    onApp(a, name) { if (a.clusterId === id) { if (name === 'AppDeleted') location.hash = '#/apps'; else app = state.apps.get(id); } },
    update() {
      if (error && !app) { fill(body, errorBox(error)); return; }
      if (!app) { fill(body, h('p', { class: 'muted' }, 'Loading…')); return; }
      const a = app, l = a.limits;
      body.dataset.status = a.status;
      title.textContent = a.name || 'App';
      fill(body,
        h('div', { class: 'row' }, badge(a.status), health(a.health),
          appActions(a, op => { if (op === 'delete') location.hash = '#/apps'; else app = state.apps.get(id); })),
        a.message ? h('p', { class: 'muted' }, a.message) : null,
        section('Summary', h('dl', { class: 'facts' },
          field('Name', a.name), field('Type', a.type), field('Node', a.nodeId),
          field('URL', h('a', { href: appUrl(a), target: '_blank', rel: 'noopener' }, appUrl(a))),
          field('Port', a.port ? String(a.port) + (a.port !== a.requestedPort ? ` (asked for ${a.requestedPort})` : '') : null),
          field('Port note', a.portNote), field('Health check', a.healthPath), field('PID', a.pid ? String(a.pid) : null),
          field('Restarts', String(a.restarts ?? 0)), field('Last exit code', a.lastExitCode ?? null),
          field('Incarnation', String(a.incarnation)), field('Created', fmtDateTime(a.createdAt)),
          field('Started', fmtDateTime(a.startedAt)), field('Stopped', a.stoppedAt ? fmtDateTime(a.stoppedAt) : null),
          field('Limits', limitsText(l)), field('Memory limit', l && l.memory), field('CPU limit', l && l.cpuEnforcement),
          a.retiring ? field('Still serving on', `${a.retiring.nodeId} (port ${a.retiring.port})`) : null)),
        section('History', h('ol', { class: 'timeline' }, (a.history || []).map(e => h('li', {},
          h('time', {}, fmtTime(e.at)), ' ', h('strong', {}, e.event),
          e.nodeId ? ` · ${e.nodeId}` : '', e.detail ? ` · ${e.detail}` : '')))));
    },
  };
}

// ---- submit

const TEMPLATES = {
  task: { name: 'hello', type: 'script',
    payload: { runtime: 'js', sourceCode: 'console.log("adding", input.a, input.b);\ninput.a + input.b' },
    input: { a: 20, b: 22 }, timeoutMs: 30000, retries: { attempts: 3, backoffMs: 2000 }, priority: 0 },
  verified: { name: 'verified sum', type: 'script', payload: { runtime: 'js', sourceCode: 'input.n * 2' },
    input: { n: 21 }, verification: { replicas: 2, quorum: 2 } },
  dag: { name: 'diamond', failurePolicy: 'failFast', input: { n: 5 }, tasks: [
    { id: 'start', payload: { runtime: 'js', sourceCode: 'input.n' } },
    { id: 'double', dependencies: ['start'], payload: { runtime: 'js', sourceCode: 'input.start * 2' } },
    { id: 'square', dependencies: ['start'], payload: { runtime: 'js', sourceCode: 'input.start * input.start' } },
    { id: 'sum', dependencies: ['double', 'square'], payload: { runtime: 'js', sourceCode: 'input.double + input.square' } },
  ] },
  app: { name: 'My Web App', type: 'Web', config: { port: 8080, ram: '2048MB', cpu: 2 } },
};

let draft = JSON.stringify(TEMPLATES.task, null, 2);

function submitView(main) {
  const editor = h('textarea', { id: 'editor', rows: 22, spellcheck: false, autocomplete: 'off', 'aria-describedby': 'editor-help',
    oninput: e => { draft = e.target.value; check(); } });
  editor.value = draft;
  const problem = h('p', { id: 'editor-problem', class: 'error', role: 'alert' });
  function check() {
    try {
      JSON.parse(editor.value);
      problem.textContent = '';
      return true;
    } catch (e) {
      problem.textContent = 'Not valid JSON: ' + e.message;
      return false;
    }
  }
  const useTemplate = k => { editor.value = draft = JSON.stringify(TEMPLATES[k], null, 2); check(); editor.focus(); };
  async function send(kind) {
    if (!check()) return;
    const path = { dag: '/api/dag/schedule', app: '/api/clusters' }[kind] || '/api/tasks';
    try {
      const r = await api(path, { method: 'POST', body: editor.value });
      if (kind === 'app') {
        upsertApp(r);
        location.hash = `#/apps/${encodeURIComponent(r.clusterId)}`;
      } else if (kind === 'dag') {
        rememberDag(r.dagId, { status: r.status, name: JSON.parse(editor.value).name });
        location.hash = `#/dags/${encodeURIComponent(r.dagId)}`;
      } else {
        toast(`Task ${r.taskId} submitted`);
        location.hash = `#/tasks/${encodeURIComponent(r.taskId)}`;
      }
    } catch (e) {
      problem.textContent = (e.body && e.body.field ? `${e.body.field}: ` : '') + e.message;
    }
  }
  append(main, h('h1', {}, 'Submit'),
    section('Task, DAG or app as JSON',
      h('div', { class: 'row' }, 'Start from: ',
        h('button', { type: 'button', onclick: () => useTemplate('task') }, 'JS task'),
        h('button', { type: 'button', onclick: () => useTemplate('verified') }, 'Verified task'),
        h('button', { type: 'button', onclick: () => useTemplate('dag') }, 'DAG'),
        h('button', { type: 'button', onclick: () => useTemplate('app') }, 'Web app')),
      h('label', { for: 'editor' }, 'Request body'),
      editor,
      h('p', { id: 'editor-help', class: 'muted small' }, 'A task body goes to POST /api/tasks, a DAG ({"tasks":[{"id",…,"dependencies"}]}) to POST /api/dag/schedule, a web app ({"name","type":"Web","config":{"port","ram","cpu"}}) to POST /api/clusters. Ctrl+Enter sends it (as a DAG when it has "tasks", as an app when it has "config").'),
      problem,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'primary', id: 'submit-task', onclick: () => send('task') }, 'Submit task'),
        h('button', { type: 'button', id: 'submit-dag', onclick: () => send('dag') }, 'Schedule DAG'),
        h('button', { type: 'button', id: 'submit-app', onclick: () => send('app') }, 'Deploy app'))));
  editor.addEventListener('keydown', e => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      const b = JSON.parse(editor.value || '{}');
      send(b.tasks ? 'dag' : b.config || b.command ? 'app' : 'task');
    }
  });
  return {};
}

// ------------------------------------------------------------------ start

let started = false;

async function start() {
  try {
    await pollNodes();
  } catch (e) {
    if (e.status === 401) return; // the sign-in dialog is up; start() runs again after it
    if (e.status === 403) setBanner('role', `This token cannot read the cluster: ${e.message}`);
  }
  signedIn = true;
  $('#signout').hidden = false;
  openFeed();
  loadTasks().catch(() => {});
  if (!started) {
    started = true;
    window.addEventListener('hashchange', route);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
  }
  poll();
  route();
}

async function boot() {
  setupSignIn();
  loadRememberedDags();
  setLive('idle');
  await tokenFromAddress();
  await start();
}

boot();
