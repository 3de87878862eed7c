/**
 * The sync engine (docs/app-core.md#syncjs): log in with the device credentials, push the
 * outbox in order, pull the copy by cursor, exactly as docs/sync-protocol.md says and as
 * field_sync/client.py, the reference client, behaves. Everything with side effects is
 * injected (the store, `fetch` through api.js, the clock, the sleep between retries, the
 * jitter), so tests can drop answers and never wait.
 *
 * The rules it keeps: an outbox entry leaves only when a 200 push answer lists it; a retry
 * resends the same batch, byte for byte (replays are harmless); numbers are never changed,
 * so a gap the outbox cannot fill stops the push with an error for a person.
 */

import { createApi, TransportError } from "./api.js";
import { MAX_BATCH } from "./outbox.js";

/** 401 codes after which the stored session is dead: only a new login helps. */
const SESSION_ENDED = ["refresh_reused", "token_invalid", "device_revoked", "token_expired"];

/**
 * The messages of the errors this module makes itself, in the Sync's `lang` (the server's
 * own come in its answers, asked for in the same language): the app shows them to the
 * canvasser as they are.
 */
const TEXTS = {
  en: {
    not_logged_in: "Log in first.",
    session_over: "Log in again; nothing recorded is lost.",
    incomplete_answer: "The server answered without results; the records stay waiting.",
    other_user_waiting: "{owner} must sync the records waiting on this tablet first.",
    mutation_gap:
      "The server expects mutation {expected} next, but this tablet's next is {start}; " +
      "mutations are never renumbered: ask a supervisor to check this device.",
    cursor_stuck: "The server said has_more but gave no new cursor.",
  },
  vi: {
    not_logged_in: "Hãy đăng nhập trước.",
    session_over: "Hãy đăng nhập lại; dữ liệu đã ghi không bị mất.",
    incomplete_answer: "Máy chủ trả lời nhưng thiếu kết quả; các bản ghi vẫn chờ gửi.",
    other_user_waiting: "{owner} cần đăng nhập và đồng bộ các bản ghi đang chờ gửi trên máy này trước.",
    mutation_gap:
      "Máy chủ cần thay đổi số {expected} tiếp theo, nhưng thay đổi tiếp theo của máy này là số {start}; " +
      "các thay đổi không bao giờ được đánh số lại: hãy nhờ giám sát viên kiểm tra máy này.",
    cursor_stuck: "Máy chủ báo has_more nhưng không gửi con trỏ mới.",
  },
};

export class SyncError extends Error {
  /** @param {string} code @param {string} message @param {any} [answer] */
  constructor(code, message, answer = null) {
    super(message);
    this.code = code;
    this.answer = answer;
  }
}

/** @param {import("./api.js").Answer} answer */
const refused = (answer) =>
  new SyncError(answer.code || `http_${answer.status}`, answer.body?.message || `HTTP ${answer.status}`, answer);

/**
 * @typedef {{store: import("./store.js").Store, fetch?: typeof fetch, base?: string,
 *   lang?: string, now?: () => number, sleep?: (ms: number) => Promise<void>,
 *   random?: () => number, maxAttempts?: number, backoffBaseMs?: number,
 *   backoffCapMs?: number, maxRetryAfterMs?: number, intervalMs?: number,
 *   batchSize?: number, pageSize?: number}} Options
 */

export class Sync extends EventTarget {
  /** @param {Options} options */
  constructor({
    store,
    fetch,
    base = "",
    lang = "vi",
    now = Date.now,
    sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random = Math.random,
    maxAttempts = 6,
    backoffBaseMs = 500,
    backoffCapMs = 60_000,
    maxRetryAfterMs = 600_000,
    intervalMs = 5 * 60_000,
    batchSize = MAX_BATCH,
    pageSize = 500,
  }) {
    super();
    this.store = store;
    this.request = createApi({ fetch, base, lang });
    this.lang = lang;
    this.now = now;
    this.sleep = sleep;
    this.random = random;
    this.maxAttempts = Math.max(1, maxAttempts);
    this.backoffBaseMs = backoffBaseMs;
    this.backoffCapMs = backoffCapMs;
    this.maxRetryAfterMs = maxRetryAfterMs;
    this.intervalMs = intervalMs;
    this.batchSize = Math.max(1, Math.min(batchSize, MAX_BATCH));
    this.pageSize = pageSize;
    /** @type {string | null} */
    this.user = null;
    /** @type {Promise<any> | null} */
    this.running = null;
    /** @type {Promise<any> | null} the one sync queued behind the running one */
    this.again = null;
    /** @type {(() => void) | null} */
    this.stopTriggers = null;
  }

  /**
   * One of this module's messages in `lang` (English for a language it lacks).
   * @param {keyof typeof TEXTS.en} key @param {Record<string, unknown>} [values]
   */
  say(key, values = {}) {
    const texts = TEXTS[/** @type {keyof typeof TEXTS} */ (this.lang)] || TEXTS.en;
    return texts[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
  }

  /** Tell the screens something changed: 'status' {user, waiting, last_sync_at, error, syncing}. */
  async emit(/** @type {any} */ error = null) {
    const user = this.user;
    const waiting = user ? await this.store.waitingCount(user) : 0;
    const state = user ? await this.store.syncState(user) : null;
    const detail = { user, waiting, last_sync_at: state?.last_sync_at ?? null, syncing: !!this.running, error };
    this.dispatchEvent(new CustomEvent("status", { detail }));
    return detail;
  }

  // --- HTTP with retries and token refresh ------------------------------------------------

  /**
   * Send with retries (no answer, 5xx, 429) and one token refresh on 401 token_expired.
   * @param {string} method @param {string} path
   * @param {{json?: unknown, auth?: boolean, retryRateLimited?: boolean}} [options]
   * @returns {Promise<import("./api.js").Answer>}
   */
  async call(method, path, { json, auth = true, retryRateLimited = true } = {}) {
    let attempt = 0;
    let refreshed = false;
    for (;;) {
      attempt += 1;
      let token = null;
      if (auth) {
        const session = this.user && (await this.store.session(this.user));
        if (!session) throw new SyncError("not_logged_in", this.say("not_logged_in"));
        token = session.access_token;
      }
      let answer;
      try {
        answer = await this.request(method, path, { json, token });
      } catch (error) {
        if (!(error instanceof TransportError) || attempt >= this.maxAttempts) throw error;
        await this.backoff(attempt, null);
        continue;
      }
      if (auth && answer.status === 401) {
        if (answer.code === "token_expired" && !refreshed) {
          await this.refresh();
          refreshed = true;
          attempt -= 1; // the refresh is not a failed attempt of this request
          continue;
        }
        throw await this.sessionOver(answer);
      }
      const retryable = answer.status >= 500 || (answer.status === 429 && retryRateLimited);
      if (retryable && attempt < this.maxAttempts) {
        await this.backoff(attempt, answer.headers.get("Retry-After"));
        continue;
      }
      return answer;
    }
  }

  /**
   * Exponential backoff with jitter, bounded; an explicit Retry-After is honoured (capped,
   * so a broken proxy cannot park the tablet for a day) with a little jitter on top, so a
   * ward's tablets told the same delay do not all come back at once.
   * @param {number} attempt @param {string | null} retryAfter
   */
  async backoff(attempt, retryAfter) {
    const told = this.retryAfterMs(retryAfter);
    let delay;
    if (told !== null) delay = Math.min(told, this.maxRetryAfterMs) + this.random() * this.backoffBaseMs;
    else {
      const ceiling = Math.min(this.backoffCapMs, this.backoffBaseMs * 2 ** (attempt - 1));
      delay = ceiling / 2 + (this.random() * ceiling) / 2;
    }
    await this.sleep(delay);
  }

  /** @param {string | null} value seconds or an HTTP date */
  retryAfterMs(value) {
    if (!value) return null;
    const text = value.trim();
    if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
    const when = Date.parse(text);
    return Number.isNaN(when) ? null : Math.max(0, when - this.now());
  }

  /**
   * A 401 the sync cannot get past. One that ends the session (SESSION_ENDED) logs the user
   * out of the tablet as `logout` does: triggers stopped, tokens and the "last logged in"
   * mark dropped, their outbox and copy kept. Nobody is logged in then, so the status event
   * that carries this error says user null and the app shows its login: only a new login
   * helps, and keeping the user would leave the app on screens whose every sync fails, with
   * no way to the login while records wait (switch-user asks for a sync first).
   * @param {import("./api.js").Answer} answer
   */
  async sessionOver(answer) {
    const user = this.user;
    if (user && SESSION_ENDED.includes(answer.code || "")) {
      this.stop();
      this.user = null;
      await this.store.logout(user);
    }
    return new SyncError(answer.code || "not_logged_in", answer.body?.message || this.say("session_over"), answer);
  }

  async refresh() {
    const user = /** @type {string} */ (this.user);
    const session = await this.store.session(user);
    if (!session) throw new SyncError("not_logged_in", this.say("not_logged_in"));
    const { device_id } = await this.store.device();
    // device_id lets the server recognise a retry after a lost answer (docs/api-auth.md).
    const answer = await this.call("POST", "/auth/refresh", {
      json: { refresh_token: session.refresh_token, device_id },
      auth: false,
    });
    if (answer.status === 401) throw await this.sessionOver(answer);
    if (answer.status !== 200 || !answer.body) throw refused(answer);
    await this.store.saveSession(user, { access_token: answer.body.access_token, refresh_token: answer.body.refresh_token });
  }

  // --- login ----------------------------------------------------------------------------

  /**
   * Log in as this tablet with its device credentials; the device's numbering adopts the
   * server's last_mutation_id when nothing waits (outbox.js adoptNumbering).
   * @param {string} username @param {string} password @param {string} [deviceName]
   */
  async login(username, password, deviceName) {
    const { device_id, device_secret } = await this.store.device();
    /** @type {Record<string, string>} */
    const json = { username, password, device_id, device_secret };
    if (deviceName) json.device_name = deviceName;
    // A refused login is not retried on 429: repeating a password will not help.
    const answer = await this.call("POST", "/auth/login", { json, auth: false, retryRateLimited: false });
    if (answer.status !== 200 || !answer.body) throw refused(answer);
    const body = answer.body;
    await this.store.saveSession(username, { access_token: body.access_token, refresh_token: body.refresh_token });
    await this.store.afterLogin(username, body.device?.last_mutation_id, body.server_hlc);
    this.user = username;
    await this.emit();
    return body;
  }

  /** Use a user already logged in on this tablet (the app reopened). */
  async resume() {
    this.user = await this.store.currentUser();
    return this.user;
  }

  // --- push -----------------------------------------------------------------------------

  /** Send the user's outbox in order, in batches of at most 500. */
  async push() {
    const user = /** @type {string} */ (this.user);
    const { device_id } = await this.store.device();
    const report = { batches: 0, sent: 0, acknowledged: 0, rejected: 0 };
    let size = this.batchSize;
    for (;;) {
      const batch = await this.store.takeBatch(user, size);
      if (!batch.length) return report;
      const answer = await this.call("POST", "/sync/push", { json: { device_id, mutations: batch } });
      if (answer.status === 413 && batch.length > 1) {
        size = Math.max(1, Math.floor(batch.length / 2)); // same mutations, smaller batches
        continue;
      }
      if (answer.status === 409 && answer.code === "mutation_gap") throw await this.gap(answer, batch[0].mutation_id);
      if (answer.status !== 200 || !answer.body) throw refused(answer);
      const tally = await this.store.applyPushAnswer(user, batch, answer.body);
      report.batches += 1;
      report.sent += batch.length;
      report.acknowledged += tally.acknowledged;
      report.rejected += tally.rejected;
      await this.emit();
      if (tally.unanswered === batch.length) {
        // A 200 that answers none of the batch would make us loop forever.
        throw new SyncError("incomplete_answer", this.say("incomplete_answer"), answer);
      }
    }
  }

  /**
   * 409 mutation_gap: the server lacks `expected` … start - 1. Numbers are never changed;
   * when another user of this tablet holds them, that user must sync first.
   * @param {import("./api.js").Answer} answer @param {number} start
   */
  async gap(answer, start) {
    const expected = answer.body?.details?.expected;
    const owner = typeof expected === "number" ? await this.store.ownerOf(expected) : null;
    if (owner && owner !== this.user) {
      return new SyncError("other_user_waiting", this.say("other_user_waiting", { owner }), answer);
    }
    return new SyncError("mutation_gap", this.say("mutation_gap", { expected, start }), answer);
  }

  // --- pull -----------------------------------------------------------------------------

  /** Page from the stored cursor until has_more is false; a reset builds a new copy. */
  async pull() {
    const user = /** @type {string} */ (this.user);
    let dropped = false;
    let pages = 0;
    for (;;) {
      const { cursor } = await this.store.syncState(user);
      const query = new URLSearchParams({ limit: String(this.pageSize) });
      if (cursor) query.set("cursor", cursor);
      const answer = await this.call("GET", `/sync/pull?${query}`);
      if (answer.status === 400 && answer.code === "cursor_invalid" && cursor && !dropped) {
        dropped = true; // start a full copy once; a second refusal is an error
        await this.store.dropCursor(user);
        continue;
      }
      if (answer.status !== 200 || !answer.body) throw refused(answer);
      const page = answer.body;
      await this.store.applyPull(user, page);
      pages += 1;
      if (!page.has_more) return pages;
      if (!page.cursor || page.cursor === cursor) throw new SyncError("cursor_stuck", this.say("cursor_stuck"));
    }
  }

  // --- one sync at a time, and its triggers ------------------------------------------------

  /**
   * Push, then pull (so the pull brings back what was just pushed). One at a time: a call
   * while a sync runs joins it. Resolves with {pushed, pages} or rejects with the error,
   * which the 'status' event also carries.
   */
  syncNow() {
    // A sync already running may have taken its batch before a record saved just now: one
    // more sync follows it (however many calls come meanwhile), and the caller waits for that.
    if (this.running) {
      if (!this.again) {
        this.again = this.running
          .catch(() => {})
          .then(() => {
            this.again = null;
            return this.user ? this.syncNow() : undefined;
          });
      }
      return this.again;
    }
    this.running = (async () => {
      try {
        if (!this.user) throw new SyncError("not_logged_in", this.say("not_logged_in"));
        await this.emit();
        const pushed = await this.push();
        const pages = await this.pull();
        await this.store.run(["meta"], "readwrite", async (tx) => {
          const state = await this.store.state(tx, /** @type {string} */ (this.user));
          tx.objectStore("meta").put({ ...state, last_sync_at: new Date(this.now()).toISOString() });
        });
        return { pushed, pages };
      } finally {
        this.running = null;
      }
    })();
    const run = this.running;
    run.then(
      () => this.emit(),
      (error) => this.emit({ code: error.code || "network", message: error.message }),
    );
    return run;
  }

  /** Sync now (errors go to the 'status' event), on 'online' and every `intervalMs`. */
  start() {
    if (this.stopTriggers) return;
    const soon = () => {
      this.syncNow().catch(() => {}); // reported through the 'status' event
    };
    globalThis.addEventListener("online", soon);
    const timer = setInterval(soon, this.intervalMs);
    this.stopTriggers = () => {
      globalThis.removeEventListener("online", soon);
      clearInterval(timer);
      this.stopTriggers = null;
    };
    soon();
  }

  stop() {
    if (this.stopTriggers) this.stopTriggers();
  }
  /** Log the current user out of this tablet (a hand-over): triggers stopped, session gone,
   * their outbox and copy kept. Screens check that nothing of theirs is waiting first. */
  async logout() {
    this.stop();
    const user = this.user;
    this.user = null;
    if (user) await this.store.logout(user);
    await this.emit();
  }

}
