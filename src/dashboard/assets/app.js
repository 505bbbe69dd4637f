// The dashboard's browser code. Everything about entities arrives as JSON and is put on the page
// only as text (textContent, createElement): an id or an event holding HTML shows as those
// characters and never runs. No library and no build step: the package ships this file as it is.

const ACTION_HEADER = { 'X-Pachyderm-Action': 'confirm' };

/** `el('td', { className: 'x' }, 'text', child)`: an element with properties and text or element children. */
function el(tag, properties = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(properties)) element[name] = value;
  for (const child of children) element.append(child instanceof Node ? child : String(child));
  return element;
}

const byId = (id) => document.getElementById(id);

/** A value as indented JSON, for a <pre>. */
function json(value) {
  return value === undefined ? '(none)' : JSON.stringify(value, null, 2);
}

function time(ms) {
  if (ms === null || ms === undefined) return '';
  const seconds = Math.round((ms - Date.now()) / 1000);
  const when = new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  if (Math.abs(seconds) < 1) return `${when} (now)`;
  const span = duration(Math.abs(seconds) * 1000);
  return seconds > 0 ? `${when} (in ${span})` : `${when} (${span} ago)`;
}

function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

function notice(text, kind = 'info') {
  const element = byId('notice');
  element.textContent = text;
  element.className = `notice ${kind}`;
  element.hidden = text === '';
}

/** GET or POST a JSON route; a lost session goes back to the login page. */
async function api(path, options = {}) {
  const response = await fetch(path, { credentials: 'same-origin', ...options });
  if (response.status === 401) {
    location.assign('login');
    throw new Error('Not logged in');
  }
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(body.error?.message ?? response.statusText);
    error.code = body.error?.code;
    throw error;
  }
  return body;
}

function action(path, body) {
  return api(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...ACTION_HEADER },
    body: JSON.stringify(body),
  });
}

function refQuery(ref, extra = {}) {
  return new URLSearchParams({ type: ref.type, id: ref.id, ...extra }).toString();
}

function fillTable(table, rows, emptyNotice) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
  table.hidden = rows.length === 0;
  byId(emptyNotice).hidden = rows.length !== 0;
}

const cell = (...children) => el('td', {}, ...children);
const code = (value) => el('code', {}, value);
const pre = (value) => el('pre', { className: 'json small' }, json(value));
/** A value as JSON on one line (wrapped): events and payloads, in lists and tables. */
const line = (value) =>
  el('pre', { className: 'json small line' }, value === undefined ? '(none)' : JSON.stringify(value));
const refText = (ref) => `${ref.type} ${JSON.stringify(ref.id)}`;

// ---- Entities ---------------------------------------------------------------------------------

/** The open entity page: its ref, what is loaded of its history, and its live stream. */
const entity = { ref: null, version: 0, history: [], oldest: null, stream: null, asked: 0 };

async function showEntities(overview) {
  byId('view-entities').hidden = false;
  const select = byId('type');
  select.replaceChildren(...overview.entityTypes.map((type) => el('option', { value: type }, type)));
  const params = new URLSearchParams(location.search);
  const type = params.get('type');
  const id = params.get('id');
  if (type !== null) select.value = type;
  if (id !== null) byId('id').value = id;
  if (type === null || id === null) return;
  entity.ref = { type, id };
  byId('version-slider').addEventListener('input', onSlide);
  byId('earlier').addEventListener('click', loadEarlier);
  try {
    await openEntity();
  } catch (error) {
    notice(`${error.code ?? 'ERROR'}: ${error.message}`, 'error');
  }
}

async function openEntity() {
  const summary = await api(`api/entity?${refQuery(entity.ref)}`);
  byId('entity').hidden = false;
  byId('entity-type').textContent = entity.ref.type;
  byId('entity-id').textContent = entity.ref.id;
  showSummary(summary);
  const slider = byId('version-slider');
  slider.max = String(summary.version);
  slider.value = String(summary.version);
  showStateAt(summary.version, summary.state);
  const page = await api(`api/entity/history?${refQuery(entity.ref, { from: Math.max(1, summary.version - 99) })}`);
  entity.history = page.events.filter((item) => item.version <= summary.version);
  entity.oldest = page.from;
  renderHistory();
  follow(summary.version + 1);
}

function showSummary(summary) {
  entity.version = summary.version;
  byId('entity-version').textContent = String(summary.version);
  byId('entity-owner').textContent = summary.owner
    ? `${summary.owner.name} (${summary.owner.address})`
    : 'not clustered';
  byId('state-now').textContent = json(summary.state);
  const rows = summary.outbox.map((row) =>
    el(
      'tr',
      {},
      cell(row.kind),
      cell(row.kind === 'effect' ? row.effect : refText(row.target)),
      cell(row.timer ? `timer${row.timerKey === undefined ? '' : ` key ${JSON.stringify(row.timerKey)}`}` : ''),
      cell(time(row.dueAt)),
      cell(row.status),
      cell(String(row.attempts)),
      cell(row.error ?? ''),
      cell(line(row.payload)),
    ),
  );
  fillTable(byId('entity-outbox'), rows, 'entity-outbox-empty');
}

function showStateAt(version, state) {
  byId('version-label').textContent = `${version} of ${entity.version}`;
  byId('state-at-version').textContent = String(version);
  byId('state-at').textContent = json(state);
  for (const item of byId('history').children)
    item.classList.toggle('selected', item.dataset.version === String(version));
}

let slideTimer;
function onSlide() {
  const version = Number(byId('version-slider').value);
  byId('version-label').textContent = `${version} of ${entity.version}`;
  clearTimeout(slideTimer);
  slideTimer = setTimeout(() => loadStateAt(version), 120);
}

async function loadStateAt(version) {
  const asked = ++entity.asked;
  try {
    const answer = await api(`api/entity/at?${refQuery(entity.ref, { version })}`);
    if (asked === entity.asked) showStateAt(answer.version, answer.state);
  } catch (error) {
    notice(`${error.code ?? 'ERROR'}: ${error.message}`, 'error');
  }
}

function selectVersion(item) {
  entity.asked++;
  byId('version-slider').value = String(item.version);
  showStateAt(item.version, item.state);
}

function renderHistory() {
  const items = [...entity.history].reverse().map((item) => {
    const pick = el('button', { type: 'button', className: 'version' }, `v${item.version}`);
    pick.addEventListener('click', () => selectVersion(item));
    const after = el('details', {}, el('summary', {}, 'state after'), pre(item.state));
    const li = el('li', {}, pick, el('time', {}, item.recordedAt), line(item.event), after);
    li.dataset.version = String(item.version);
    return li;
  });
  byId('history').replaceChildren(...items);
  byId('earlier').hidden = !(entity.oldest > 1);
  const selected = byId('version-slider').value;
  for (const item of byId('history').children) item.classList.toggle('selected', item.dataset.version === selected);
}

async function loadEarlier() {
  const from = Math.max(1, entity.oldest - 100);
  const page = await api(`api/entity/history?${refQuery(entity.ref, { from, limit: entity.oldest - from })}`);
  entity.history = [...page.events, ...entity.history];
  entity.oldest = from;
  renderHistory();
}

/** Live updates: each new event moves the page on, without a reload. */
function follow(from) {
  entity.stream?.close();
  const live = byId('entity-live');
  const stream = new EventSource(`api/entity/stream?${refQuery(entity.ref, { from })}`);
  entity.stream = stream;
  stream.onopen = () => {
    live.textContent = 'following new events';
  };
  stream.onerror = () => {
    live.textContent = stream.readyState === EventSource.CLOSED ? 'not following' : 'reconnecting…';
  };
  stream.addEventListener('failure', (message) => {
    const { error } = JSON.parse(message.data);
    notice(`Live updates stopped: ${error.code}: ${error.message}`, 'error');
  });
  stream.onmessage = (message) => onLiveEvent(JSON.parse(message.data));
  addEventListener('pagehide', () => stream.close());
}

let refreshTimer;
function onLiveEvent(item) {
  if (item.version <= entity.version) return;
  const slider = byId('version-slider');
  const wasAtEnd = Number(slider.value) === entity.version;
  entity.history.push(item);
  entity.version = item.version;
  byId('entity-version').textContent = String(item.version);
  byId('state-now').textContent = json(item.state);
  slider.max = String(item.version);
  if (wasAtEnd) {
    slider.value = String(item.version);
    showStateAt(item.version, item.state);
  } else {
    byId('version-label').textContent = `${slider.value} of ${entity.version}`;
  }
  renderHistory();
  // The outbox rows and timers change with the events: read them again, once for a burst.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    const summary = await api(`api/entity?${refQuery(entity.ref)}`);
    if (summary.version >= entity.version) showSummary(summary);
  }, 150);
}

// ---- Dead letters -----------------------------------------------------------------------------

async function showDeadLetters(overview) {
  byId('view-dead-letters').hidden = false;
  byId('refresh-dead-letters').addEventListener('click', () => loadDeadLetters(overview));
  await loadDeadLetters(overview);
}

async function loadDeadLetters(overview) {
  const { deadLetters } = await api('api/dead-letters');
  const rows = deadLetters.map((letter) => {
    const actions = cell();
    if (overview.actions) {
      const retry = el('button', { type: 'button' }, 'Retry');
      retry.addEventListener('click', () => retryDeadLetter(letter, overview));
      actions.append(retry);
    }
    return el(
      'tr',
      {},
      cell(code(letter.id)),
      cell(letter.kind),
      cell(letter.kind === 'effect' ? letter.effect : refText(letter.target)),
      cell(`${refText(letter.source)} at v${letter.source.version}`),
      cell(String(letter.attempts)),
      cell(el('span', { className: 'error' }, letter.error)),
      cell(line(letter.payload)),
      actions,
    );
  });
  fillTable(byId('dead-letters'), rows, 'dead-letters-empty');
}

async function retryDeadLetter(letter, overview) {
  if (!confirm(`Put dead letter ${letter.id} back in the outbox for a fresh round of attempts?`)) return;
  try {
    await action('api/dead-letters/retry', { id: letter.id });
    notice(`Dead letter ${letter.id} is back in the outbox.`);
  } catch (error) {
    notice(`${error.code ?? 'ERROR'}: ${error.message}`, 'error');
  }
  await loadDeadLetters(overview);
}

// ---- Projections ------------------------------------------------------------------------------

async function showProjections(overview) {
  byId('view-projections').hidden = false;
  byId('refresh-projections').addEventListener('click', () => loadProjections(overview));
  await loadProjections(overview);
}

async function loadProjections(overview) {
  const { projections } = await api('api/projections');
  const rows = projections.map((projection) => {
    const actions = cell();
    if (overview.actions && projection.mode === 'async') {
      const offered = [
        [
          'Rebuild',
          'api/projections/rebuild',
          'Rebuild %s from the start of the feed? A projection resets its tables; a reactor handles every event again.',
        ],
      ];
      if (projection.state === 'stopped' || projection.state === 'failed') {
        offered.push(['Resume', 'api/projections/resume', 'Resume %s at the event it stopped at (tried again)?']);
      }
      for (const [label, path, question] of offered) {
        const button = el('button', { type: 'button' }, label);
        button.addEventListener('click', async () => {
          if (!confirm(question.replace('%s', projection.name))) return;
          try {
            await action(path, { name: projection.name });
            notice(`${label}: ${projection.name} asked.`);
          } catch (error) {
            notice(`${error.code ?? 'ERROR'}: ${error.message}`, 'error');
          }
          await loadProjections(overview);
        });
        actions.append(button);
      }
    }
    return el(
      'tr',
      { className: `state-${projection.state}` },
      cell(projection.name),
      cell(projection.mode),
      cell(el('span', { className: 'badge' }, projection.state)),
      cell(code(projection.position || '(start)')),
      cell(code(projection.head || '(empty)')),
      cell(`${projection.lag.events} events`),
      cell(projection.lag.ms === 0 ? 'caught up' : duration(projection.lag.ms)),
      cell(el('span', { className: 'error' }, projection.lastError ?? '')),
      actions,
    );
  });
  fillTable(byId('projections'), rows, 'projections-empty');
}

// ---- Outbox and cluster -----------------------------------------------------------------------

async function showOutbox() {
  byId('view-outbox').hidden = false;
  byId('refresh-outbox').addEventListener('click', () => loadOutbox());
  await loadOutbox();
}

async function loadOutbox() {
  const overview = await api('api/overview');
  const { stats } = overview;
  const facts = [
    ['Waiting or in delivery', stats.depth],
    ['Oldest due', stats.oldestDueAt === null ? 'none' : time(stats.oldestDueAt)],
    ['Leased now', stats.inFlight],
    ['Retrying', stats.retrying],
    ['Dead letters', stats.deadLetters],
    ['Pending timers', stats.pendingTimers],
    ['Loaded entities (this process)', stats.activeEntities],
    [
      'Delivered / retried / dead-lettered (this process)',
      `${stats.delivered} / ${stats.retries} / ${stats.deadLettered}`,
    ],
    ['Version conflicts (this process)', stats.conflicts],
  ];
  if (stats.cluster) facts.push(['Partitions owned', stats.cluster.partitionsOwned]);
  byId('stats').replaceChildren(...facts.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, String(value))]));
  const rows = overview.members.map((member) =>
    el('tr', {}, cell(member.name), cell(member.address), cell(member.status), cell(member.self ? 'this node' : '')),
  );
  fillTable(byId('members'), rows, 'members-empty');
}

// ---- Start ------------------------------------------------------------------------------------

async function start() {
  if (document.body.dataset.page === 'login') {
    byId('login-failed').hidden = !new URLSearchParams(location.search).has('failed');
    // `login#token=...` (what `pachyderm dashboard` prints) logs in at once. The fragment never
    // reaches the server or its logs, and is dropped from the address before the form is sent.
    const given = new URLSearchParams(location.hash.slice(1)).get('token');
    if (given) {
      history.replaceState(null, '', location.pathname + location.search);
      byId('token').value = given;
      document.querySelector('form').submit();
    }
    return;
  }
  const page = location.pathname.split('/').pop() || 'entities';
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('current', link.dataset.page === page);
  try {
    const overview = await api('api/overview');
    byId('store-kind').textContent = overview.storeKind;
    if (page === 'dead-letters') await showDeadLetters(overview);
    else if (page === 'projections') await showProjections(overview);
    else if (page === 'outbox') await showOutbox();
    else await showEntities(overview);
  } catch (error) {
    notice(`${error.code ?? 'ERROR'}: ${error.message}`, 'error');
  }
  document.body.dataset.ready = 'true';
}

start();
