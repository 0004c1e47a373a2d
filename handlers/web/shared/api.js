// The public API, as the frontends call it: bearer token, Accept-Language, Idempotency-Key on
// creating requests, and the one error shape turned into an ApiError carrying the API's message
// (already in the chosen language).

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

// An Idempotency-Key for one press of a button (crypto.randomUUID needs a secure context; a phone
// opening the page over plain http on the local network has only getRandomValues).
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Whether the service keeps an answer to replay for its key (as bayaffairs/idempotency.py): a
// "try again" answer (409, 429, 5xx) is not kept, and neither is an answer that never came.
const settled = (status) => status > 0 && status < 500 && status !== 409 && status !== 429;

export function createApi({ token, language, texts, onUnauthorized }) {
  // One Idempotency-Key per thing the person means to do, not per press: a request sent with
  // `idempotent: true` takes the key of the same request (same credential, path and body) still
  // unsettled (its answer lost on the way, or "try again"), so pressing again after a network
  // failure gets the first answer instead of a second booking, payment or call; a double tap
  // meanwhile shares the key too. A settled answer frees the key: the next press is a new request.
  const unsettled = new Map();

  async function send(method, path, { body, key, idempotent = false, headers = {} } = {}) {
    const all = { Accept: 'application/json', 'Accept-Language': language(), ...headers };
    const bearer = token();
    if (bearer) all.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) all['Content-Type'] = 'application/json';
    const request = idempotent ? JSON.stringify([bearer, method, path, body ?? null]) : null;
    if (request) {
      key = unsettled.get(request) || newKey();
      unsettled.set(request, key);
    }
    if (key) all['Idempotency-Key'] = key;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: all,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch {
      throw new ApiError(0, 'network_error', texts().network);
    }
    if (request && settled(response.status)) unsettled.delete(request);
    if (!response.ok && response.status !== 304) {
      const error = await errorOf(response, texts);
      if (response.status === 401 && onUnauthorized) onUnauthorized(error);
      throw error;
    }
    return response;
  }

  async function json(method, path, options) {
    const response = await send(method, path, options);
    if (response.status === 204 || response.status === 304) return null;
    return response.json();
  }

  return {
    send,
    get: (path, options) => json('GET', path, options),
    post: (path, body, options = {}) => json('POST', path, { ...options, body: body ?? {} }),
    put: (path, body, options = {}) => json('PUT', path, { ...options, body }),
    del: (path, options) => json('DELETE', path, options),
    // An image or file that needs the token: fetched with the header, handed out as a blob URL.
    async blobUrl(path) {
      const response = await send('GET', path, { headers: { Accept: '*/*' } });
      return URL.createObjectURL(await response.blob());
    },
  };
}

async function errorOf(response, texts) {
  let body = null;
  if ((response.headers.get('Content-Type') || '').includes('application/json')) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  const error = body && body.error;
  if (error && typeof error.code === 'string') {
    return new ApiError(response.status, error.code, String(error.message || error.code), error.details);
  }
  return new ApiError(response.status, `http_${response.status}`, texts().http.replace('{status}', response.status));
}
