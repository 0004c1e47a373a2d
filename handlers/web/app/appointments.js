// Counter appointments: services per jurisdiction, the centres offering one, a week of slots,
// booking (through the consent prompt), the check-in QR, the .ics file, reschedule and cancel.

import { busyButton, field, h, replace, select } from '/ui/dom.js';
import { addDays, dayLabel, instant, localDate, localTime, timeIn, todayIn } from '/ui/format.js';
import { confirm, errorBox, loadInto, loadingBox, statusChip, tokenImage, withConsent } from '/app/common.js';

const ACTIVE = new Set(['booked', 'checked_in', 'called']);

const JURISDICTION_KEY = 'bya.jurisdiction';

export async function render(ctx, root) {
  let data;
  try {
    const [regions, services, centres] = await Promise.all([ctx.cached('/v1/regions'), ctx.cached('/v1/services'), ctx.cached('/v1/centres')]);
    data = { regions, services: services.items, centres: centres.items };
  } catch (error) {
    replace(root, errorBox(ctx, error, () => ctx.go('appointments')));
    return null;
  }
  const centreById = new Map(data.centres.map((c) => [c.id, c]));
  const serviceById = new Map(data.services.map((s) => [s.id, s]));
  const withServices = data.regions.items.filter((j) => data.services.some((s) => s.jurisdiction === j.id));
  const remembered = localStorage.getItem(JURISDICTION_KEY);
  const jurisdiction = select(withServices.map((j) => ({ value: j.id, label: j.name })), {
    name: 'jurisdiction',
    value: withServices.some((j) => j.id === remembered) ? remembered : withServices.find((j) => j.id === 'macao')?.id || withServices[0]?.id,
  });
  const serviceList = h('div', { class: 'services' });
  const booking = h('div', { class: 'booking-area' });
  const mine = h('div', { class: 'appointments' });
  replace(
    root,
    h('section', { class: 'card', 'aria-labelledby': 'appt-title' }, h('h2', { id: 'appt-title' }, ctx.t('appt.title')), field(ctx.t('appt.jurisdiction'), jurisdiction), serviceList),
    booking,
    h('section', { class: 'card', 'aria-labelledby': 'mine-title' }, h('div', { class: 'card-head' }, h('h2', { id: 'mine-title' }, ctx.t('appt.mine')), busyButton(ctx.t('refresh'), () => loadMine(), { class: 'secondary small', 'data-action': 'refresh-mine' })), mine),
  );

  const drawServices = () => {
    localStorage.setItem(JURISDICTION_KEY, jurisdiction.value);
    const offered = data.services.filter((s) => s.jurisdiction === jurisdiction.value);
    replace(
      serviceList,
      h(
        'ul',
        { class: 'list services-list' },
        offered.map((s) =>
          h(
            'li',
            { class: 'service', dataset: { serviceId: s.id } },
            h('div', { class: 'row' }, h('strong', {}, s.name), h('span', { class: 'hint' }, ctx.t('appt.minutes', { count: s.duration_minutes }))),
            s.required_documents.length ? h('small', { class: 'hint' }, ctx.t('appt.bring', { list: s.required_documents.join(ctx.t('list_separator')) })) : null,
            h('button', { type: 'button', class: 'small', 'data-action': 'pick-service', onclick: () => pickService(s) }, ctx.t('appt.book_this')),
          ),
        ),
      ),
    );
  };
  jurisdiction.addEventListener('change', drawServices);
  drawServices();

  // The booking card: centre, a week of slots, the applicant, then Book (or Reschedule).
  async function pickService(service, rescheduling = null) {
    const centres = service.centres.map((id) => centreById.get(id)).filter(Boolean);
    const centre = select(centres.map((c) => ({ value: c.id, label: c.name })), { name: 'centre', value: rescheduling?.centre_id || centres[0]?.id, disabled: Boolean(rescheduling) });
    const address = h('p', { class: 'hint address' });
    const calendar = h('div', { class: 'calendar' });
    const applicant = h('div', { class: 'applicant' });
    const status = h('div', { 'aria-live': 'polite' });
    const title = rescheduling ? ctx.t('appt.reschedule_title', { reference: rescheduling.reference }) : service.name;
    replace(
      booking,
      h('section', { class: 'card', 'aria-labelledby': 'book-title' }, h('h2', { id: 'book-title', tabindex: '-1' }, title), field(ctx.t('appt.centre'), centre), address, calendar, applicant, status),
    );
    booking.querySelector('h2').focus();
    let chosenDay = null;
    let weekStart = null;
    const current = () => centreById.get(centre.value);
    const drawWeek = async () => {
      const c = current();
      address.textContent = c ? c.address : '';
      const today = todayIn(c.time_zone);
      const first = addDays(today, service.booking_window_days?.min || 0);
      const last = addDays(today, service.booking_window_days?.max || 30);
      weekStart = weekStart || first;
      const params = new URLSearchParams({ service: service.id, from: weekStart, days: '7' });
      await loadInto(ctx, calendar, () => ctx.api.get(`/v1/centres/${encodeURIComponent(c.id)}/slots?${params}`), (slots) => {
        const byDay = new Map();
        for (let i = 0; i < 7; i += 1) byDay.set(addDays(weekStart, i), []);
        for (const slot of slots.items) byDay.get(slot.start.slice(0, 10))?.push(slot);
        if (!chosenDay || !byDay.has(chosenDay)) chosenDay = [...byDay].find(([, s]) => s.some((x) => x.remaining > 0))?.[0] || weekStart;
        const days = h(
          'div',
          { class: 'days', role: 'group', 'aria-label': ctx.t('appt.days') },
          [...byDay].map(([day, s]) => {
            const free = s.filter((x) => x.remaining > 0).length;
            return h('button', { type: 'button', class: 'day', 'aria-pressed': day === chosenDay ? 'true' : 'false', disabled: !s.length, dataset: { day }, onclick: () => { chosenDay = day; drawWeek(); } }, h('span', {}, dayLabel(day, ctx.language)), h('small', {}, s.length ? ctx.t('appt.free', { count: free }) : ctx.t('appt.closed')));
          }),
        );
        const slotsOfDay = byDay.get(chosenDay) || [];
        const nav = h(
          'div',
          { class: 'week-nav' },
          h('button', { type: 'button', class: 'secondary small', disabled: weekStart <= first, onclick: () => { weekStart = addDays(weekStart, -7); chosenDay = null; drawWeek(); } }, ctx.t('appt.prev_week')),
          h('span', {}, localDate(weekStart, ctx.language)),
          h('button', { type: 'button', class: 'secondary small', disabled: addDays(weekStart, 7) > last, onclick: () => { weekStart = addDays(weekStart, 7); chosenDay = null; drawWeek(); } }, ctx.t('appt.next_week')),
        );
        return [
          nav,
          days,
          h('h3', {}, localDate(chosenDay, ctx.language)),
          slotsOfDay.length
            ? h('div', { class: 'slots', role: 'group', 'aria-label': ctx.t('appt.times') }, slotsOfDay.map((slot) => h('button', { type: 'button', class: 'slot', disabled: slot.remaining <= 0, dataset: { start: slot.start }, 'aria-label': ctx.t('appt.slot_label', { time: localTime(slot.start, ctx.language), count: slot.remaining }), onclick: () => book(slot) }, h('span', {}, localTime(slot.start, ctx.language)), h('small', {}, slot.remaining > 0 ? ctx.t('appt.left', { count: slot.remaining }) : ctx.t('appt.full')))))
            : h('p', { class: 'empty' }, ctx.t('appt.no_slots')),
        ];
      });
    };
    centre.addEventListener('change', () => { weekStart = null; chosenDay = null; drawWeek(); });

    let applicantSelect = null;
    if (!rescheduling) {
      const docs = await ctx.api.get('/v1/me/documents').catch(() => ({ items: [] }));
      const usable = docs.items.filter((d) => service.id_documents.includes(d.type));
      // A service with a quota per person needs the applicant's document (400 document_required): no "myself" without one.
      const options = usable.map((d) => ({ value: d.id, label: `${d.holder_name} · ${ctx.t(`doc.${d.type}`)} ${d.number_masked}` }));
      const myself = { value: '', label: ctx.t('appt.myself', { name: ctx.me?.display_name || '' }) };
      applicantSelect = select(service.quota ? options : [myself, ...options], { name: 'document', value: service.quota && usable.length ? usable[0].id : '' });
      replace(applicant, field(ctx.t('appt.applicant'), applicantSelect, ctx.t('appt.applicant_hint', { list: service.id_documents.map((d) => ctx.t(`doc.${d}`)).join(ctx.t('list_separator')) })));
    }
    await drawWeek();

    async function book(slot) {
      replace(status, loadingBox(ctx, ctx.t('appt.booking')));
      try {
        let appointment;
        if (rescheduling) {
          appointment = await ctx.api.post(`/v1/appointments/${encodeURIComponent(rescheduling.id)}/reschedule`, { start: slot.start }, { idempotent: true });
        } else {
          const body = { centre_id: centre.value, service_id: service.id, start: slot.start };
          if (applicantSelect?.value) body.document_id = applicantSelect.value;
          appointment = await withConsent(ctx, () => ctx.api.post('/v1/appointments', body, { idempotent: true }));
        }
        replace(booking, h('section', { class: 'card', 'aria-labelledby': 'booked-title' }, h('h2', { id: 'booked-title', tabindex: '-1' }, rescheduling ? ctx.t('appt.rescheduled') : ctx.t('appt.booked')), appointmentCard(appointment)));
        booking.querySelector('h2').focus();
        loadMine();
      } catch (error) {
        replace(status, errorBox(ctx, error));
        if (error.code === 'slot_full') drawWeek();
      }
    }
  }

  function appointmentCard(a) {
    const service = serviceById.get(a.service_id);
    const centre = centreById.get(a.centre_id);
    const status = h('div', { 'aria-live': 'polite' });
    const card = h(
      'article',
      { class: 'appointment', dataset: { appointmentId: a.id, status: a.status, reference: a.reference } },
      h('div', { class: 'row' }, h('strong', { class: 'reference' }, a.reference), statusChip(ctx, 'appt_status', a.status)),
      h('p', {}, service?.name || a.service_id),
      h('p', { class: 'when' }, instant(a.start, ctx.language, centre?.time_zone), ' – ', timeIn(a.end, ctx.language, centre?.time_zone)),
      h('p', { class: 'hint' }, centre?.name || a.centre_id),
      h('p', { class: 'hint' }, a.holder_name, a.number_masked ? ` · ${a.number_masked}` : ''),
      a.queue_number ? h('p', { class: 'queue' }, ctx.t('appt.queue_number', { number: a.queue_number })) : null,
    );
    if (a.qr && ACTIVE.has(a.status)) {
      const image = tokenImage(ctx, ctx.t('appt.qr_alt', { reference: a.reference }));
      card.append(h('figure', { class: 'appt-qr' }, image.img, h('figcaption', {}, ctx.t('appt.qr_caption'))));
      image.load(a.qr.png_url).catch((error) => card.append(errorBox(ctx, error)));
    }
    const actions = h('div', { class: 'actions' });
    if (ACTIVE.has(a.status) || a.status === 'served') {
      actions.append(busyButton(ctx.t('appt.ics'), () => downloadIcs(a, status), { class: 'secondary', 'data-action': 'ics' }));
    }
    if (a.status === 'booked') {
      actions.append(
        h('button', { type: 'button', class: 'secondary', 'data-action': 'reschedule', onclick: () => service && pickService(service, a) }, ctx.t('appt.reschedule')),
        busyButton(ctx.t('appt.cancel'), async () => {
          if (!(await confirm(ctx, ctx.t('appt.cancel_title'), ctx.t('appt.cancel_confirm', { reference: a.reference }), ctx.t('appt.cancel_yes')))) return;
          try {
            const cancelled = await ctx.api.post(`/v1/appointments/${encodeURIComponent(a.id)}/cancellation`, {}, { idempotent: true });
            card.replaceWith(appointmentCard(cancelled));
            loadMine();
          } catch (error) {
            replace(status, errorBox(ctx, error));
          }
        }, { class: 'danger', 'data-action': 'cancel' }),
      );
    }
    card.append(actions, status);
    return card;
  }

  // The .ics needs the token too: fetched, then saved from a blob URL.
  async function downloadIcs(a, status) {
    try {
      const url = await ctx.api.blobUrl(`/v1/appointments/${encodeURIComponent(a.id)}.ics`);
      const link = h('a', { href: url, download: `appointment-${a.reference}.ics`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      replace(status, errorBox(ctx, error));
    }
  }

  async function loadMine() {
    await loadInto(ctx, mine, () => ctx.api.get('/v1/appointments?limit=20'), (page) => {
      const items = [...page.items].sort((x, y) => Number(ACTIVE.has(y.status)) - Number(ACTIVE.has(x.status)));
      return items.length ? h('ul', { class: 'list' }, items.map((a) => h('li', {}, appointmentCard(a)))) : h('p', { class: 'empty' }, ctx.t('appt.none'));
    });
  }

  loadMine();
  return null;
}

