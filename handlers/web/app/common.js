// Pieces every view of the rider app shares: loading and error states, dialogs, the consent
// prompt, the wallet and document forms, QR images fetched with the token.

import { busyButton, field, h, replace, select } from '/ui/dom.js';

export function loadingBox(ctx, text) {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text || ctx.t('loading'));
}

// The API's own message (in the chosen language), its code for support, and a way to try again.
export function errorBox(ctx, error, retry) {
  const box = h(
    'div',
    { class: 'error', role: 'alert', dataset: { code: error.code || 'error' } },
    h('p', {}, error.message || ctx.t('error.unknown')),
    error.code ? h('small', { class: 'code' }, error.code) : null,
  );
  if (retry) box.append(h('button', { type: 'button', onclick: retry }, ctx.t('retry')));
  return box;
}

// Runs `load` and shows loading, then what `draw` makes of the answer, or the error with a retry.
export async function loadInto(ctx, container, load, draw) {
  replace(container, loadingBox(ctx));
  try {
    const result = await load();
    if (container.isConnected || container.parentNode) replace(container, draw(result));
    return result;
  } catch (error) {
    replace(container, errorBox(ctx, error, () => loadInto(ctx, container, load, draw)));
    return undefined;
  }
}

// A modal dialog (native <dialog>: focus stays inside, Escape closes). Resolves with the value of
// the button pressed, or null.
export function dialog(ctx, { title, body, actions }) {
  return new Promise((resolve) => {
    const box = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' });
    const finish = (value) => {
      box.close();
      box.remove();
      resolve(value);
    };
    box.append(
      h('h2', { id: 'dialog-title' }, title),
      h('div', { class: 'dialog-body' }, body),
      h(
        'div',
        { class: 'actions' },
        actions.map((a) => h('button', { type: 'button', class: a.primary ? 'primary' : '', onclick: () => finish(a.value) }, a.label)),
      ),
    );
    box.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(null);
    });
    document.body.append(box);
    box.showModal();
    box.querySelector('button.primary')?.focus();
  });
}

export async function confirm(ctx, title, text, yes) {
  const answer = await dialog(ctx, {
    title,
    body: h('p', {}, text),
    actions: [
      { label: ctx.t('no'), value: false },
      { label: yes, value: true, primary: true },
    ],
  });
  return answer === true;
}

// Runs `action` (an idempotent request: the consent_required answer settles its key, so the run
// after the consent is a new request); when the API answers 403 consent_required, asks the
// rider, records the consent and runs it again. A group whose documents go to two places may
// need two consents, hence the loop.
export async function withConsent(ctx, action) {
  for (let round = 0; ; round += 1) {
    try {
      return await action();
    } catch (error) {
      if (error.code !== 'consent_required' || round >= 3) throw error;
      const { destination, purpose } = error.details;
      const given = await dialog(ctx, {
        title: ctx.t('consent.title'),
        body: [
          h('p', { class: 'api-message' }, error.message),
          h('p', {}, ctx.t('consent.explain', { destination: ctx.t(`region.${destination}`), purpose: ctx.t(`purpose.${purpose}`) })),
          h('p', { class: 'hint' }, ctx.t('consent.withdraw_hint')),
        ],
        actions: [
          { label: ctx.t('consent.decline'), value: false },
          { label: ctx.t('consent.agree'), value: true, primary: true },
        ],
      });
      if (!given) throw error;
      await ctx.api.post('/v1/me/consents', { destination, purpose }, { idempotent: true });
    }
  }
}

// A QR image that needs the rider's token: fetched with the header and shown from a blob URL
// (revoked when replaced). Returns {img, load(path), clear()}.
export function tokenImage(ctx, alt, className = 'qr') {
  const img = h('img', { class: className, alt, width: 280, height: 280 });
  let url = null;
  const clear = () => {
    if (url) URL.revokeObjectURL(url);
    url = null;
    img.removeAttribute('src');
  };
  return {
    img,
    clear,
    async load(path) {
      const next = await ctx.api.blobUrl(path);
      if (url) URL.revokeObjectURL(url);
      url = next;
      img.src = next;
      await img.decode().catch(() => {});
    },
  };
}

// Wallet: the currency the rider pays in and the provider that charges it (from configuration).
export async function walletForm(ctx, onSaved) {
  const providers = (await ctx.cached('/v1/auth/providers')).payment;
  if (!providers.length) return h('p', { class: 'error', role: 'alert' }, ctx.t('wallet.none'));
  const current = ctx.me?.wallet;
  const provider = select(providers.map((p) => ({ value: p.id, label: p.name })), { value: current?.provider || providers[0].id, name: 'provider' });
  const currencyOptions = () => {
    const chosen = providers.find((p) => p.id === provider.value) || providers[0];
    return chosen.currencies.map((c) => ({ value: c, label: ctx.t(`currency.${c}`) }));
  };
  let currency = select(currencyOptions(), { value: current?.currency || 'HKD', name: 'currency' });
  const currencyField = field(ctx.t('wallet.currency'), currency);
  provider.addEventListener('change', () => {
    const next = select(currencyOptions(), { name: 'currency', id: currency.id });
    currency.replaceWith(next);
    currency = next;
  });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card wallet-form', 'aria-labelledby': 'wallet-title' },
    h('h2', { id: 'wallet-title' }, ctx.t('wallet.title')),
    h('p', { class: 'hint' }, ctx.t('wallet.explain')),
    field(ctx.t('wallet.provider'), provider),
    currencyField,
    h('button', { type: 'submit', class: 'primary' }, ctx.t('wallet.save')),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(status, loadingBox(ctx, ctx.t('saving')));
    try {
      ctx.me = await ctx.api.put('/v1/me/wallet', { currency: currency.value, provider: provider.value });
      replace(status);
      await onSaved(ctx.me);
    } catch (error) {
      replace(status, errorBox(ctx, error));
    }
  });
  return form;
}

export const DOCUMENT_TYPES = ['home_return_permit', 'exit_entry_permit', 'hkid', 'macao_id', 'mainland_id', 'passport'];
const ISSUING = { home_return_permit: 'CN', exit_entry_permit: 'CN', hkid: 'HK', macao_id: 'MO', mainland_id: 'CN', passport: '' };

// Adding a travel document: the number goes to the API once and is only ever shown masked.
export function documentForm(ctx, onAdded, { today }) {
  const type = select(DOCUMENT_TYPES.map((d) => ({ value: d, label: ctx.t(`doc.${d}`) })), { name: 'type', value: 'home_return_permit' });
  const name = h('input', { name: 'holder_name', required: true, maxlength: 100, autocomplete: 'name' });
  const number = h('input', { name: 'number', required: true, minlength: 4, maxlength: 32, autocomplete: 'off', spellcheck: 'false' });
  const issuing = h('input', { name: 'issuing', required: true, pattern: '[A-Z]{2,3}', maxlength: 3, value: 'CN', autocapitalize: 'characters' });
  const expires = h('input', { name: 'expires', type: 'date', required: true, min: today });
  const endorsementDest = select(
    [{ value: '', label: ctx.t('doc.no_endorsement') }, { value: 'HK', label: ctx.t('region.HK') }, { value: 'MO', label: ctx.t('region.MO') }],
    { name: 'endorsement', value: '' },
  );
  const endorsementUntil = h('input', { name: 'endorsement_until', type: 'date', min: today });
  const endorsement = h(
    'fieldset',
    { class: 'endorsement', hidden: true },
    h('legend', {}, ctx.t('doc.endorsement')),
    field(ctx.t('doc.endorsement_for'), endorsementDest),
    field(ctx.t('doc.endorsement_until'), endorsementUntil),
  );
  type.addEventListener('change', () => {
    if (ISSUING[type.value]) issuing.value = ISSUING[type.value];
    endorsement.hidden = type.value !== 'exit_entry_permit';
  });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card document-form', 'aria-labelledby': 'doc-form-title' },
    h('h3', { id: 'doc-form-title' }, ctx.t('doc.add_title')),
    field(ctx.t('doc.type'), type),
    field(ctx.t('doc.holder_name'), name, ctx.t('doc.holder_hint')),
    field(ctx.t('doc.number'), number, ctx.t('doc.number_hint')),
    field(ctx.t('doc.issuing'), issuing),
    field(ctx.t('doc.expires'), expires),
    endorsement,
    h('button', { type: 'submit', class: 'primary' }, ctx.t('doc.add')),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = {
      type: type.value,
      holder_name: name.value.trim(),
      number: number.value.trim(),
      issuing: issuing.value.trim().toUpperCase(),
      expires: expires.value,
    };
    if (type.value === 'exit_entry_permit' && endorsementDest.value && endorsementUntil.value) {
      body.endorsements = [{ type: 'G', destination: endorsementDest.value, expires: endorsementUntil.value, entries: 1 }];
    }
    replace(status, loadingBox(ctx, ctx.t('saving')));
    try {
      const added = await ctx.api.post('/v1/me/documents', body, { idempotent: true });
      number.value = '';
      replace(status);
      await onAdded(added);
    } catch (error) {
      replace(status, errorBox(ctx, error));
      const fields = error.details?.fields || {};
      for (const [key] of Object.entries(fields)) form.querySelector(`[name="${CSS.escape(key)}"]`)?.setAttribute('aria-invalid', 'true');
    }
  });
  return form;
}

export function documentLine(ctx, doc) {
  return [
    h('strong', {}, doc.holder_name),
    ' · ',
    ctx.t(`doc.${doc.type}`),
    ' ',
    h('span', { class: 'mono' }, doc.number_masked),
  ];
}

export function statusChip(ctx, group, status) {
  return h('span', { class: `chip chip-${status}`, dataset: { status } }, ctx.t(`${group}.${status}`));
}

export { busyButton };
