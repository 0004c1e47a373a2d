// The ride code: a city, the QR as large as the screen allows, fetched again shortly before
// refresh_after, a countdown to its expiry on the server's clock, and the rider's journeys with
// fare, concession, discounts and what the wallet was charged.

import { newKey } from '/ui/api.js';
import { busyButton, field, h, replace, select } from '/ui/dom.js';
import { asMoney, clockText, instant, money, noteServerTime, secondsUntil, serverNow } from '/ui/format.js';
import { errorBox, loadInto, loadingBox, statusChip, tokenImage, walletForm } from '/app/common.js';

const CITY_KEY = 'bya.city';
const REFRESH_MARGIN_MS = 2000; // fetch the next code this long before refresh_after

export async function render(ctx, root) {
  const regions = await ctx.cached('/v1/regions').catch((error) => {
    replace(root, errorBox(ctx, error, () => ctx.go('ride')));
    return null;
  });
  if (!regions) return null;
  const cities = regions.items.flatMap((j) => j.cities.map((c) => ({ ...c, jurisdiction: j.name })));
  const stations = stationNames(regions);
  const operators = new Map(regions.items.flatMap((j) => j.cities.flatMap((c) => c.operators.map((o) => [o.id, { ...o, time_zone: c.time_zone }]))));
  const stored = localStorage.getItem(CITY_KEY);
  let city = [ctx.city, stored, 'shenzhen'].find((id) => cities.some((c) => c.id === id)) || cities[0].id;

  const citySelect = select(
    regions.items.map((j) => ({ group: j.name, options: j.cities.map((c) => ({ value: c.id, label: c.name })) })),
    { value: city, name: 'city' },
  );
  const qr = tokenImage(ctx, '');
  const countdown = h('p', { class: 'countdown', 'aria-live': 'off' });
  const codeStatus = h('div', { class: 'code-status', 'aria-live': 'polite' });
  const qrFrame = h('div', { class: 'qr-frame' }, qr.img);
  const refreshButton = busyButton(ctx.t('ride.refresh'), () => fetchCode(), { class: 'secondary', 'data-action': 'refresh-code' });
  const codeCard = h(
    'section',
    { class: 'card code-card', 'aria-labelledby': 'code-title' },
    h('h2', { id: 'code-title' }, ctx.t('ride.title')),
    field(ctx.t('ride.city'), citySelect),
    qrFrame,
    countdown,
    h('p', { class: 'hint' }, ctx.t('ride.hint')),
    refreshButton,
    codeStatus,
  );
  const journeyList = h('div', { class: 'journeys' });
  const journeysCard = h(
    'section',
    { class: 'card', 'aria-labelledby': 'journeys-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'journeys-title' }, ctx.t('journeys.title')), busyButton(ctx.t('journeys.refresh'), () => loadJourneys(), { class: 'secondary small', 'data-action': 'refresh-journeys' })),
    journeyList,
  );
  replace(root, codeCard, journeysCard);

  let code = null;
  let fetching = false;
  let ticker = null;
  let notBefore = 0; // after a refusal, automatic refreshes wait a little
  let retryable = false; // no code shown, for a passing reason (the network, a busy service)

  citySelect.addEventListener('change', () => {
    city = citySelect.value;
    localStorage.setItem(CITY_KEY, city);
    ctx.city = city;
    ctx.setQuery({ city });
    fetchCode();
  });

  async function fetchCode() {
    if (fetching) return;
    fetching = true;
    if (!code) replace(codeStatus, loadingBox(ctx, ctx.t('ride.loading')));
    try {
      // A fresh key each time: a code is only good for minutes, and a retry after a lost answer
      // wants a new one, not the replay of one that may be about to expire.
      const next = await ctx.api.post('/v1/ride-codes', { city }, { key: newKey() });
      noteServerTime(next.issued_at);
      await qr.load(next.png_url);
      code = next;
      qr.img.alt = ctx.t('ride.qr_alt', { city: cities.find((c) => c.id === city)?.name || city });
      qr.img.dataset.codeId = next.code_id;
      qrFrame.classList.remove('expired');
      replace(codeStatus);
      tick();
      loadJourneys();
    } catch (error) {
      notBefore = Date.now() + 10000;
      retryable = error.status === 0 || error.status === 429 || error.status >= 500;
      await codeRefused(error);
    } finally {
      fetching = false;
    }
  }

  async function codeRefused(error) {
    if (code && secondsUntil(code.expires_at) > 0) {
      replace(codeStatus, errorBox(ctx, error)); // the current code still works meanwhile
      return;
    }
    code = null;
    qr.clear();
    qrFrame.classList.add('expired');
    countdown.textContent = '';
    if (error.code === 'wallet_required') {
      replace(codeStatus, errorBox(ctx, error), await walletForm(ctx, () => fetchCode()));
    } else {
      replace(codeStatus, errorBox(ctx, error, () => fetchCode()));
    }
  }

  function tick() {
    if (!root.isConnected) return stop();
    if (!code) {
      // The code ran out while the network was down: ask again every little while the page is in
      // view, so the code is back by itself with the network (a refusal waits for the rider).
      if (retryable && document.visibilityState === 'visible' && Date.now() >= notBefore) fetchCode();
      return undefined;
    }
    const left = secondsUntil(code.expires_at);
    countdown.textContent = left > 0 ? ctx.t('ride.valid_for', { time: clockText(left) }) : ctx.t('ride.expired');
    countdown.dataset.seconds = String(left);
    if (left <= 0) qrFrame.classList.add('expired');
    const due = serverNow() >= Date.parse(code.refresh_after) - REFRESH_MARGIN_MS;
    if (due && document.visibilityState === 'visible' && Date.now() >= notBefore) fetchCode();
    return undefined;
  }

  function stop() {
    clearInterval(ticker);
    document.removeEventListener('visibilitychange', tick);
    window.removeEventListener('online', online);
  }

  function online() {
    notBefore = 0;
    tick();
  }

  async function loadJourneys() {
    await loadInto(ctx, journeyList, () => ctx.api.get('/v1/journeys?limit=20'), (page) =>
      page.items.length
        ? h('ul', { class: 'list' }, page.items.map((j) => journeyItem(ctx, j, stations, operators, loadJourneys)))
        : h('p', { class: 'empty' }, ctx.t('journeys.none')),
    );
  }

  ticker = setInterval(tick, 1000);
  document.addEventListener('visibilitychange', tick);
  window.addEventListener('online', online);
  if (!ctx.me?.wallet) {
    replace(codeStatus, await walletForm(ctx, () => fetchCode()));
    loadJourneys();
  } else {
    fetchCode();
  }
  return stop;
}

function stationNames(regions) {
  const names = new Map();
  for (const j of regions.items) for (const c of j.cities) for (const o of c.operators) for (const s of o.stations) names.set(`${o.id}/${s.id}`, s.name);
  return names;
}

function journeyItem(ctx, j, stations, operators, reload) {
  const operator = operators.get(j.operator);
  const station = (id) => (id ? stations.get(`${j.operator}/${id}`) || id : '…');
  const fareCurrency = j.fare?.currency || j.base_fare?.currency || operator?.currency;
  // Each price part as [label, amount, what it is]: the full fare, less the concession, less each
  // fare product's discount (named as the product is), is the fare; the charge is in the wallet's.
  const parts = [];
  const off = (value) => `−${money({ ...value, amount: Math.abs(value.amount) }, ctx.language)}`;
  if (j.base_fare) parts.push([ctx.t('journey.base_fare'), money(asMoney(j.base_fare, fareCurrency), ctx.language), { part: 'base_fare' }]);
  const concession = asMoney(j.concession, fareCurrency);
  if (concession?.amount) parts.push([ctx.t('journey.concession', { category: ctx.t(`category.${j.category}`) }), off(concession), { part: 'concession' }]);
  for (const d of j.discounts || []) {
    parts.push([ctx.t('journey.discount', { product: d.name || d.product }), off(asMoney(d.amount, fareCurrency)), { part: 'discount', product: d.product }]);
  }
  if (j.fare) parts.push([ctx.t('journey.fare'), money(j.fare, ctx.language), { part: 'fare' }]);
  if (j.charge) {
    const rate = j.fx_rate && j.charge.currency !== j.fare?.currency ? ` (${ctx.t('journey.rate', { rate: j.fx_rate })})` : '';
    parts.push([ctx.t('journey.charge'), `${money(j.charge, ctx.language)}${rate}`, { part: 'charge' }]);
  }
  const item = h(
    'li',
    { class: 'journey', dataset: { journeyId: j.id, status: j.status } },
    h('div', { class: 'row' }, h('strong', {}, operator?.name || j.operator), statusChip(ctx, 'journey', j.status)),
    h('div', { class: 'route' }, station(j.entry_station), ' → ', station(j.exit_station)),
    h('div', { class: 'when' }, j.entry_at ? instant(j.entry_at, ctx.language, operator?.time_zone) : ''),
    parts.length ? h('dl', { class: 'price' }, parts.map(([k, v, data]) => [h('dt', { dataset: data }, k), h('dd', { dataset: data }, v)])) : null,
    j.charge_status ? h('small', { class: 'hint' }, ctx.t(`charge.${j.charge_status}`)) : null,
  );
  if (j.status === 'unfinished' && j.repair_status === 'pending') item.append(h('p', { class: 'hint', role: 'status' }, ctx.t('journey.repair_pending')));
  else if (j.status === 'unfinished' && j.repair_status === 'refused') item.append(h('p', { class: 'hint' }, ctx.t('journey.repair_refused')));
  else if (j.status === 'unfinished' && operator) item.append(repairForm(ctx, j, operator, reload));
  return item;
}

// An unfinished journey was charged the maximum fare; saying where the rider really left reprices
// it (200) or, beyond the operator's monthly allowance, asks the operator (202 pending_review).
function repairForm(ctx, j, operator, reload) {
  const exit = select(operator.stations.filter((s) => s.id !== j.entry_station).map((s) => ({ value: s.id, label: s.name })), { name: 'exit_station' });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'repair' }, field(ctx.t('journey.repair_exit'), exit), h('button', { type: 'submit' }, ctx.t('journey.repair')), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(status, loadingBox(ctx));
    try {
      const answer = await ctx.api.post(`/v1/journeys/${encodeURIComponent(j.id)}/repair`, { exit_station: exit.value });
      replace(status, h('p', { role: 'status' }, answer?.status === 'pending_review' ? ctx.t('journey.repair_pending') : ctx.t('journey.repaired')));
      await reload();
    } catch (error) {
      replace(status, errorBox(ctx, error));
    }
  });
  return form;
}
