// Sign-in with the providers the configuration enables (GET /v1/auth/providers). The dev provider
// (demo and test profiles) takes a handle, a name and a rider category; a real provider's code
// comes from its SDK in the host app, which can also hand a session in with #token=.

import { field, h, replace, select } from '/ui/dom.js';
import { errorBox, loadInto, loadingBox } from '/app/common.js';

const CATEGORIES = ['adult', 'child', 'student', 'elderly'];

export async function render(ctx, root) {
  const body = h('div', { class: 'signin' });
  replace(root, h('section', { class: 'card', 'aria-labelledby': 'signin-title' }, h('h2', { id: 'signin-title' }, ctx.t('signin.title')), h('p', { class: 'hint' }, ctx.t('signin.explain')), body));
  await loadInto(ctx, body, () => ctx.cached('/v1/auth/providers'), (providers) => [...providers.identity].sort((a, b) => Number(b.unverified) - Number(a.unverified)).map((p) => providerForm(ctx, p)));
}

function providerForm(ctx, provider) {
  const code = h('input', {
    name: 'code',
    required: true,
    autocomplete: provider.unverified ? 'username' : 'one-time-code',
    maxlength: provider.unverified ? 64 : 512,
    pattern: provider.unverified ? '[A-Za-z0-9_.\\-]{1,64}' : null,
    spellcheck: 'false',
    autocapitalize: 'none',
  });
  const parts = [
    h('h3', {}, provider.name),
    field(provider.unverified ? ctx.t('signin.handle') : ctx.t('signin.code', { provider: provider.name }), code, provider.unverified ? ctx.t('signin.handle_hint') : ctx.t('signin.code_hint')),
  ];
  let name = null;
  let category = null;
  if (provider.unverified) {
    name = h('input', { name: 'display_name', maxlength: 64, autocomplete: 'name' });
    category = select(CATEGORIES.map((c) => ({ value: c, label: ctx.t(`category.${c}`) })), { name: 'category', value: 'adult' });
    parts.push(field(ctx.t('signin.display_name'), name), field(ctx.t('signin.category'), category, ctx.t('signin.category_hint')));
  }
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'provider', dataset: { provider: provider.id } }, parts, h('button', { type: 'submit', class: 'primary' }, ctx.t('signin.submit')), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const request = { provider: provider.id, code: code.value.trim() };
    if (name && name.value.trim()) request.display_name = name.value.trim();
    if (category) request.category = category.value;
    replace(status, loadingBox(ctx, ctx.t('signin.signing_in')));
    try {
      const session = await ctx.api.post('/v1/auth/sessions', request);
      ctx.me = session.user;
      await ctx.signedIn(session.token);
    } catch (error) {
      replace(status, errorBox(ctx, error));
      code.focus();
    }
  });
  return form;
}
