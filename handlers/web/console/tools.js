// The console's tools beside the day list: a queue number for someone without an appointment
// (POST /v1/counter/walk-ins) and closing a desk, or the whole centre, for a time (blocks: POST,
// GET and DELETE /v1/counter/blocks). Times are typed and shown as the centre's wall times.

import { busyButton, field, h, replace, select } from '/ui/dom.js';
import { instant, wallTimeIn } from '/ui/format.js';

// ctx: { api, t, language, centre, serviceNames (id -> name), errorBox, loading, changed }
export function walkInPanel(ctx) {
  const { api, t, centre } = ctx;
  const service = select(centre.services.map((id) => ({ value: id, label: ctx.serviceNames.get(id) || id })), { name: 'walk_in_service' });
  const status = h('div', { 'aria-live': 'polite' });
  const give = busyButton(
    t('walk_in.give'),
    async () => {
      replace(status, ctx.loading(t('walk_in.working')));
      try {
        const answer = await api.post('/v1/counter/walk-ins', { service_id: service.value }, { idempotent: true });
        replace(status, h('p', { class: 'walk-in-issued', role: 'status', dataset: { queueNumber: answer.queue_number, reference: answer.reference } }, t('walk_in.done', { number: answer.queue_number, reference: answer.reference })));
        ctx.changed();
      } catch (error) {
        replace(status, ctx.errorBox(error));
      }
    },
    { class: 'primary', 'data-action': 'walk-in' },
  );
  return h('section', { class: 'card walk-in', 'aria-labelledby': 'walk-in-title' }, h('h2', { id: 'walk-in-title' }, t('walk_in.title')), field(t('walk_in.service'), service), give, status);
}

export function blocksPanel(ctx) {
  const { api, t, centre } = ctx;
  const zone = centre.time_zone;
  const desk = select([{ value: '', label: t('blocks.whole_centre') }, ...centre.counters.map((c) => ({ value: c.id, label: c.id }))], { name: 'block_counter', value: '' });
  const start = h('input', { type: 'datetime-local', name: 'block_start', required: true, step: 60 });
  const end = h('input', { type: 'datetime-local', name: 'block_end', required: true, step: 60 });
  const reason = h('input', { name: 'block_reason', required: true, maxlength: 200, autocomplete: 'off' });
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div', { class: 'block-list' });
  const form = h(
    'form',
    { class: 'block-form' },
    field(t('blocks.desk'), desk),
    field(t('blocks.start'), start),
    field(t('blocks.end'), end),
    field(t('blocks.reason'), reason),
    h('button', { type: 'submit', class: 'secondary' }, t('blocks.add')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    replace(status, ctx.loading());
    try {
      const body = { start: wallTimeIn(start.value, zone), end: wallTimeIn(end.value, zone), reason: reason.value.trim() };
      if (desk.value) body.counter = desk.value;
      const added = await api.post('/v1/counter/blocks', body, { idempotent: true });
      const affected = added.affected?.length || 0;
      const moved = added.moved?.length || 0;
      replace(status, h('p', { class: 'block-added', role: 'status', dataset: { affected, moved } }, t('blocks.added', { affected, moved })));
      reason.value = '';
      await load();
    } catch (error) {
      replace(status, ctx.errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });

  const when = (iso) => instant(iso, ctx.language, zone);
  async function load() {
    try {
      const blocks = await api.get('/v1/counter/blocks');
      replace(
        list,
        blocks.items.length
          ? h(
              'ul',
              { class: 'list blocks-list' },
              blocks.items.map((b) =>
                h(
                  'li',
                  { class: 'block', dataset: { blockId: b.id, counter: b.counter || '' } },
                  h('div', { class: 'row' }, h('strong', {}, b.counter || t('blocks.whole_centre')), busyButton(t('blocks.remove'), () => remove(b), { class: 'small secondary', 'data-action': 'unblock' })),
                  h('div', {}, `${when(b.start)} – ${when(b.end)}`),
                  h('small', { class: 'hint' }, b.reason),
                ),
              ),
            )
          : h('p', { class: 'empty' }, t('blocks.none')),
      );
    } catch (error) {
      replace(list, ctx.errorBox(error, () => load()));
    }
  }
  async function remove(block) {
    replace(status);
    try {
      await api.del(`/v1/counter/blocks/${encodeURIComponent(block.id)}`);
      replace(status, h('p', { role: 'status' }, t('blocks.removed')));
    } catch (error) {
      replace(status, ctx.errorBox(error));
    }
    await load();
  }

  load();
  return h('section', { class: 'card blocks', 'aria-labelledby': 'blocks-title' }, h('h2', { id: 'blocks-title' }, t('blocks.title')), form, status, h('h3', {}, t('blocks.current')), list);
}
