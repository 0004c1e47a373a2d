// The hall display: the number being called and the desk it goes to, large enough to read across
// a hall, each desk's last number, and how many wait; polled every few seconds with If-None-Match.
// It holds the centre's display token (which reads this and nothing else), handed in the
// fragment (#token=..., wiped from the address) or typed once, and it shows queue numbers and
// desks only, never a name. A counter token is refused: it checks people in and reads their names,
// and a hall screen is where the public walks up.

import { createApi } from '/ui/api.js';
import { h, replace } from '/ui/dom.js';
import { initialLanguage, translator } from '/ui/i18n.js';
import { STRINGS } from '/console/strings.js';

const TOKEN_KEY = 'bya.display.token';
const POLL_MS = 3000;
const language = initialLanguage(new URLSearchParams(location.search).get('lang'));
const t = translator(STRINGS, () => language);

function takeToken() {
  const handed = new URLSearchParams(location.hash.slice(1)).get('token');
  if (handed) {
    history.replaceState(null, '', location.pathname + location.search);
    return handed;
  }
  return localStorage.getItem(TOKEN_KEY) || sessionStorage.getItem(TOKEN_KEY);
}

// A hall screen is left running, so its display token is kept across reloads; any other kind of
// token is refused before anything is read with it, and forgotten.
async function keep(candidate) {
  const who = await api.get('/v1/auth/whoami');
  localStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(TOKEN_KEY);
  if (who.kind !== 'display') {
    const refused = new Error(t('display.not_display'));
    refused.code = 'not_display_token';
    refused.status = 403;
    throw refused;
  }
  localStorage.setItem(TOKEN_KEY, candidate);
}

let token = takeToken();
let kept = false;
let etag = null;
const api = createApi({
  token: () => token,
  language: () => language,
  texts: () => ({ network: t('error.network'), http: t('error.http') }),
});
const title = h('h1', {}, t('display.title'));
const board = h('main', { class: 'board' });
const status = h('p', { class: 'board-status', role: 'status' });

function askToken(message, code) {
  const input = h('input', { type: 'password', name: 'token', required: true, autocomplete: 'off' });
  const form = h('form', { class: 'board-signin card' }, h('label', {}, t('display.token'), input), h('button', { type: 'submit', class: 'primary' }, t('signin.submit')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    token = input.value.trim();
    kept = false;
    poll();
  });
  replace(board, form);
  status.textContent = message || '';
  if (code) status.dataset.code = code;
  else delete status.dataset.code;
}

function draw(shown) {
  replace(title, shown.centre_name, ' · ', t('display.title'));
  const now = shown.recent.find((c) => c.status === 'called');
  const latest = now
    ? h('section', { class: 'latest', 'aria-live': 'assertive', dataset: { number: now.queue_number, desk: now.counter } }, h('p', { class: 'label' }, t('display.now')), h('p', { class: 'huge' }, now.queue_number), h('p', { class: 'desk' }, t('display.go_to', { desk: now.counter })))
    : h('section', { class: 'latest' }, h('p', { class: 'board-empty' }, t('display.none')));
  const desks = h(
    'table',
    { class: 'earlier' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('display.desk')), h('th', { scope: 'col' }, t('display.number')))),
    h('tbody', {}, shown.desks.map((d) => h('tr', { dataset: { desk: d.counter, status: d.status || 'idle' } }, h('td', {}, d.counter), h('td', {}, d.queue_number ?? '—')))),
  );
  replace(board, latest, h('section', {}, desks, h('p', { class: 'waiting', dataset: { waiting: shown.waiting } }, t('display.waiting', { count: shown.waiting }))));
}

async function poll() {
  if (!token) {
    askToken();
    return;
  }
  try {
    if (!kept) {
      await keep(token);
      kept = true;
    }
    const response = await api.send('GET', '/v1/counter/display', { headers: etag ? { 'If-None-Match': etag } : {} });
    if (response.status !== 304) {
      etag = response.headers.get('ETag');
      draw(await response.json());
    }
    status.textContent = '';
  } catch (error) {
    status.textContent = error.message;
    status.dataset.code = error.code;
    if (error.status === 401 || error.status === 403) {
      token = null;
      etag = null;
      localStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem(TOKEN_KEY);
      askToken(error.message, error.code);
      return;
    }
  }
  setTimeout(poll, POLL_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  document.documentElement.lang = language;
  document.title = t('display.title');
  document.body.append(h('header', { class: 'board-head' }, title), board, status);
  poll();
});
