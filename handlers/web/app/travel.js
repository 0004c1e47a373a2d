// Cross-border travel: search, departures with fares and seats, passengers from the rider's
// documents, the consent prompt, a hold with its countdown, payment, tickets with QR codes, and
// cancellation with the refund the carrier's rules give.

import { busyButton, field, h, replace, select } from '/ui/dom.js';
import { clockText, localDateTime, localTime, money, noteServerTime, secondsUntil, todayIn } from '/ui/format.js';
import {
  confirm,
  documentForm,
  documentLine,
  errorBox,
  loadInto,
  loadingBox,
  statusChip,
  tokenImage,
  walletForm,
  withConsent,
} from '/app/common.js';

const MODES = ['rail', 'coach', 'ferry', 'bridge_bus'];
const ZONE = 'Asia/Hong_Kong'; // every port of the Bay Area keeps UTC+8

export async function render(ctx, root) {
  const routes = await ctx.cached('/v1/travel/routes').catch((error) => {
    replace(root, errorBox(ctx, error, () => ctx.go('travel')));
    return null;
  });
  if (!routes) return null;
  const ports = new Map();
  for (const r of routes.items) for (const p of [r.origin, r.destination]) ports.set(p.id, p);
  const portName = (id) => ports.get(id)?.name || id;
  const byName = (a, b) => a.name.localeCompare(b.name, ctx.language);
  const origins = [...new Map(routes.items.map((r) => [r.origin.id, r.origin])).values()].sort(byName);

  const origin = select([{ value: '', label: ctx.t('travel.any') }, ...origins.map((p) => ({ value: p.id, label: p.name }))], { name: 'origin', value: '' });
  const destination = select([], { name: 'destination' });
  const fillDestinations = () => {
    const reachable = routes.items.filter((r) => !origin.value || r.origin.id === origin.value).map((r) => r.destination);
    const unique = [...new Map(reachable.map((p) => [p.id, p])).values()].sort(byName);
    const keep = destination.value;
    replace(destination, h('option', { value: '' }, ctx.t('travel.any')), unique.map((p) => h('option', { value: p.id }, p.name)));
    destination.value = unique.some((p) => p.id === keep) ? keep : '';
  };
  fillDestinations();
  origin.addEventListener('change', fillDestinations);
  const today = todayIn(ZONE);
  const date = h('input', { type: 'date', name: 'date', required: true, value: today, min: today });
  const mode = select([{ value: '', label: ctx.t('travel.any_mode') }, ...MODES.map((m) => ({ value: m, label: ctx.t(`mode.${m}`) }))], { name: 'mode', value: '' });

  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const trip = h('section', { class: 'card trip', hidden: true, 'aria-labelledby': 'trip-title' });
  const bookings = h('div', { class: 'bookings' });
  const search = h(
    'form',
    { class: 'card search', role: 'search', 'aria-labelledby': 'search-title' },
    h('h2', { id: 'search-title' }, ctx.t('travel.title')),
    h('div', { class: 'grid2' }, field(ctx.t('travel.from'), origin), field(ctx.t('travel.to'), destination)),
    h('div', { class: 'grid2' }, field(ctx.t('travel.date'), date), field(ctx.t('travel.mode'), mode)),
    h('button', { type: 'submit', class: 'primary' }, ctx.t('travel.search')),
  );
  replace(
    root,
    search,
    results,
    trip,
    h('section', { class: 'card', 'aria-labelledby': 'bookings-title' }, h('div', { class: 'card-head' }, h('h2', { id: 'bookings-title' }, ctx.t('bookings.title')), busyButton(ctx.t('refresh'), () => loadBookings(), { class: 'secondary small' })), bookings),
  );

  let timer = setInterval(() => {
    if (!root.isConnected) {
      clearInterval(timer);
      timer = null;
      return;
    }
    for (const el of root.querySelectorAll('[data-expires]')) {
      const left = secondsUntil(el.dataset.expires);
      el.textContent = left > 0 ? ctx.t('hold.left', { time: clockText(left) }) : ctx.t('hold.expired');
      el.dataset.seconds = String(left);
      el.closest('.booking')?.querySelector('[data-action="pay"]')?.toggleAttribute('disabled', left <= 0);
    }
  }, 1000);

  search.addEventListener('submit', async (event) => {
    event.preventDefault();
    const params = new URLSearchParams({ date: date.value, limit: '50' });
    if (origin.value) params.set('origin', origin.value);
    if (destination.value) params.set('destination', destination.value);
    if (mode.value) params.set('mode', mode.value);
    await loadInto(ctx, results, () => ctx.api.get(`/v1/travel/departures?${params}`), (page) =>
      page.items.length
        ? h('section', { class: 'card', 'aria-labelledby': 'results-title' }, h('h2', { id: 'results-title' }, ctx.t('travel.departures', { count: page.items.length })), h('ul', { class: 'list departures' }, page.items.map((d) => departureItem(d))))
        : h('p', { class: 'empty card' }, ctx.t('travel.no_departures')),
    );
  });

  function departureItem(d) {
    return h(
      'li',
      { class: 'departure', dataset: { departureId: d.id, mode: d.mode } },
      h('div', { class: 'row' }, h('strong', { class: 'times' }, `${localTime(d.departs_at, ctx.language)} → ${localTime(d.arrives_at, ctx.language)}`), h('span', { class: 'chip' }, ctx.t(`mode.${d.mode}`))),
      h('div', { class: 'route' }, `${portName(d.origin)} → ${portName(d.destination)}`),
      h('small', { class: 'hint' }, d.carrier_name),
      h(
        'ul',
        { class: 'fares' },
        d.fares.map((f) =>
          h(
            'li',
            { class: 'fare', dataset: { fareClass: f.fare_class } },
            h('span', {}, f.name, ' · ', money(f.fare, ctx.language), f.wallet_fare && f.wallet_fare.currency !== f.fare.currency ? ` (≈ ${money(f.wallet_fare, ctx.language)})` : ''),
            h('span', { class: 'seats' }, f.seats_remaining > 0 ? ctx.t('travel.seats', { count: f.seats_remaining }) : ctx.t('travel.sold_out')),
            h('button', { type: 'button', class: 'small', disabled: f.seats_remaining <= 0, 'data-action': 'choose', 'aria-label': ctx.t('travel.choose_label', { fare: f.name, time: localTime(d.departs_at, ctx.language) }), onclick: () => choose(d, f) }, ctx.t('travel.choose')),
          ),
        ),
      ),
    );
  }

  // Step 2: who travels (documents), then hold.
  async function choose(departure, fare) {
    trip.hidden = false;
    const summary = h('p', { class: 'trip-summary' }, `${localDateTime(departure.departs_at, ctx.language)} · ${portName(departure.origin)} → ${portName(departure.destination)} · ${fare.name}`);
    const passengers = h('div', { class: 'passengers' });
    const status = h('div', { 'aria-live': 'polite' });
    const holdButton = busyButton(ctx.t('travel.hold'), () => hold(), { class: 'primary', 'data-action': 'hold' });
    replace(trip, h('h2', { id: 'trip-title', tabindex: '-1' }, ctx.t('travel.trip')), summary, h('h3', {}, ctx.t('travel.who')), passengers, holdButton, status);
    trip.scrollIntoView({ block: 'start' });
    trip.querySelector('h2').focus();
    const drawPassengers = async () => {
      await loadInto(ctx, passengers, () => ctx.api.get('/v1/me/documents'), (docs) => [
        docs.items.length
          ? h('fieldset', { class: 'checklist' }, h('legend', { class: 'visually-hidden' }, ctx.t('travel.who')), docs.items.map((doc) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'passenger', value: doc.id, checked: docs.items.length === 1 }), h('span', {}, documentLine(ctx, doc)))))
          : h('p', { class: 'empty' }, ctx.t('travel.no_documents')),
        h('details', { class: 'add-document', open: !docs.items.length }, h('summary', {}, ctx.t('doc.add_title')), documentForm(ctx, () => drawPassengers(), { today: todayIn(ZONE) })),
      ]);
    };
    await drawPassengers();

    async function hold() {
      const chosen = [...passengers.querySelectorAll('input[name="passenger"]:checked')].map((i) => ({ document_id: i.value }));
      if (!chosen.length) {
        replace(status, h('p', { class: 'error', role: 'alert' }, ctx.t('travel.pick_passenger')));
        return;
      }
      replace(status, loadingBox(ctx, ctx.t('travel.holding')));
      try {
        const booking = await withConsent(ctx, () =>
          ctx.api.post('/v1/travel/bookings', { departure_id: departure.id, fare_class: fare.fare_class, passengers: chosen }, { idempotent: true }),
        );
        noteServerTime(booking.created_at);
        replace(trip, h('h2', { id: 'trip-title', tabindex: '-1' }, ctx.t('travel.trip')), summary, bookingCard(booking, departure, fare));
        trip.querySelector('h2').focus();
        loadBookings();
      } catch (error) {
        replace(status, errorBox(ctx, error));
        if (error.code === 'wallet_required') status.append(await walletForm(ctx, () => hold()));
      }
    }
  }

  // A booking in any state: held (countdown, pay), confirmed (tickets), cancelled (refund).
  function bookingCard(booking, departure, fare = null) {
    const card = h('article', { class: 'booking', dataset: { bookingId: booking.id, status: booking.status } });
    // When and from where to where: the booking's own (as the timetable now has it), else the
    // departure it was chosen from.
    const itinerary = (b) => {
      const at = b.departs_at || departure?.departs_at;
      const from = b.origin_name || portName(b.origin || departure?.origin || '');
      const to = b.destination_name || portName(b.destination || departure?.destination || '');
      const parts = [at ? localDateTime(at, ctx.language) : null, from && to ? `${from} → ${to}` : null].filter(Boolean);
      return parts.length ? h('p', { class: 'itinerary', dataset: { departsAt: at || '' } }, parts.join(' · ')) : null;
    };
    const draw = (b) => {
      const status = h('div', { 'aria-live': 'polite' });
      const lines = [
        h('div', { class: 'row' }, h('strong', {}, b.id), statusChip(ctx, 'booking', b.status)),
        itinerary(b),
        h('ul', { class: 'plain' }, b.passengers.map((p) => h('li', {}, p.name, ' · ', ctx.t(`doc.${p.document_type}`)))),
        h('dl', { class: 'price' }, h('dt', {}, ctx.t('booking.total')), h('dd', {}, money(b.total, ctx.language)), b.charge ? [h('dt', {}, ctx.t('booking.charged')), h('dd', {}, money(b.charge, ctx.language))] : null, b.refund ? [h('dt', {}, ctx.t('booking.refund')), h('dd', { class: 'refund' }, money(b.refund, ctx.language))] : null),
      ];
      const actions = h('div', { class: 'actions' });
      if (b.status === 'held') {
        const left = secondsUntil(b.expires_at);
        lines.push(h('p', { class: 'countdown', dataset: { expires: b.expires_at, seconds: String(left) }, 'aria-live': 'off' }, left > 0 ? ctx.t('hold.left', { time: clockText(left) }) : ctx.t('hold.expired')));
        const wallet = fare?.wallet_fare && fare.wallet_fare.currency !== b.total.currency ? { amount: fare.wallet_fare.amount * b.passengers.length, currency: fare.wallet_fare.currency } : null;
        if (wallet) lines.push(h('p', { class: 'hint' }, ctx.t('booking.from_wallet', { amount: money(wallet, ctx.language) })));
        actions.append(busyButton(ctx.t('booking.pay', { amount: money(b.total, ctx.language) }), () => act('payment', status), { class: 'primary', 'data-action': 'pay' }));
      }
      if (b.status === 'paying') {
        lines.push(h('p', {}, ctx.t('booking.paying')));
        actions.append(busyButton(ctx.t('booking.check_again'), () => reload(status), { 'data-action': 'reload' }));
      }
      if (b.status === 'held' || b.status === 'confirmed') {
        actions.append(busyButton(b.status === 'held' ? ctx.t('booking.release') : ctx.t('booking.cancel'), () => cancel(b, status), { class: 'danger', 'data-action': 'cancel' }));
      }
      if (b.payment_status && b.payment_status !== 'unpaid') lines.push(h('p', { class: 'payment-status hint', dataset: { paymentStatus: b.payment_status } }, ctx.t(`payment.${b.payment_status}`)));
      if (b.status === 'cancelled' && b.refund) lines.push(h('p', { class: 'refund-note', role: 'status' }, ctx.t('booking.refunded', { amount: money(b.refund, ctx.language) })));
      if (b.status === 'released') lines.push(h('p', {}, ctx.t('booking.released')));
      const tickets = b.tickets.length ? h('div', { class: 'tickets' }, h('h3', {}, ctx.t('booking.tickets')), h('div', { class: 'ticket-list' }, b.tickets.map((tk, i) => ticket(tk, b.passengers[i])))) : null;
      card.dataset.status = b.status;
      replace(card, lines, tickets, actions, status);
    };
    const ticket = (tk, passenger) => {
      const image = tokenImage(ctx, ctx.t('booking.ticket_alt', { name: passenger?.name || '' }), 'qr ticket-qr');
      const box = h('figure', { class: 'ticket', dataset: { ticketId: tk.id, status: tk.status } }, image.img, h('figcaption', {}, passenger?.name || '', ' · ', ctx.t(`ticket.${tk.status}`)));
      if (tk.status !== 'cancelled') image.load(tk.png_url).catch((error) => box.append(errorBox(ctx, error)));
      return box;
    };
    const act = async (what, status) => {
      replace(status, loadingBox(ctx, what === 'payment' ? ctx.t('booking.paying_now') : ctx.t('loading')));
      try {
        const next = await ctx.api.post(`/v1/travel/bookings/${encodeURIComponent(booking.id)}/${what}`, {}, { idempotent: true });
        booking = next;
        draw(next);
        card.querySelector('.tickets, .refund-note')?.scrollIntoView({ block: 'center' });
        loadBookings();
      } catch (error) {
        replace(status, errorBox(ctx, error));
        if (error.code === 'wallet_required') status.append(await walletForm(ctx, () => act(what, status)));
      }
    };
    const reload = async (status) => {
      try {
        booking = await ctx.api.get(`/v1/travel/bookings/${encodeURIComponent(booking.id)}`);
        draw(booking);
      } catch (error) {
        replace(status, errorBox(ctx, error));
      }
    };
    const cancel = async (b, status) => {
      const text = b.status === 'held' ? ctx.t('booking.release_confirm') : ctx.t('booking.cancel_confirm');
      if (await confirm(ctx, ctx.t('booking.cancel_title'), text, ctx.t('booking.cancel_yes'))) await act('cancellation', status);
    };
    draw(booking);
    return card;
  }

  async function loadBookings() {
    await loadInto(ctx, bookings, () => ctx.api.get('/v1/travel/bookings?limit=20'), (page) =>
      page.items.length
        ? h('ul', { class: 'list' }, page.items.map((b) => h('li', {}, bookingCard(b, null))))
        : h('p', { class: 'empty' }, ctx.t('bookings.none')),
    );
  }

  loadBookings();
  return () => timer && clearInterval(timer);
}
