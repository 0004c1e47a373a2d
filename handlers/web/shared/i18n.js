// Three languages, chosen as the service chooses them: en, zh-Hant (Hong Kong, Macao, Taiwan,
// Cantonese), zh-Hans (the mainland, Singapore, plain zh). The page's choice is kept per browser.

export const LANGUAGES = ['en', 'zh-Hant', 'zh-Hans'];
export const LANGUAGE_NAMES = { en: 'English', 'zh-Hant': '繁體中文', 'zh-Hans': '简体中文' };
const TRADITIONAL = ['hk', 'mo', 'tw', 'hant'];
const SIMPLIFIED = ['cn', 'sg', 'my', 'hans'];

export function languageOf(tag) {
  if (!tag) return null;
  const parts = String(tag).toLowerCase().replace(/_/g, '-').split('-');
  if (parts[0] === 'en') return 'en';
  if (parts[0] === 'zh' || parts[0] === 'yue') {
    for (const part of parts.slice(1)) {
      if (TRADITIONAL.includes(part)) return 'zh-Hant';
      if (SIMPLIFIED.includes(part)) return 'zh-Hans';
    }
    return parts[0] === 'yue' ? 'zh-Hant' : 'zh-Hans';
  }
  return null;
}

const STORE_KEY = 'bya.lang';

// ?lang= first, then what this browser chose before, then the browser's languages, then English.
export function initialLanguage(query) {
  const asked = LANGUAGES.find((l) => l.toLowerCase() === String(query || '').toLowerCase());
  if (asked) return asked;
  const stored = safeStorage()?.getItem(STORE_KEY);
  if (LANGUAGES.includes(stored)) return stored;
  for (const tag of navigator.languages || [navigator.language]) {
    const language = languageOf(tag);
    if (language) return language;
  }
  return 'en';
}

export function rememberLanguage(language) {
  safeStorage()?.setItem(STORE_KEY, language);
}

function safeStorage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

// t('key', {name}) with {name} placeholders. A missing key shows in English, else as the code
// after the group's dot (a status or field name the API added later still reads).
export function translator(strings, getLanguage) {
  return function t(key, params = {}) {
    const template = strings[getLanguage()]?.[key] ?? strings.en[key] ?? key.slice(key.indexOf('.') + 1);
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  };
}
