// The operator console: plain DOM, no build step. Every call carries the admin token in the
// Authorization header; the token lives in sessionStorage (this tab only).
const $ = (selector, root = document) => root.querySelector(selector);
const TOKEN_KEY = 'vigil.console.token';
let token = sessionStorage.getItem(TOKEN_KEY);
let current; // the account on screen
let watching; // AbortController of the live trust stream

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = res.status === 204 ? {} : await res.json();
  if (!res.ok)
    throw Object.assign(new Error(answer.error?.message ?? `HTTP ${res.status}`), {
      code: answer.error?.code,
      status: res.status,
    });
  return answer;
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  return td;
}

function button(label, testid, onClick) {
  const b = document.createElement('button');
  b.textContent = label;
  b.dataset.testid = testid;
  b.addEventListener('click', onClick);
  return b;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
const nameOf = (a) => a.username ?? a.email ?? a.phone ?? a.id;

function show(view) {
  for (const section of document.querySelectorAll('main > section')) section.hidden = section.id !== view;
  for (const b of document.querySelectorAll('nav [data-view]')) b.classList.toggle('active', b.dataset.view === view);
  if (view === 'approvals') void loadApprovals();
  if (view === 'audit') void loadAudit();
}

async function signIn(candidate) {
  token = candidate;
  try {
    await api('GET', '/v1/admin/accounts?limit=1');
  } catch (err) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $('[data-testid=sign-in-error]').textContent = err.message;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('#sign-in').hidden = true;
  $('nav').hidden = false;
  show('approvals');
}

async function loadApprovals() {
  const { accounts } = await api('GET', '/v1/admin/accounts?status=pending&limit=200');
  const body = $('[data-testid=approvals] tbody');
  body.replaceChildren();
  $('#approvals .empty').hidden = accounts.length > 0;
  for (const account of accounts) {
    const tr = document.createElement('tr');
    tr.dataset.account = account.id;
    const actions = document.createElement('td');
    actions.append(
      button('Approve', 'approve', async () => {
        await api('POST', `/v1/admin/accounts/${account.id}/approve`);
        await loadApprovals();
      }),
      button('Reject', 'reject', async () => {
        await api('POST', `/v1/admin/accounts/${account.id}/reject`, {});
        await loadApprovals();
      }),
    );
    tr.append(cell(account.number), cell(nameOf(account)), cell(when(account.createdAt)), actions);
    body.append(tr);
  }
}

async function openAccount(identifier) {
  $('[data-testid=lookup-error]').textContent = '';
  try {
    current = await api('GET', `/v1/admin/accounts/lookup?identifier=${encodeURIComponent(identifier)}`);
  } catch (err) {
    $('[data-testid=lookup-error]').textContent = err.message;
    return;
  }
  $('#account').hidden = false;
  $('[data-testid=account-title]').textContent = `#${current.number} ${nameOf(current)} (${current.id})`;
  $('[data-testid=account-status]').textContent = current.status;
  await Promise.all([loadSessions(), loadModels()]);
  watchTrust(current.id);
}

async function loadSessions() {
  const { sessions } = await api('GET', `/v1/admin/accounts/${current.id}/sessions`);
  const body = $('[data-testid=sessions] tbody');
  body.replaceChildren();
  for (const session of sessions) {
    const tr = document.createElement('tr');
    tr.dataset.session = session.id;
    const live = cell(lastPoint.has(session.id) ? 'streaming' : '');
    live.dataset.testid = 'live';
    const actions = document.createElement('td');
    actions.append(
      button('Revoke', 'revoke', async () => {
        await api('DELETE', `/v1/admin/accounts/${current.id}/sessions/${session.id}`);
        await loadSessions();
      }),
    );
    tr.append(
      cell(session.id.slice(0, 8)),
      cell(session.kind),
      cell(when(session.createdAt)),
      cell(when(session.lastSeenAt)),
      cell(session.ip),
      live,
      actions,
    );
    body.append(tr);
  }
}

async function loadModels() {
  try {
    const model = await api('GET', `/v1/admin/accounts/${current.id}/biometrics`);
    $('[data-testid=models]').textContent = $('[data-testid=models]').textContent =
      `Latest version ${model.version} (${model.detector}, ${model.featureSpec?.modality ?? 'feature rows'}, trained ${when(model.createdAt)}); versions: ${model.versions.join(', ')}`;
  } catch (err) {
    $('[data-testid=models]').textContent = err.code === 'BIOMETRIC_MODEL_MISSING' ? 'No model yet.' : err.message;
  }
}

// ── live trust: one polyline per (session, stream), the last 120 windows ──
const series = new Map();
const lastPoint = new Map();
const COLORS = ['#1570ef', '#7a5af8', '#ee46bc', '#0e9384', '#f79009'];

function draw() {
  const svg = $('[data-testid=trust-chart]');
  for (const line of svg.querySelectorAll('polyline')) line.remove();
  let i = 0;
  const legend = $('[data-testid=trust-legend]');
  legend.replaceChildren();
  for (const [key, points] of series) {
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('stroke', COLORS[i++ % COLORS.length]);
    line.dataset.series = key;
    line.setAttribute(
      'points',
      points.map((p, x) => `${(x / 119) * 600},${80 - Math.max(-8, Math.min(8, p.trust)) * 10}`).join(' '),
    );
    svg.append(line);
    const last = points[points.length - 1];
    const span = document.createElement('span');
    span.className = last.decision;
    span.textContent = `${key}: ${last.decision} (trust ${last.trust.toFixed(2)}, ${points.length} windows)`;
    legend.append(span);
  }
  if (series.size === 0) legend.textContent = 'Waiting for verdicts…';
}

async function watchTrust(userId) {
  watching?.abort();
  series.clear();
  lastPoint.clear();
  draw();
  const controller = (watching = new AbortController());
  try {
    const res = await fetch(`/v1/admin/accounts/${userId}/trust`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    if (!res.ok || !res.body) {
      const answer = await res.json().catch(() => ({}));
      $('[data-testid=trust-legend]').textContent = `Live trust unavailable: ${answer.error?.message ?? `HTTP ${res.status}`}`;
      return;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += value;
      let end;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = event.split('\n').find((line) => line.startsWith('data: '));
        if (!data) continue;
        const point = JSON.parse(data.slice(6));
        const key = `${point.sessionId.slice(0, 8)}/${point.stream}`;
        const points = series.get(key) ?? [];
        points.push(point);
        if (points.length > 120) points.shift();
        series.set(key, points);
        const known = lastPoint.has(point.sessionId);
        lastPoint.set(point.sessionId, point);
        if (!known) void loadSessions();
        draw();
      }
    }
  } catch (err) {
    if (err.name !== 'AbortError') $('[data-testid=trust-legend]').textContent = `Live trust stopped: ${err.message}`;
  }
}

async function loadAudit(filter = {}) {
  const query = new URLSearchParams({ limit: '100' });
  for (const [key, value] of Object.entries(filter)) if (value) query.set(key, value);
  const { events } = await api('GET', `/v1/admin/audit?${query}`);
  const body = $('[data-testid=audit] tbody');
  body.replaceChildren();
  for (const e of events) {
    const tr = document.createElement('tr');
    tr.append(
      cell(when(e.at)),
      cell(e.event),
      cell(e.outcome),
      cell(e.userId),
      cell(e.ip),
      cell(e.detail ? JSON.stringify(e.detail) : ''),
    );
    body.append(tr);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('#sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn(new FormData(event.target).get('token'));
  });
  for (const b of document.querySelectorAll('nav [data-view]')) b.addEventListener('click', () => show(b.dataset.view));
  $('[data-action=sign-out]').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  $('#lookup').addEventListener('submit', (event) => {
    event.preventDefault();
    void openAccount(new FormData(event.target).get('identifier'));
  });
  $('[data-testid=account-approve]').addEventListener('click', async () => {
    current = await api('POST', `/v1/admin/accounts/${current.id}/approve`);
    $('[data-testid=account-status]').textContent = current.status;
  });
  $('[data-testid=account-reject]').addEventListener('click', async () => {
    current = await api('POST', `/v1/admin/accounts/${current.id}/reject`, {});
    $('[data-testid=account-status]').textContent = current.status;
    await loadSessions();
  });
  $('#audit-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    void loadAudit(Object.fromEntries(new FormData(event.target)));
  });
  $('[data-action=rotate]').addEventListener('click', async () => {
    $('[data-testid=rotate-result]').textContent = JSON.stringify(await api('POST', '/v1/admin/keys/rotate'), null, 2);
  });
  if (token) void signIn(token);
});
