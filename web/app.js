// The DuctStream status page: plain JS, no build step. Polls the server's JSON API every
// REFRESH_MS and redraws. The list page shows every flow; the flow page one flow with its
// lag chart (sampled by the server), per-table rows, runs and steps.
'use strict';

const REFRESH_MS = 2000;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c === null || c === undefined ? '' : String(c)));
  return e;
}

function bytes(n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return (u === 0 ? n : n.toFixed(1)) + ' ' + units[u];
}

function stateOf(f) {
  return f.state === 'running' && f.reason.startsWith('retrying:') ? 'retrying' : f.state;
}

async function getJson(path) {
  const r = await fetch(path, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function showError(e) {
  document.getElementById('error').textContent = e ? String(e.message || e) : '';
}

function refreshed() {
  document.getElementById('refreshed').textContent = 'updated ' + new Date().toLocaleTimeString();
}

async function renderList() {
  const data = await getJson('/api/flows');
  const body = document.querySelector('#flows tbody');
  body.replaceChildren(
    ...data.flows.map((f) => {
      const st = stateOf(f);
      return el(
        'tr',
        { 'data-flow': f.flow_id },
        el('td', {}, el('a', { href: '/flow?id=' + encodeURIComponent(f.flow_id) }, f.flow_id)),
        el('td', { class: 'state state-' + st, 'data-field': 'state', title: f.reason }, st),
        el('td', { class: 'num', 'data-field': 'lag_bytes', 'data-value': f.lag_bytes }, bytes(f.lag_bytes)),
        el('td', { class: 'num', 'data-field': 'lag_seconds' }, f.lag_seconds),
        el('td', { class: 'num', 'data-field': 'rows_per_second' }, f.rows_per_second),
        el('td', { class: 'num', 'data-field': 'rows_total' }, f.rows_total),
        el('td', { 'data-field': 'last_error' }, f.last_error),
        el('td', { 'data-field': 'alarms' }, f.alarms.map((a) => a.kind).join(', ')),
      );
    }),
  );
}

function drawChart(points) {
  const svg = document.getElementById('lag-chart');
  const w = 720,
    h = 160,
    now = Date.now(),
    from = now - 3600 * 1000;
  const max = Math.max(1, ...points.map((p) => p[1]));
  const xy = points.map((p) => [((p[0] - from) / (now - from)) * w, h - 4 - (p[1] / max) * (h - 8)]);
  const ns = 'http://www.w3.org/2000/svg';
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', xy.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#0969da');
  line.setAttribute('stroke-width', '1.5');
  svg.replaceChildren(line);
  svg.setAttribute('data-points', String(points.length));
  document.getElementById('lag-max').textContent = bytes(max);
}

async function renderFlow() {
  const id = new URLSearchParams(location.search).get('id');
  const f = await getJson('/api/flows/' + encodeURIComponent(id));
  const st = stateOf(f);
  document.title = 'DuctStream: ' + f.flow_id;
  document.getElementById('title').textContent = f.flow_id + (f.name && f.name !== f.flow_id ? ' (' + f.name + ')' : '');
  document.getElementById('alarms').replaceChildren(...f.alarms.map((a) => el('div', { class: 'alarm', 'data-alarm': a.kind }, a.message)));
  const fields = [
    ['state', st],
    ['reason', f.reason],
    ['checkpoint LSN', f.checkpoint_lsn],
    ['confirmed flush LSN', f.confirmed_flush_lsn],
    ['received LSN', f.received_lsn],
    ['current WAL LSN', f.current_wal_lsn],
    ['lag', bytes(f.lag_bytes)],
    ['lag (s)', f.lag_seconds],
    ['retained WAL', bytes(f.retained_wal_bytes)],
    ['wal_status', f.wal_status],
    ['safe_wal_size', f.safe_wal_size === null ? 'unlimited' : bytes(f.safe_wal_size)],
    ['rows', f.rows_total],
    ['rows/s', f.rows_per_second],
    ['retries', f.retries],
    ['last error', f.last_error],
    ['hint', f.last_error_hint],
    ['heartbeat LSN', f.heartbeat_lsn],
    ['active run', f.active_run_id],
    ['slot', f.slot + (f.slot_error ? ' (' + f.slot_error + ')' : '')],
  ];
  const dl = document.getElementById('status');
  dl.replaceChildren(
    ...fields.flatMap(([k, v]) => [
      el('dt', {}, k),
      el('dd', { 'data-field': k.replace(/[^a-z]+/gi, '_').toLowerCase(), class: k === 'state' ? 'state-' + st : '' }, v),
    ]),
  );
  document
    .querySelector('#tables tbody')
    .replaceChildren(
      ...f.rows.map((r) =>
        el('tr', {}, el('td', {}, r.table), el('td', {}, r.op), el('td', { class: 'num' }, r.rows), el('td', { class: 'num' }, r.rows_per_second)),
      ),
    );
  document
    .getElementById('runs')
    .replaceChildren(
      ...f.runs.map((r) =>
        el(
          'details',
          { open: '' },
          el('summary', {}, r.run_id + ' ' + r.status + ' ' + (r.created_at || '') + (r.error ? ' ' + r.error : '')),
          el('ol', {}, ...r.steps.map((s) => el('li', {}, '#' + s.function_id + ' ' + s.name + (s.error ? ' error: ' + s.error : '')))),
        ),
      ),
    );
  drawChart(f.lag_history);
}

async function tick() {
  try {
    if (document.body.dataset.page === 'flow') await renderFlow();
    else await renderList();
    refreshed();
    showError(null);
  } catch (e) {
    showError(e);
  }
  setTimeout(tick, REFRESH_MS);
}

tick();
