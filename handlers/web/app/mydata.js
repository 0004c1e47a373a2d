// My data: profile and wallet, documents (masked), consents to send data to another
// jurisdiction (give, withdraw), the records of what was sent, and month-to-date fare products.

import { busyButton, field, h, replace, select } from '/ui/dom.js';
import { instant, money, todayIn } from '/ui/format.js';
import { confirm, dialog, documentForm, documentLine, errorBox, loadInto, statusChip, walletForm } from '/app/common.js';

const DESTINATIONS = ['CN', 'HK', 'MO'];
// When a consent was given and data sent, in the Bay Area's time (UTC+8 in all three places), as
// every other time in the app: not the phone's zone (a visitor's phone may still be on another).
const ZONE = 'Asia/Hong_Kong';
const PURPOSES = ['travel_booking', 'appointment', 'ride_code'];

export async function render(ctx, root) {
  const profile = h('div');
  const documents = h('div');
  const consents = h('div');
  const transfers = h('div');
  const products = h('section', { class: 'card', hidden: true, 'aria-labelledby': 'products-title' });
  const card = (id, title, body, extra) => h('section', { class: 'card', 'aria-labelledby': id }, h('div', { class: 'card-head' }, h('h2', { id }, title), extra), body);
  replace(
    root,
    card('profile-title', ctx.t('data.profile'), profile),
    products,
    card('documents-title', ctx.t('data.documents'), documents),
    card('consents-title', ctx.t('data.consents'), consents),
    card('transfers-title', ctx.t('data.transfers'), transfers, busyButton(ctx.t('refresh'), () => loadTransfers(), { class: 'secondary small' })),
  );

  const drawProfile = async () => {
    const me = ctx.me;
    replace(
      profile,
      h('dl', { class: 'facts' }, h('dt', {}, ctx.t('data.name')), h('dd', {}, me.display_name || '—'), h('dt', {}, ctx.t('signin.category')), h('dd', {}, ctx.t(`category.${me.category}`)), h('dt', {}, ctx.t('wallet.title')), h('dd', { class: 'wallet' }, me.wallet ? `${ctx.t(`currency.${me.wallet.currency}`)} · ${me.wallet.provider}` : ctx.t('wallet.not_set'))),
      h('details', { class: 'wallet-change', open: !me.wallet }, h('summary', {}, ctx.t('wallet.change')), await walletForm(ctx, () => drawProfile())),
    );
  };

  const loadDocuments = () =>
    loadInto(ctx, documents, () => ctx.api.get('/v1/me/documents'), (page) => [
      page.items.length
        ? h('ul', { class: 'list' }, page.items.map((doc) => h('li', { class: 'document', dataset: { documentId: doc.id } }, h('div', {}, documentLine(ctx, doc)), h('small', { class: 'hint' }, ctx.t('doc.expires_on', { date: doc.expires })), busyButton(ctx.t('delete'), async () => {
          if (!(await confirm(ctx, ctx.t('doc.delete_title'), ctx.t('doc.delete_confirm', { name: doc.holder_name }), ctx.t('delete')))) return;
          try {
            await ctx.api.del(`/v1/me/documents/${encodeURIComponent(doc.id)}`);
            await loadDocuments();
          } catch (error) {
            documents.prepend(errorBox(ctx, error));
          }
        }, { class: 'danger small' }))))
        : h('p', { class: 'empty' }, ctx.t('doc.none')),
      h('details', { class: 'add-document' }, h('summary', {}, ctx.t('doc.add_title')), documentForm(ctx, () => loadDocuments(), { today: todayIn(ZONE) })),
    ]);

  const loadConsents = () =>
    loadInto(ctx, consents, () => ctx.api.get('/v1/me/consents'), (page) => {
      const destination = select(DESTINATIONS.map((d) => ({ value: d, label: ctx.t(`region.${d}`) })), { name: 'destination', value: 'CN' });
      const purpose = select(PURPOSES.map((p) => ({ value: p, label: ctx.t(`purpose.${p}`) })), { name: 'purpose', value: 'travel_booking' });
      const status = h('div', { 'aria-live': 'polite' });
      const give = h('form', { class: 'give-consent' }, h('h3', {}, ctx.t('consent.give_title')), h('p', { class: 'hint' }, ctx.t('consent.give_explain')), h('div', { class: 'grid2' }, field(ctx.t('consent.destination'), destination), field(ctx.t('consent.purpose'), purpose)), h('button', { type: 'submit', class: 'primary' }, ctx.t('consent.give')), status);
      give.addEventListener('submit', async (event) => {
        event.preventDefault();
        try {
          await ctx.api.post('/v1/me/consents', { destination: destination.value, purpose: purpose.value }, { idempotent: true });
          await loadConsents();
        } catch (error) {
          replace(status, errorBox(ctx, error));
        }
      });
      const items = page.items.map((c) =>
        h(
          'li',
          { class: 'consent', dataset: { consentId: c.id, status: c.status } },
          h('div', { class: 'row' }, h('strong', {}, ctx.t(`region.${c.destination}`), ' · ', ctx.t(`purpose.${c.purpose}`)), statusChip(ctx, 'consent', c.status)),
          h('small', { class: 'hint' }, ctx.t('consent.given_at', { when: instant(c.given_at, ctx.language, ZONE) }), c.withdrawn_at ? ` · ${ctx.t('consent.withdrawn_at', { when: instant(c.withdrawn_at, ctx.language, ZONE) })}` : ''),
          c.status === 'active'
            ? busyButton(ctx.t('consent.withdraw'), async () => {
              if (!(await confirm(ctx, ctx.t('consent.withdraw_title'), ctx.t('consent.withdraw_confirm'), ctx.t('consent.withdraw')))) return;
              try {
                const answer = await ctx.api.del(`/v1/me/consents/${encodeURIComponent(c.id)}`);
                await loadConsents();
                if (answer?.notice || answer?.already_sent?.length) await alreadySent(answer);
              } catch (error) {
                consents.prepend(errorBox(ctx, error));
              }
            }, { class: 'danger small', 'data-action': 'withdraw' })
            : null,
        ),
      );
      return [items.length ? h('ul', { class: 'list' }, items) : h('p', { class: 'empty' }, ctx.t('consent.none')), give];
    });

  const loadTransfers = () =>
    loadInto(ctx, transfers, () => ctx.api.get('/v1/me/data-transfers?limit=50'), (page) =>
      page.items.length
        ? h('ul', { class: 'list' }, page.items.map((x) => h(
          'li',
          { class: 'transfer', dataset: { transferId: x.id } },
          h('div', { class: 'row' }, h('strong', {}, x.recipient_name), h('span', { class: 'chip' }, `${ctx.t(`region.${x.origin}`)} → ${ctx.t(`region.${x.destination}`)}`)),
          h('dl', { class: 'facts' },
            h('dt', {}, ctx.t('transfer.whose')), h('dd', {}, x.subject_name),
            h('dt', {}, ctx.t('transfer.fields')), h('dd', {}, x.fields.map((f) => ctx.t(`field.${f}`)).join(ctx.t('list_separator'))),
            h('dt', {}, ctx.t('transfer.purpose')), h('dd', {}, ctx.t(`purpose.${x.purpose}`)),
            h('dt', {}, ctx.t('transfer.basis')), h('dd', {}, x.legal_basis.split('+').map((b) => ctx.t(`basis.${b}`)).join(ctx.t('list_separator'))),
            h('dt', {}, ctx.t('transfer.when')), h('dd', {}, instant(x.transferred_at, ctx.language, ZONE)),
            h('dt', {}, ctx.t('transfer.kept_until')), h('dd', {}, instant(x.retain_until, ctx.language, ZONE, { year: 'numeric' })),
            h('dt', {}, ctx.t('transfer.reference')), h('dd', { class: 'mono' }, x.reference),
          ),
        )))
        : h('p', { class: 'empty' }, ctx.t('transfer.none')),
    );

  // After a withdrawal: what had already gone to that destination, and whom to ask about it.
  const alreadySent = (answer) =>
    dialog(ctx, {
      title: ctx.t('consent.withdrawn_title'),
      body: [
        answer.notice ? h('p', {}, answer.notice) : null,
        (answer.already_sent || []).length
          ? h('ul', { class: 'list already-sent' }, answer.already_sent.map((x) => h(
            'li',
            { dataset: { recipient: x.recipient } },
            h('strong', {}, x.recipient_name),
            h('p', { class: 'hint' }, x.fields.map((f) => ctx.t(`field.${f}`)).join(ctx.t('list_separator'))),
            x.contact ? h('p', { class: 'contact' }, [x.contact.email, x.contact.phone, x.contact.url, x.contact.address].filter(Boolean).join(' · ')) : null,
          )))
          : null,
      ],
      actions: [{ label: ctx.t('ok'), value: true, primary: true }],
    });

  // Month-to-date fare products, where the service offers them.
  const loadProducts = async () => {
    try {
      const answer = await ctx.api.get('/v1/me/fare-products');
      const items = answer?.items || [];
      if (!items.length) return;
      products.hidden = false;
      replace(products, h('h2', { id: 'products-title' }, ctx.t('data.fare_products')), h('ul', { class: 'list' }, items.map((p) => h('li', { class: 'product' }, h('strong', {}, p.name || p.product || p.id), p.spent ? ` · ${money(p.spent, ctx.language)}` : '', p.cap ? ` / ${money(p.cap, ctx.language)}` : '', p.journeys !== undefined ? ` · ${ctx.t('data.journeys_count', { count: p.journeys })}` : ''))));
    } catch {
      products.hidden = true; // not offered by this deployment (yet)
    }
  };

  await drawProfile();
  loadDocuments();
  loadConsents();
  loadTransfers();
  loadProducts();
  return null;
}
