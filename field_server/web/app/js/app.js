/**
 * The app's entry (docs/app.md): registers the service worker, asks the browser to keep the
 * app's storage, and runs the frame every screen lives in: the header (records waiting, time
 * of the last sync, the sync button, always visible) and one screen at a time, starting with
 * the login.
 *
 * The records, the outbox and the sync state are store.js's (IndexedDB); talking to the
 * server, and when to sync (on opening, when the network comes back, every few minutes), is
 * sync.js's. This module shows their state and passes the canvasser's actions on, through:
 *   open() -> store; store.waitingCount(user); store.syncState(user) -> {last_sync_at};
 *   new Sync({store, fetch}); sync.resume() -> the user logged in on this tablet, or null;
 *   sync.login(username, password); sync.syncNow(); sync.start() (its triggers);
 *   the "status" event: detail {user, waiting, last_sync_at, syncing, error}.
 */
import { TransportError } from "./api.js";
import { open } from "./store.js";
import { Sync } from "./sync.js";

const TEXT = {
  never: "chưa",
  syncing: "Đang đồng bộ…",
  missing: "Nhập tên đăng nhập và mật khẩu.",
  offline: "Không có mạng. Hãy thử lại khi có mạng.",
  wrong: "Sai tên đăng nhập hoặc mật khẩu.",
  failed: "Không thực hiện được: ",
  storage: "Không mở được bộ nhớ của ứng dụng trên máy này: ",
};

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Register the worker that serves the shell with no network (sw.js, scope /app/). */
async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  const script = new URL("../sw.js", import.meta.url);
  try {
    await navigator.serviceWorker.register(script, { scope: new URL("./", script).pathname });
  } catch (error) {
    // The app still works online; the next opening tries again.
    console.warn("service worker not registered:", error);
  }
}

/** Ask that the browser never evicts the app's storage (the outbox) to free space. */
async function keepStorage() {
  const storage = navigator.storage;
  if (!storage || !storage.persist) return;
  const kept = (await storage.persisted()) || (await storage.persist());
  document.documentElement.dataset.persisted = String(kept);
}

/** @param {string | null | undefined} iso */
function when(iso) {
  if (!iso) return TEXT.never;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return TEXT.never;
  return date.toLocaleString("vi-VN", { hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit" });
}

/** What to tell the canvasser about a failed login or sync. @param {unknown} error */
function reason(error) {
  const e = /** @type {{code?: string, message?: string}} */ (error || {});
  if (error instanceof TransportError || e.code === "network" || !navigator.onLine) return TEXT.offline;
  if (e.code === "invalid_credentials") return TEXT.wrong;
  // Otherwise the server's own message, asked for in Vietnamese (api.js's Accept-Language).
  return TEXT.failed + (e.message || String(error));
}

/** @param {string} name */
function show(name) {
  for (const screen of document.querySelectorAll("[data-screen]")) {
    /** @type {HTMLElement} */ (screen).hidden = screen.getAttribute("data-screen") !== name;
  }
  document.body.dataset.current = name;
}

function showNetwork() {
  const banner = $("network");
  banner.hidden = navigator.onLine;
  banner.dataset.online = String(navigator.onLine);
}

/** @param {string} text */
function say(text) {
  $("status").textContent = text;
}

/**
 * @typedef {{user: string | null, waiting: number, last_sync_at: string | null,
 *   syncing: boolean, error: {code?: string, message?: string} | null}} Status
 */

class Frame {
  /** @param {any} store @param {any} sync */
  constructor(store, sync) {
    this.store = store;
    this.sync = sync;
    this.syncButton = /** @type {HTMLButtonElement} */ ($("sync-now"));
  }

  async start() {
    this.sync.addEventListener("status", (/** @type {CustomEvent<Status>} */ event) => this.render(event.detail));
    this.syncButton.addEventListener("click", () => {
      this.sync.syncNow().catch(() => {}); // the "status" event says how it went
    });
    const form = /** @type {HTMLFormElement} */ ($("login-form"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.login(form);
    });
    /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]")).disabled = false;
    const user = await this.sync.resume();
    await this.render(await this.status(user));
    show(user ? "home" : "login");
    if (user) this.sync.start();
  }

  /** @param {string | null} user @returns {Promise<Status>} */
  async status(user) {
    if (!user) return { user, waiting: 0, last_sync_at: null, syncing: false, error: null };
    const [waiting, state] = await Promise.all([this.store.waitingCount(user), this.store.syncState(user)]);
    return { user, waiting, last_sync_at: (state && state.last_sync_at) || null, syncing: false, error: null };
  }

  /** The header as the status says. @param {Status} status */
  render(status) {
    const waiting = $("waiting");
    waiting.textContent = String(status.waiting);
    waiting.dataset.waiting = String(status.waiting);
    const last = $("last-sync");
    last.textContent = when(status.last_sync_at);
    last.dataset.lastSync = status.last_sync_at || "";
    const name = $("user-name");
    name.textContent = status.user || "";
    name.dataset.user = status.user || "";
    this.syncButton.disabled = !status.user || status.syncing;
    if (status.syncing) say(TEXT.syncing);
    else if (status.error) say(reason(status.error));
    else if (status.user && status.last_sync_at) say("");
  }

  /** @param {HTMLFormElement} form */
  async login(form) {
    const error = $("login-error");
    const data = new FormData(form);
    const username = String(data.get("username") || "").trim();
    const password = String(data.get("password") || "");
    if (!username || !password) {
      error.textContent = TEXT.missing;
      return;
    }
    error.textContent = "";
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
    button.disabled = true;
    try {
      await this.sync.login(username, password);
    } catch (failure) {
      error.textContent = reason(failure);
      return;
    } finally {
      button.disabled = false;
    }
    form.reset();
    show("home");
    this.sync.start();
  }
}

async function main() {
  registerWorker();
  keepStorage().catch(() => {}); // a refusal changes nothing the canvasser can act on
  showNetwork();
  window.addEventListener("online", showNetwork);
  window.addEventListener("offline", showNetwork);
  let store;
  try {
    store = await open();
  } catch (error) {
    say(TEXT.storage + (error instanceof Error ? error.message : String(error)));
    return;
  }
  const sync = new Sync({ store, fetch: window.fetch.bind(window) });
  await new Frame(store, sync).start();
  document.body.dataset.ready = "true";
}

main();
