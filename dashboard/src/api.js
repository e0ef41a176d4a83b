// The API client. The access token lives only in this module's memory; the refresh token is an
// HttpOnly cookie the browser sends to /api/auth/session/refresh and no script can read.
const SESSION = '/api/auth/session';
const CSRF = { 'X-Requested-With': 'miyabi-dashboard' };
const EARLY_MS = 60_000; // refresh this long before the access token expires

let accessToken = null;
let timer = null;
let refreshing = null;
const endedListeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

export const token = () => accessToken;
export const signedIn = () => accessToken !== null;

/** Call `listener(message)` when the session ends without the person asking (refresh refused). */
export function onSessionEnded(listener) {
  endedListeners.add(listener);
  return () => endedListeners.delete(listener);
}

function keep(answer) {
  accessToken = answer.access_token;
  clearTimeout(timer);
  const wait = Math.max(5_000, answer.expires_in * 1000 - EARLY_MS);
  timer = setTimeout(() => refresh().catch(() => {}), wait);
}

function forget() {
  accessToken = null;
  clearTimeout(timer);
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return new ApiError(response.status, body.error.code, body.error.message, body.error.details);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(response.status, 'http_error', `The server answered ${response.status} ${response.statusText}.`);
}

async function send(path, { method = 'GET', body, org, signal, headers = {} } = {}) {
  const sent = { Accept: 'application/json', ...headers };
  if (accessToken) sent.Authorization = `Bearer ${accessToken}`;
  if (org) sent['X-Organization-Id'] = org;
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  try {
    return await fetch(path, {
      method, headers: sent, signal, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'Cannot reach the server; check the connection and try again.');
  }
}

/** JSON from `path`; an ApiError with the API's message otherwise. Retries once after a refresh. */
export async function api(path, options = {}) {
  let response = await send(path, options);
  if (response.status === 401 && accessToken && !options.noRetry) {
    if (await refresh()) response = await send(path, options);
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204 || response.status === 202) return null;
  return response.json();
}

async function refreshNow(quiet) {
  const response = await send(`${SESSION}/refresh`, { method: 'POST', headers: CSRF });
  if (response.ok) {
    keep(await response.json());
    return true;
  }
  const error = await errorOf(response);
  const had = accessToken !== null;
  forget();
  if (error.status === 401 && !(quiet && error.code === 'no_session')) {
    const message = had || error.code === 'refresh_token_reused' ? error.message : null;
    if (message) endedListeners.forEach((listener) => listener(message));
  } else if (error.status !== 401) {
    throw error;
  }
  return false;
}

/**
 * A new access token from the cookie. One refresh at a time across this browser's tabs (they
 * share the cookie, and a rotated token presented twice would revoke the session).
 */
export function refresh({ quiet = false } = {}) {
  if (!refreshing) {
    const run = () => refreshNow(quiet);
    const locked = navigator.locks ? navigator.locks.request('miyabi-session-refresh', run) : run();
    refreshing = locked.finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** Restore a session from the cookie at start; false when there is none. */
export const restore = () => refresh({ quiet: true });

export async function logIn(email, password, remember) {
  const response = await send(SESSION, { method: 'POST', headers: CSRF, body: { email, password, remember } });
  if (!response.ok) throw await errorOf(response);
  keep(await response.json());
}

export async function logOut() {
  try {
    await send(SESSION, { method: 'DELETE', headers: CSRF });
  } finally {
    forget();
  }
}
