// Building the page from nodes, never from markup strings: every string from the API (names, messages, addresses)
// becomes a text node, so nothing the API or a rider typed can turn into markup or script.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'open', 'required']);

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (PROPERTIES.has(key)) {
      el[key] = value;
    } else if ((key === 'href' || key === 'src') && !safeUrl(value)) {
      throw new Error(`refusing ${key}=${value}`);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

// Only our own paths, blob: URLs we made, and same-page anchors: never javascript: or another site.
function safeUrl(value) {
  const text = String(value);
  return text.startsWith('/') && !text.startsWith('//') || text.startsWith('blob:') || text.startsWith('#');
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const parts = [h('label', { for: id }, label), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute('aria-describedby', hintId);
    parts.push(h('small', { id: hintId, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

export function select(options, { value, ...props } = {}) {
  const el = h('select', props);
  for (const option of options) {
    if (option.group) {
      const group = h('optgroup', { label: option.group });
      for (const o of option.options) group.append(h('option', { value: o.value, selected: o.value === value }, o.label));
      el.append(group);
    } else {
      el.append(h('option', { value: option.value, selected: option.value === value }, option.label));
    }
  }
  if (value !== undefined) el.value = value;
  return el;
}

// A button that shows it is busy while `action` runs, and cannot be pressed twice meanwhile.
export function busyButton(label, action, props = {}) {
  const button = h('button', { type: 'button', ...props }, label);
  button.addEventListener('click', async () => {
    if (button.getAttribute('aria-busy') === 'true') return;
    button.setAttribute('aria-busy', 'true');
    button.disabled = true;
    try {
      await action(button);
    } finally {
      button.removeAttribute('aria-busy');
      if (button.isConnected) button.disabled = false;
    }
  });
  return button;
}
