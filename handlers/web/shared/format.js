// Money, places' local times and countdowns, on the server's clock.

// The server's time, as far as this page knows it: the phone's clock corrected by the offset
// seen in the last fresh server timestamp (a ride code's issued_at, a hold's created_at), so a
// phone whose clock is wrong still counts down to the server's expiry.
let skew = 0;

export function serverNow() {
  return Date.now() + skew;
}

export function noteServerTime(iso) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return;
  const seen = at - Date.now();
  if (Math.abs(seen - skew) > 2000) skew = seen;
}

const digitsCache = new Map();

function digitsOf(currency) {
  if (!digitsCache.has(currency)) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
    } catch {
      digits = 2;
    }
    digitsCache.set(currency, digits);
  }
  return digitsCache.get(currency);
}

// {amount: 1250, currency: 'HKD'} (integer minor units) -> "HK$12.50"
export function money(value, language) {
  if (!value || typeof value.amount !== 'number') return '';
  const digits = digitsOf(value.currency);
  const major = value.amount / 10 ** digits;
  try {
    return new Intl.NumberFormat(language, {
      style: 'currency',
      currency: value.currency,
      currencyDisplay: 'symbol',
      minimumFractionDigits: digits,
    }).format(major);
  } catch {
    return `${major.toFixed(digits)} ${value.currency}`;
  }
}

// An amount that may come as money or as bare minor units of a known currency.
export function asMoney(value, currency) {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return { amount: value, currency };
  return value;
}

// The API answers a place's times in that place's zone ("2031-03-04T09:45:00+08:00"): show that
// wall-clock time as written, whatever zone the phone is in.
function wallClock(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(String(iso || ''));
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0)));
}

function format(iso, language, options) {
  const at = wallClock(iso);
  if (!at) return '';
  return new Intl.DateTimeFormat(language, { ...options, timeZone: 'UTC' }).format(at);
}

export const localDateTime = (iso, language) =>
  format(iso, language, { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

// An instant (answered in UTC, say), shown in a named zone (a city's, a centre's) or the phone's.
export function instant(iso, language, timeZone, extra = {}) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const options = { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', ...extra };
  try {
    return new Intl.DateTimeFormat(language, timeZone ? { ...options, timeZone } : options).format(at);
  } catch {
    return new Intl.DateTimeFormat(language, options).format(at);
  }
}
export const localDate = (iso, language) => format(iso, language, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
export const localTime = (iso, language) => format(iso, language, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
export const dayLabel = (iso, language) => format(iso, language, { weekday: 'short', month: 'numeric', day: 'numeric' });

// Today's date (YYYY-MM-DD) in an IANA zone, on the server's clock.
export function todayIn(timeZone, days = 0) {
  const at = new Date(serverNow() + days * 86400000);
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

export function addDays(isoDate, days) {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

// Seconds left until `iso` on the server's clock (never below zero).
export function secondsUntil(iso) {
  return Math.max(0, Math.ceil((Date.parse(iso) - serverNow()) / 1000));
}

export function clockText(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}

// An instant's hh:mm in a named zone (a centre's), whatever zone the answer was written in.
export function timeIn(iso, language, timeZone) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(language, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone }).format(at);
  } catch {
    return localTime(iso, language);
  }
}

// A wall time typed in a date-time field ("2031-03-04T14:00") as RFC 3339 in a named zone:
// the zone's offset at that time ("2031-03-04T14:00:00+08:00").
export function wallTimeIn(local, timeZone) {
  const text = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(local) ? `${local}:00` : local;
  const asUtc = Date.parse(`${text}Z`);
  const offsetAt = (ms) => {
    const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value || '';
    const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  };
  const offset = offsetAt(asUtc - offsetAt(asUtc) * 60000);
  const abs = Math.abs(offset);
  return `${text}${offset < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
