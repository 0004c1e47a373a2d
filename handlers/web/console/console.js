// The counter console: one centre's day, kept current with the `since` cursor and ETag; check-in
// by reference, by a pasted QR payload or by the camera (BarcodeDetector where the browser has
// it); call next per desk, recall, served, no-show; walk-ins and closed desks (tools.js); a link
// to the hall display. At a centre where the applicants' data stays home (`data_stays_in`, e.g.
// Hengqin for Macao residents) the list has no names and a typed reference does not check anyone
// in (409 qr_required): the clerk scans the signed QR and types the number of the identity
// document the person shows (the QR checks in whoever holds it; the API compares the number with
// the booking's document, and locks that check after 3 mismatches: then the clerk checks the
// person in after looking at the document, without a number). The
// counter token comes from the field or from #token= (wiped from the address) and lives in this
// tab only.

import { createApi } from '/ui/api.js';
import { busyButton, field, h, replace, select } from '/ui/dom.js';
import { LANGUAGES, LANGUAGE_NAMES, initialLanguage, rememberLanguage, translator } from '/ui/i18n.js';
import { localDate, timeIn } from '/ui/format.js';
import { STRINGS } from '/console/strings.js';
import { blocksPanel, walkInPanel } from '/console/tools.js';

const TOKEN_KEY = 'bya.counter.token';
const DESK_KEY = 'bya.counter.desk';
const POLL_MS = 5000;

const query = new URLSearchParams(location.search);
const state = { language: initialLanguage(query.get('lang')), token: takeToken(), centre: null, desk: null, day: null, items: new Map(), cursor: 0, etag: null, timer: null, generation: 0, polling: false, again: false };
const t = translator(STRINGS, () => state.language);
const api = createApi({
  token: () => state.token,
  language: () => state.language,
  texts: () => ({ network: t('error.network'), http: t('error.http') }),
  onUnauthorized: (error) => signOut(error),
});

function takeToken() {
  const handed = new URLSearchParams(location.hash.slice(1)).get('token');
  if (handed) {
    history.replaceState(null, '', location.pathname + location.search);
    sessionStorage.setItem(TOKEN_KEY, handed);
    return handed;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const root = h('main', { id: 'console', tabindex: '-1' });
const header = h('header', { class: 'bar' });

function drawHeader() {
  const language = select(LANGUAGES.map((l) => ({ value: l, label: LANGUAGE_NAMES[l] })), { value: state.language, id: 'language', 'aria-label': t('language') });
  language.addEventListener('change', () => {
    state.language = language.value;
    rememberLanguage(state.language);
    start();
  });
  replace(
    header,
    h('h1', {}, t('title'), state.centre ? h('span', { class: 'centre-name' }, ` · ${state.centre.name}`) : null),
    h('div', { class: 'bar-tools' }, language, state.token ? h('button', { type: 'button', class: 'link', onclick: () => signOut() }, t('sign_out')) : null),
  );
}

// `reason`: why the console was signed out (an error with the API's message and stable code),
// shown on the sign-in form.
function signOut(reason) {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.timer);
  start(reason);
}

function errorBox(error, retry) {
  const box = h('div', { class: 'error', role: 'alert', dataset: { code: error.code || 'error' } }, h('p', {}, error.message || t('error.unknown')), error.code ? h('small', { class: 'code' }, error.code) : null);
  if (retry) box.append(h('button', { type: 'button', onclick: retry }, t('retry')));
  return box;
}

const loading = (text) => h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text || t('loading'));

function signInForm(reason) {
  const token = h('input', { type: 'password', name: 'token', required: true, autocomplete: 'off', spellcheck: 'false' });
  const status = h('div', { 'aria-live': 'polite' }, reason ? errorBox(reason) : null);
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' }, h('h2', { id: 'signin-title' }, t('signin.title')), field(t('signin.token'), token, t('signin.token_hint')), h('button', { type: 'submit', class: 'primary' }, t('signin.submit')), status);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    state.token = token.value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    start();
  });
  return form;
}

async function start(reason) {
  stopCamera?.();
  document.documentElement.lang = state.language;
  document.title = t('title');
  clearTimeout(state.timer);
  state.generation += 1; // a pull still in flight belongs to the old list: it is dropped
  state.items.clear();
  state.cursor = 0;
  state.etag = null;
  state.day = null;
  drawHeader();
  if (!state.token) {
    replace(root, signInForm(reason));
    return;
  }
  replace(root, loading());
  try {
    const who = await api.get('/v1/auth/whoami');
    if (who.kind !== 'counter') {
      signOut({ code: 'not_counter_token', message: t('signin.not_counter') });
      return;
    }
    const [centres, services] = await Promise.all([api.get('/v1/centres'), api.get('/v1/services')]);
    state.centre = centres.items.find((c) => c.id === who.scope) || { id: who.scope, name: who.scope, counters: [], services: [] };
    state.serviceNames = new Map(services.items.map((s) => [s.id, s.name]));
    // The identity documents this centre's services accept: what a person may show at the desk.
    const offered = new Set(state.centre.services || []);
    state.documentTypes = [...new Set(services.items.filter((s) => offered.has(s.id)).flatMap((s) => s.id_documents || []))];
  } catch (error) {
    if (state.token) replace(root, errorBox(error, () => start()));
    return;
  }
  const desks = state.centre.counters.map((c) => c.id);
  state.desk = desks.includes(localStorage.getItem(DESK_KEY)) ? localStorage.getItem(DESK_KEY) : desks[0] || null;
  drawHeader();
  layout();
  await poll();
}

const parts = {};

// No names at this centre, and the signed QR is the only check-in (the API says so per centre).
function dataHome() {
  return Boolean(state.centre?.data_stays_in);
}

function layout() {
  const desk = select(state.centre.counters.map((c) => ({ value: c.id, label: c.id })), { value: state.desk, name: 'desk' });
  desk.addEventListener('change', () => {
    state.desk = desk.value;
    localStorage.setItem(DESK_KEY, state.desk);
    drawServing();
  });
  parts.serving = h('div', { class: 'serving', 'aria-live': 'polite' });
  parts.deskStatus = h('div', { 'aria-live': 'polite' });
  parts.checkin = checkInPanel();
  parts.day = h('div', { class: 'day-list' });
  parts.updated = h('p', { class: 'hint updated', 'aria-live': 'off' });
  parts.dayTitle = h('h2', { id: 'day-title' }, t('day.title'));
  const display = h('button', { type: 'button', class: 'secondary small', onclick: openDisplay }, t('display.open'));
  const tools = { api, t, language: state.language, centre: state.centre, serviceNames: state.serviceNames, errorBox, loading, changed: () => poll() };
  replace(
    root,
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        { class: 'column' },
        h('section', { class: 'card desk', 'aria-labelledby': 'desk-title' }, h('h2', { id: 'desk-title' }, t('desk.title')), field(t('desk.which'), desk), busyButton(t('desk.call_next'), callNext, { class: 'primary big', 'data-action': 'call-next' }), parts.deskStatus, parts.serving),
        parts.checkin,
        walkInPanel(tools),
        blocksPanel(tools),
      ),
      h('section', { class: 'card column', 'aria-labelledby': 'day-title' }, h('div', { class: 'card-head' }, parts.dayTitle, display), dataHome() ? h('p', { class: 'hint data-home' }, t('day.data_home')) : null, parts.updated, parts.day),
    ),
  );
}

// The hall screen signs in with the centre's display token, which reads the display and nothing
// else: a counter token is not handed to a screen the public can walk up to.
function openDisplay() {
  window.open(`/console/display?lang=${encodeURIComponent(state.language)}`, '_blank', 'noopener');
}

// The day list: the first pull is the whole day, later pulls only what changed since the cursor;
// an unchanged day answers 304 to If-None-Match.
// One pull at a time: a pull asked for meanwhile (after a check-in, say) runs right after it.
async function poll() {
  if (state.polling) {
    state.again = true;
    return;
  }
  state.polling = true;
  const generation = state.generation;
  try {
    await pull(generation);
  } finally {
    state.polling = false;
  }
  if (!state.token) return;
  clearTimeout(state.timer);
  if (state.again || generation !== state.generation) {
    state.again = false;
    poll();
  } else {
    state.timer = setTimeout(poll, POLL_MS);
  }
}

async function pull(generation) {
  if (!state.token) return;
  const params = new URLSearchParams();
  if (state.cursor) params.set('since', String(state.cursor));
  try {
    const response = await api.send('GET', `/v1/counter/appointments?${params}`, { headers: state.etag ? { 'If-None-Match': state.etag } : {} });
    if (generation !== state.generation) return;
    if (response.status !== 304) {
      const day = await response.json();
      state.etag = response.headers.get('ETag');
      if (state.day && day.date !== state.day) {
        // A new day began: its whole list, not the changes since yesterday's cursor.
        state.items.clear();
        state.cursor = 0;
        state.etag = null;
        state.day = null;
        state.again = true;
        return;
      }
      state.day = day.date;
      for (const item of day.items) merge(item);
      state.cursor = day.cursor;
      parts.dayTitle.textContent = t('day.title_date', { date: localDate(day.date, state.language) });
      drawDay();
    }
    parts.updated.textContent = t('day.updated', { time: new Date().toLocaleTimeString(state.language, { timeZone: state.centre.time_zone }) });
    parts.updated.classList.remove('stale');
  } catch (error) {
    if (!state.token) return;
    parts.updated.replaceChildren(errorBox(error));
    parts.updated.classList.add('stale');
  }
}

function merge(item) {
  const known = state.items.get(item.id);
  if (!known || (known.change ?? 0) <= (item.change ?? 0)) state.items.set(item.id, { ...known, ...item });
}

const ORDER = { called: 0, checked_in: 1, booked: 2, served: 3, no_show: 4, cancelled: 5, rescheduled: 6 };

function drawDay() {
  const items = [...state.items.values()].filter((a) => a.status !== 'rescheduled').sort((a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9) || a.start.localeCompare(b.start));
  const named = !dataHome();
  if (!items.length) {
    replace(parts.day, h('p', { class: 'empty' }, t('day.none')));
  } else {
    replace(
      parts.day,
      h(
        'table',
        { class: 'appointments' },
        h('thead', {}, h('tr', {}, [t('col.time'), t('col.number'), t('col.reference'), named ? t('col.name') : null, t('col.service'), t('col.status'), ''].filter((c) => c !== null).map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          {},
          items.map((a) =>
            h(
              'tr',
              { dataset: { appointmentId: a.id, reference: a.reference, status: a.status } },
              h('td', {}, timeIn(a.start, state.language, state.centre.time_zone)),
              h('td', { class: 'number' }, a.queue_number ?? ''),
              h('td', { class: 'mono' }, a.reference),
              named ? h('td', {}, a.holder_name, a.number_masked ? h('small', { class: 'hint' }, ` ${a.number_masked}`) : null) : null,
              h('td', {}, a.service_name),
              h('td', {}, h('span', { class: `chip chip-${a.status}` }, t(`status.${a.status}`)), a.called_by ? h('small', { class: 'hint' }, ` ${a.called_by}`) : null),
              h('td', {}, rowActions(a)),
            ),
          ),
        ),
      ),
    );
  }
  drawServing();
}

function rowActions(a) {
  if (a.status !== 'booked') return null;
  // Where the data stays home only the person's QR checks them in: no button to do it without.
  if (dataHome()) return h('small', { class: 'hint', 'data-hint': 'scan-qr' }, t('checkin.row_scan'));
  return busyButton(t('action.check_in'), () => checkIn({ id: a.id }), { class: 'small', 'data-action': 'check-in' });
}

// Who this desk is serving now: the person it called last and who is not done yet.
function drawServing() {
  if (!parts.serving) return;
  const called = [...state.items.values()].filter((a) => a.status === 'called' && a.called_by === state.desk);
  if (!called.length) {
    replace(parts.serving, h('p', { class: 'empty' }, t('desk.nobody')));
    return;
  }
  const a = called[called.length - 1];
  replace(
    parts.serving,
    h(
      'article',
      { class: 'now-serving', dataset: { appointmentId: a.id, reference: a.reference } },
      h('p', { class: 'big-number' }, a.queue_number),
      dataHome() ? h('p', { class: 'hint check-document' }, t('desk.check_document')) : h('p', {}, h('strong', {}, a.holder_name), a.number_masked ? ` · ${a.number_masked}` : ''),
      h('p', {}, a.service_name, ' · ', h('span', { class: 'mono' }, a.reference)),
      h('p', { class: 'hint' }, t('desk.calls', { count: a.call_count })),
      h(
        'div',
        { class: 'actions' },
        busyButton(t('action.recall'), () => act(`/v1/counter/appointments/${encodeURIComponent(a.id)}/recall`, undefined), { 'data-action': 'recall' }),
        busyButton(t('action.served'), () => act(`/v1/counter/appointments/${encodeURIComponent(a.id)}/outcome`, { outcome: 'served' }), { class: 'primary', 'data-action': 'served' }),
        busyButton(t('action.no_show'), () => act(`/v1/counter/appointments/${encodeURIComponent(a.id)}/outcome`, { outcome: 'no_show' }), { class: 'danger', 'data-action': 'no-show' }),
      ),
    ),
  );
}

async function act(path, body) {
  replace(parts.deskStatus);
  try {
    const changed = await api.post(path, body);
    merge(changed);
    drawDay();
  } catch (error) {
    replace(parts.deskStatus, errorBox(error));
  }
}

async function callNext() {
  replace(parts.deskStatus, loading(t('desk.calling')));
  try {
    const answer = await api.post('/v1/counter/queue/next', { counter: state.desk }, { idempotent: true });
    if (answer.appointment) {
      merge(answer.appointment);
      replace(parts.deskStatus, h('p', { class: 'called', role: 'status' }, t('desk.called', { number: answer.appointment.queue_number, desk: answer.counter })));
    } else {
      replace(parts.deskStatus, h('p', { class: 'empty', role: 'status' }, t('desk.queue_empty')));
    }
    drawDay();
  } catch (error) {
    replace(parts.deskStatus, errorBox(error));
  }
}

function checkInPanel() {
  const input = h('input', { name: 'checkin', required: true, autocomplete: 'off', spellcheck: 'false', maxlength: 300, autocapitalize: 'characters' });
  const status = h('div', { 'aria-live': 'polite' });
  parts.checkinStatus = status;
  const qrOnly = dataHome();
  const form = h('form', { class: 'checkin-form', dataset: { qrOnly: String(qrOnly) } }, field(t(qrOnly ? 'checkin.input_qr' : 'checkin.input'), input, t(qrOnly ? 'checkin.hint_qr' : 'checkin.hint')), qrOnly ? documentFields() : null, h('button', { type: 'submit', class: 'primary' }, t('checkin.submit')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    // A reference is short (HQ1234-ish); anything longer is a QR payload read by a scanner. Where
    // the data stays home a typed reference is still sent: the API's refusal (qr_required) says why.
    const ok = await checkIn(text.length <= 20 && !/\s/.test(text) ? { reference: text.toUpperCase() } : { payload: text });
    if (ok) input.value = '';
    input.focus();
  });
  const panel = h('section', { class: 'card checkin', 'aria-labelledby': 'checkin-title' }, h('h2', { id: 'checkin-title' }, t('checkin.title')), form);
  // Where the number is asked for and not typed yet, a scanned code waits in the field for it.
  const scanned = (payload) => (qrOnly && !parts.documentNumber?.value.trim() ? waitForNumber(input, payload) : checkIn({ payload }));
  if ('BarcodeDetector' in window && navigator.mediaDevices?.getUserMedia) panel.append(cameraScanner(scanned));
  else panel.append(h('p', { class: 'hint' }, t(qrOnly ? 'checkin.no_camera_qr' : 'checkin.no_camera')));
  panel.append(status);
  return panel;
}

// Where the data stays home the QR checks in whoever holds it, so the clerk is asked for the
// number of the identity document the person shows: the API compares it with the booking's.
function documentFields() {
  const types = state.documentTypes?.length ? state.documentTypes : ['macao_id'];
  parts.documentType = select(types.map((d) => ({ value: d, label: t(`doc.${d}`) })), { name: 'document_type' });
  parts.documentNumber = h('input', { name: 'document_number', autocomplete: 'off', spellcheck: 'false', maxlength: 40, autocapitalize: 'characters' });
  return h('div', { class: 'document-check', 'data-hint': 'type-document' }, field(t('checkin.document'), parts.documentType), field(t('checkin.document_number'), parts.documentNumber, t('checkin.document_hint')));
}

function waitForNumber(input, payload) {
  input.value = payload;
  replace(parts.checkinStatus, h('p', { class: 'hint document-needed', role: 'status' }, t('checkin.document_needed')));
  parts.documentNumber.focus();
  return false;
}

// The refusals after which the person is checked in without a typed number: the booking's
// check is locked (3 mismatches), or it was booked without a document to compare.
const WITHOUT_NUMBER = new Set(['document_check_locked', 'document_not_booked']);
// The refusals that answer about the typed number itself.
const COMPARED = new Set(['document_mismatch', 'document_check_locked', 'document_not_booked']);

async function checkIn({ id, reference, payload }, { withoutNumber = false } = {}) {
  const status = parts.checkinStatus;
  const asked = dataHome() && !withoutNumber && parts.documentNumber;
  const number = asked ? parts.documentNumber.value.trim() : '';
  if (asked && !number) {
    replace(status, h('p', { class: 'hint document-needed', role: 'status' }, t('checkin.document_needed')));
    parts.documentNumber.focus();
    return false;
  }
  const shown = number ? { document_type: parts.documentType.value, document_number: number } : {};
  replace(status, loading(t('checkin.working')));
  try {
    const answer = id
      ? await api.post(`/v1/counter/appointments/${encodeURIComponent(id)}/check-in`, shown)
      : await api.post('/v1/counter/check-ins', { ...(reference ? { reference } : { payload }), ...shown });
    if (number) parts.documentNumber.value = '';
    const known = state.items.get(answer.appointment_id);
    replace(status, h('p', { class: 'checked-in', role: 'status', dataset: { queueNumber: answer.queue_number, document: answer.document || '' } }, t('checkin.done', { number: answer.queue_number, name: known?.holder_name || '' })));
    poll();
    return true;
  } catch (error) {
    // A number the API compared is used up: it never goes out again with the next person's QR
    // (a mismatch counted against them, three locking their check). A refusal before any
    // comparison (qr_required, code_superseded, ...) leaves it for the same person's retry.
    if (number && COMPARED.has(error.code)) parts.documentNumber.value = '';
    const box = errorBox(error);
    if (asked && WITHOUT_NUMBER.has(error.code)) {
      box.append(busyButton(t('checkin.without_document'), () => checkIn({ id, reference, payload }, { withoutNumber: true }), { 'data-action': 'check-in-without-number' }));
    }
    replace(status, box);
    return false;
  }
}

// The camera the scanner holds, let go of whenever the console is drawn again (a language
// switch, a sign-out): a stream left running keeps the camera on with nothing showing it.
let stopCamera = null;

function cameraScanner(onPayload) {
  const video = h('video', { class: 'camera', playsinline: true, muted: true, hidden: true });
  const button = h('button', { type: 'button', class: 'secondary', 'data-action': 'scan' }, t('checkin.camera'));
  let stream = null;
  const stop = () => {
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    button.textContent = t('checkin.camera');
    if (stopCamera === stop) stopCamera = null;
  };
  button.addEventListener('click', async () => {
    if (stream) return stop();
    stopCamera?.();
    let detector;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
      if (!button.isConnected) return stop(); // the console was drawn again meanwhile
      stopCamera = stop;
      video.srcObject = stream;
      video.hidden = false;
      button.textContent = t('checkin.camera_stop');
      detector = new window.BarcodeDetector({ formats: ['qr_code'] });
      await video.play();
    } catch (error) {
      stop();
      replace(parts.checkinStatus, errorBox({ code: 'camera', message: t('checkin.camera_denied') }));
      return undefined;
    }
    const look = async () => {
      if (!stream) return;
      if (!video.isConnected) return stop();
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length) {
        stop();
        onPayload(codes[0].rawValue);
        return;
      }
      setTimeout(look, 250);
    };
    look();
    return undefined;
  });
  return h('div', { class: 'scanner' }, button, video);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.token && parts.day?.isConnected) poll();
});

document.addEventListener('DOMContentLoaded', () => {
  document.body.append(header, root);
  start();
});
