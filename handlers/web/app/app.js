// The rider app: a phone-sized page like a mini program. Deep links: ?view=ride|travel|appointments|data
// &city=&lang=, and a session token handed in the fragment (#token=...), taken and wiped from the
// address at once so it stays out of history, bookmarks and shared links.

import { createApi } from '/ui/api.js';
import { h, replace, select } from '/ui/dom.js';
import { LANGUAGES, LANGUAGE_NAMES, initialLanguage, rememberLanguage, translator } from '/ui/i18n.js';
import { errorBox, loadingBox } from '/app/common.js';
import { STRINGS } from '/app/strings.js';

const VIEWS = {
  ride: () => import('/app/ride.js'),
  travel: () => import('/app/travel.js'),
  appointments: () => import('/app/appointments.js'),
  data: () => import('/app/mydata.js'),
};
const TOKEN_KEY = 'bya.rider.token';

const query = new URLSearchParams(location.search);
const ctx = {
  language: initialLanguage(query.get('lang')),
  view: VIEWS[query.get('view')] ? query.get('view') : 'ride',
  city: query.get('city') || null,
  me: null,
  cache: new Map(),
};
ctx.t = translator(STRINGS, () => ctx.language);
ctx.token = takeToken();
ctx.api = createApi({
  token: () => ctx.token,
  language: () => ctx.language,
  texts: () => ({ network: ctx.t('error.network'), http: ctx.t('error.http') }),
  onUnauthorized: (error) => {
    if (ctx.token) signOut(error);
  },
});
// Names in answers follow the language: cached per language and path.
ctx.cached = async (path) => {
  const key = `${ctx.language} ${path}`;
  if (!ctx.cache.has(key)) {
    ctx.cache.set(key, ctx.api.get(path).catch((error) => {
      ctx.cache.delete(key);
      throw error;
    }));
  }
  return ctx.cache.get(key);
};
ctx.setQuery = (changes) => {
  const next = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value) next.set(key, value);
    else next.delete(key);
  }
  history.replaceState(null, '', `${location.pathname}?${next}`);
};

function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const handed = fragment.get('token');
  if (handed) {
    history.replaceState(null, '', location.pathname + location.search);
    store(handed);
    return handed;
  }
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function store(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // private mode: the session lasts as long as the page
  }
}

const shell = {
  header: h('header', { class: 'bar' }),
  nav: h('nav', { class: 'tabs' }),
  main: h('main', { id: 'view', tabindex: '-1' }),
  notice: h('div', { class: 'notice', role: 'alert', hidden: true }),
};
let dispose = null;

// `reason`: why the rider was signed out (an error with the API's message and stable code).
async function signOut(reason) {
  const token = ctx.token;
  ctx.token = null;
  ctx.me = null;
  store(null);
  if (token && !reason) {
    // Revoke the session on the server too; the page forgets it either way.
    fetch('/v1/auth/sessions/current', {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${token}` },
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    }).catch(() => {});
  }
  await render(reason);
}

ctx.signedIn = async (token) => {
  ctx.token = token;
  store(token);
  await render();
};

ctx.refreshMe = async () => {
  ctx.me = await ctx.api.get('/v1/me');
  return ctx.me;
};

ctx.go = async (view) => {
  ctx.view = view;
  ctx.setQuery({ view });
  await render();
  shell.main.focus();
};

function header() {
  const language = select(
    LANGUAGES.map((l) => ({ value: l, label: LANGUAGE_NAMES[l] })),
    { value: ctx.language, id: 'language', 'aria-label': ctx.t('language') },
  );
  language.addEventListener('change', async () => {
    ctx.language = language.value;
    rememberLanguage(ctx.language);
    ctx.setQuery({ lang: ctx.language });
    await render();
    document.getElementById('language')?.focus();
  });
  const who = ctx.me ? h('span', { class: 'who' }, ctx.me.display_name || '') : null;
  const out = ctx.token
    ? h('button', { type: 'button', class: 'link', onclick: () => signOut() }, ctx.t('sign_out'))
    : null;
  replace(shell.header, h('h1', {}, ctx.t('app_title')), h('div', { class: 'bar-tools' }, who, language, out));
}

function tabs() {
  const names = { ride: 'tab.ride', travel: 'tab.travel', appointments: 'tab.appointments', data: 'tab.data' };
  shell.nav.setAttribute('aria-label', ctx.t('tabs'));
  replace(
    shell.nav,
    Object.entries(names).map(([view, key]) =>
      h(
        'button',
        {
          type: 'button',
          class: 'tab',
          'aria-current': view === ctx.view ? 'page' : null,
          dataset: { view },
          onclick: () => ctx.go(view),
        },
        ctx.t(key),
      ),
    ),
  );
  shell.nav.hidden = !ctx.token;
}

async function render(reason) {
  document.documentElement.lang = ctx.language;
  document.title = ctx.t('app_title');
  if (dispose) {
    dispose();
    dispose = null;
  }
  shell.notice.hidden = !reason;
  if (reason) {
    shell.notice.dataset.code = reason.code;
    replace(shell.notice, h('p', {}, reason.message), h('small', { class: 'code' }, reason.code));
  } else {
    delete shell.notice.dataset.code;
    replace(shell.notice);
  }
  if (ctx.token && !ctx.me) {
    header();
    tabs();
    replace(shell.main, loadingBox(ctx));
    try {
      await ctx.refreshMe();
    } catch (error) {
      if (!ctx.token) return; // signed out by a 401 meanwhile
      if (error.code === 'wrong_credential_kind') {
        await signOut(error); // a device's token handed to the rider app: forget it
        return;
      }
      replace(shell.main, errorBox(ctx, error, () => render()));
      return;
    }
  }
  header();
  tabs();
  if (!ctx.token) {
    const { render: signIn } = await import('/app/signin.js');
    await signIn(ctx, shell.main);
    return;
  }
  replace(shell.main, loadingBox(ctx));
  const module = await VIEWS[ctx.view]();
  const root = h('div', { class: 'view', dataset: { view: ctx.view } });
  replace(shell.main, root);
  dispose = (await module.render(ctx, root)) || null;
}

document.addEventListener('DOMContentLoaded', () => {
  document.body.append(shell.header, shell.nav, shell.notice, shell.main);
  render();
});
