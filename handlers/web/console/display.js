// The hall display: the numbers called most recently and the desk each goes to, large enough to
// read across a hall, polled every few seconds. It holds the centre's counter token (from the
// console's link, #token=..., wiped from the address) and shows no names.

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
    sessionStorage.setItem(TOKEN_KEY, handed);
    return handed;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

let token = takeToken();
const api = createApi({
  token: () => token,
  language: () => language,
  texts: () => ({ network: t('error.network'), http: t('error.http') }),
});
const board = h('main', { class: 'board', 'aria-live': 'polite' });
const status = h('p', { class: 'board-status', role: 'status' });

function askToken() {
  const input = h('input', { type: 'password', name: 'token', required: true, autocomplete: 'off', 'aria-label': t('signin.token') });
  const form = h('form', { class: 'board-signin' }, h('label', {}, t('signin.token'), input), h('button', { type: 'submit' }, t('signin.submit')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    token = input.value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    poll();
  });
  replace(board, form);
}

// Called numbers, newest first: [{queue_number, counter, called_at, ...}] under `items` (or `called`).
function draw(answer) {
  const items = answer.items || answer.called || [];
  const number = (x) => x.queue_number ?? x.number ?? '';
  const desk = (x) => x.counter ?? x.desk ?? '';
  if (!items.length) {
    replace(board, h('p', { class: 'board-empty' }, t('display.none')));
    return;
  }
  const [latest, ...earlier] = items;
  replace(
    board,
    h('section', { class: 'latest', dataset: { number: number(latest), desk: desk(latest) } }, h('p', { class: 'label' }, t('display.now')), h('p', { class: 'huge' }, number(latest)), h('p', { class: 'desk' }, t('display.go_to', { desk: desk(latest) }))),
    earlier.length
      ? h('table', { class: 'earlier' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('display.number')), h('th', { scope: 'col' }, t('display.desk')))), h('tbody', {}, earlier.slice(0, 8).map((x) => h('tr', { dataset: { number: number(x) } }, h('td', {}, number(x)), h('td', {}, desk(x))))))
      : null,
  );
}

async function poll() {
  if (!token) {
    askToken();
    return;
  }
  try {
    draw(await api.get('/v1/counter/display'));
    status.textContent = '';
  } catch (error) {
    status.textContent = error.message;
    status.dataset.code = error.code;
    if (error.status === 401) {
      token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      askToken();
      return;
    }
  }
  setTimeout(poll, POLL_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  document.documentElement.lang = language;
  document.title = t('display.title');
  document.body.append(h('header', { class: 'board-head' }, h('h1', {}, t('display.title'))), board, status);
  poll();
});
