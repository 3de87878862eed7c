/**
 * How the app talks HTTP to /api/v1: one `request` over an injected `fetch`, answering every
 * HTTP status as {status, headers, body, code} (4xx and 5xx too: the sync branches on the
 * error envelope's `code`, docs/errors.md) and throwing TransportError only when no answer
 * arrived (offline, a cut connection, a timeout): the request may or may not have been
 * applied. field_sync/transport.py is the reference client's counterpart.
 */

export class TransportError extends Error {}

/**
 * @typedef {{status: number, headers: Headers, body: any, code: string | null}} Answer
 * @typedef {(method: string, path: string, options?: {json?: unknown, token?: string | null}) => Promise<Answer>} Request
 */

/**
 * @param {{fetch?: typeof fetch, base?: string, lang?: string, timeoutMs?: number}} [options]
 *   base: the server's origin ("" for the page's own); lang: Accept-Language (messages in
 *   the answers, "vi" for the canvassers).
 * @returns {Request}
 */
export function createApi({ fetch: fetcher = globalThis.fetch.bind(globalThis), base = "", lang = "vi", timeoutMs = 30_000 } = {}) {
  return async (method, path, { json, token } = {}) => {
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json", "Accept-Language": lang };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    let raw;
    try {
      response = await fetcher(`${base}/api/v1${path}`, {
        method,
        headers,
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: AbortSignal.timeout(timeoutMs),
        credentials: "omit", // the API is token-only; no session cookie goes along
      });
      raw = await response.text();
    } catch (error) {
      throw new TransportError(`${method} ${path}: ${error instanceof Error ? error.message : error}`);
    }
    let body = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = null; // a proxy's HTML error page: no envelope
    }
    const code = body && typeof body.code === "string" ? body.code : null;
    return { status: response.status, headers: response.headers, body, code };
  };
}
