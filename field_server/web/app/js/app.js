/**
 * The app's entry (docs/app.md): registers the service worker, asks the browser to keep the
 * app's storage, and runs the frame every screen lives in: the header (records waiting, time
 * of the last sync, the sync button, always visible) and one screen at a time, starting with
 * the login.
 *
 * Once a canvasser is logged in, a router shows the screen the address names: `#/<screen>`
 * or `#/<screen>/<arg>[/<arg2>]` (args URI-encoded), each screen an ES module
 * `screens/<screen>.js` exporting `show(main, ctx, ...args)` (docs/app.md#screens). Every
 * screen module is loaded when the app opens, not when first shown: the service worker may
 * install a newer shell while the app stays open for days, and a screen loaded later would
 * then come from another version than the app.js that runs it.
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
import { say as sayMessage } from "./messages.js";
import { open } from "./store.js";
import { Sync } from "./sync.js";

/** The screens the router knows, each `screens/<name>.js`; the first is the home screen. */
const SCREENS = [
  "groups",
  "households",
  "household-new",
  "household-edit",
  "visit-new",
  "visit",
  "progress",
  "rejected",
  "switch-user",
];
const HOME = "#/groups";

const TEXT = {
  never: "chưa",
  syncing: "Đang đồng bộ…",
  missing: "Nhập tên đăng nhập và mật khẩu.",
  offline: "Không có mạng. Hãy thử lại khi có mạng.",
  wrong: "Sai tên đăng nhập hoặc mật khẩu.",
  failed: "Không thực hiện được: ",
  storage: "Không mở được bộ nhớ của ứng dụng trên máy này: ",
  screenFailed: "Không mở được màn hình này: ",
  waitingOf: "Bản ghi chờ gửi trên máy này (người ghi cần đăng nhập và đồng bộ): ",
};

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Register the worker that serves the shell with no network (sw.js, scope /app/). */
async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  const script = new URL("../sw.js", import.meta.url);
  try {
    const registration = await navigator.serviceWorker.register(script, { scope: new URL("./", script).pathname });
    offerUpdates(registration);
  } catch (error) {
    // The app still works online; the next opening tries again.
    console.warn("service worker not registered:", error);
  }
}

/**
 * A new version waits (sw.js) until every window of the app is closed; meanwhile this page
 * offers it: "Cập nhật" lets the waiting worker take over, and the page reloads under it.
 * The records are in IndexedDB, so a reload loses nothing saved.
 * @param {ServiceWorkerRegistration} registration
 */
function offerUpdates(registration) {
  const offer = () => {
    if (registration.waiting && navigator.serviceWorker.controller) $("update").hidden = false;
  };
  registration.addEventListener("updatefound", () => {
    const next = registration.installing;
    if (next) next.addEventListener("statechange", offer);
  });
  $("update-now").addEventListener("click", () => {
    const waiting = registration.waiting;
    if (!waiting) return;
    navigator.serviceWorker.addEventListener("controllerchange", () => location.reload(), { once: true });
    waiting.postMessage({ type: "skip-waiting" });
  });
  offer();
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

/** Show the login, or the screen area (the router fills it). @param {"login" | "app"} name */
function show(name) {
  $("login").hidden = name !== "login";
  $("screen").hidden = name !== "app";
  $("back-bar").hidden = true;
  if (name === "login") document.body.dataset.current = "login";
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

/** A line that outlives one navigation ("Đã lưu"), cleared by the next. @param {string} text */
function notice(text) {
  const line = $("notice");
  line.textContent = text;
  line.dataset.kept = "1";
}

/**
 * `#/<screen>/<arg>…` -> {name, args}, the args URI-decoded.
 * @param {string} hash @returns {{name: string, args: string[]}}
 */
function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/");
  const decode = (/** @type {string} */ part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  return { name: decode(parts[0] || ""), args: parts.slice(1).map(decode) };
}

/**
 * The screen modules, each loaded the first time it is shown (from the service worker's
 * cache, offline too), so that opening the app loads only the frame and the home screen.
 * A screen module that fails to load gives null. No version mixing: a new service worker
 * waits until every window of the app is closed (sw.js), so an open page only ever loads
 * modules of the version it started with.
 */
class Screens {
  constructor() {
    /** @type {Map<string, Promise<{show: Function} | null>>} */
    this.loaded = new Map();
  }

  /** @param {string} name @returns {Promise<{show: Function} | null>} */
  get(name) {
    if (!SCREENS.includes(name)) return Promise.resolve(null);
    let module = this.loaded.get(name);
    if (!module) {
      module = import(`./screens/${name}.js`).then(
        (found) => (typeof found.show === "function" ? found : null),
        (error) => {
          console.warn(`screen ${name} not loaded:`, error);
          this.loaded.delete(name); // try again next time
          return null;
        },
      );
      this.loaded.set(name, module);
    }
    return module;
  }
}

/**
 * Which screen shows: the one the address names, rendered into a fresh element inside
 * #screen (a screen still rendering when the canvasser moves on writes into an element no
 * longer on the page). An unknown screen goes home. The browser's history is the back
 * button's: each entry carries its depth in the app, so "back" on the first screen shown
 * goes home instead of leaving the app.
 */
class Router {
  /**
   * @param {Screens} screens
   * @param {{store: any, sync: any}} services
   */
  constructor(screens, { store, sync }) {
    this.screens = screens;
    this.store = store;
    this.sync = sync;
    /** @type {string | null} */
    this.user = null;
    this.depth = 0;
    this.turn = 0;
    /** @type {(() => void) | null} */
    this.cleanup = null;
    window.addEventListener("hashchange", () => {
      const state = history.state;
      if (state && typeof state.depth === "number") {
        this.depth = state.depth; // back or forward to an entry we numbered
      } else {
        this.depth += 1; // a link followed: a new entry
        history.replaceState({ depth: this.depth }, "");
      }
      this.route();
    });
    $("back").addEventListener("click", (event) => {
      event.preventDefault();
      if (this.depth > 0) history.back();
      else this.go(HOME, { replace: true });
    });
  }

  /** Start showing screens for `user`, at home (once per login). @param {string} user */
  begin(user) {
    if (this.user === user) return;
    this.user = user;
    show("app");
    this.depth = 0;
    history.replaceState({ depth: 0 }, "", HOME);
    this.route();
  }

  /** Nobody is logged in any more (switch-user): no screen until the next login. */
  end() {
    this.user = null;
    this.turn += 1;
    if (this.cleanup) this.cleanup();
    this.cleanup = null;
    $("screen").replaceChildren();
    show("login");
  }

  /** Navigate to a hash; `replace` takes the place of the current entry (no way back to it). */
  go(/** @type {string} */ hash, { replace = false } = {}) {
    if (replace) {
      history.replaceState({ depth: this.depth }, "", hash);
      this.route();
    } else if (location.hash === hash) {
      this.route();
    } else {
      location.hash = hash;
    }
  }

  async route() {
    if (!this.user) return;
    const { name, args } = parseRoute(location.hash);
    const turn = ++this.turn;
    const screen = await this.screens.get(name);
    if (turn !== this.turn) return; // the canvasser moved on while it loaded
    if (!screen) {
      if (name === SCREENS[0]) say(TEXT.screenFailed + name);
      else this.go(HOME, { replace: true });
      return;
    }
    if (this.cleanup) {
      const done = this.cleanup;
      this.cleanup = null;
      try {
        done();
      } catch (error) {
        console.warn("screen cleanup failed:", error);
      }
    }
    const line = $("notice");
    if (line.dataset.kept) delete line.dataset.kept;
    else line.textContent = "";
    const host = $("screen");
    const main = document.createElement("div");
    main.className = "screen";
    main.dataset.screen = name;
    host.replaceChildren(main);
    document.body.dataset.current = name;
    delete document.body.dataset.shown;
    $("back-bar").hidden = name === SCREENS[0];
    const user = this.user;
    const ctx = {
      store: this.store,
      sync: this.sync,
      user,
      go: (/** @type {string} */ hash, /** @type {{replace?: boolean}} */ options) => this.go(hash, options),
      say: (/** @type {string} */ msgid, /** @type {Record<string, string | number>} */ values) => sayMessage(msgid, values, "vi"),
      notice,
    };
    let cleanup;
    try {
      cleanup = await screen.show(main, ctx, ...args);
    } catch (error) {
      console.error(`screen ${name} failed:`, error);
      say(TEXT.screenFailed + (error instanceof Error ? error.message : String(error)));
    }
    if (typeof cleanup === "function") {
      if (turn === this.turn) this.cleanup = cleanup;
      else cleanup(); // the canvasser moved on while it rendered
    }
    if (turn !== this.turn) return;
    const heading = main.querySelector("h1");
    if (heading && !main.contains(document.activeElement)) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
    document.body.dataset.shown = name; // tests wait for it: the screen is drawn
  }
}

/**
 * @typedef {{user: string | null, waiting: number, last_sync_at: string | null,
 *   syncing: boolean, error: {code?: string, message?: string} | null}} Status
 */

class Frame {
  /** @param {any} store @param {any} sync @param {Router} router */
  constructor(store, sync, router) {
    this.store = store;
    this.sync = sync;
    this.router = router;
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
    this.render(await this.status(user)); // shows the login, or the home screen
    if (user) this.sync.start();
  }

  /** @param {string | null} user @returns {Promise<Status>} */
  async status(user) {
    if (!user) return { user, waiting: await this.waitingOnTablet(), last_sync_at: null, syncing: false, error: null };
    const [waiting, state] = await Promise.all([this.store.waitingCount(user), this.store.syncState(user)]);
    return { user, waiting, last_sync_at: (state && state.last_sync_at) || null, syncing: false, error: null };
  }

  /**
   * With nobody logged in, what waits is every user's: a session that ended (or a hand-over)
   * leaves records on the tablet, and the login says whose, so the right person logs in.
   */
  async waitingOnTablet() {
    const byUser = await this.store.waitingByUser();
    const line = $("login-waiting");
    const users = Object.entries(byUser);
    line.hidden = users.length === 0;
    line.textContent = TEXT.waitingOf + users.map(([user, n]) => `${user} (${n})`).join(", ");
    return users.reduce((sum, [, n]) => sum + n, 0);
  }

  /** The header as the status says. @param {Status} status */
  render(status) {
    if (!status.user) {
      // The sync's own event knows no user's outbox then: count the tablet's.
      this.waitingOnTablet().then((n) => {
        if (this.sync.user) return; // someone logged in meanwhile
        $("waiting").textContent = String(n);
        $("waiting").dataset.waiting = String(n);
      });
    }
    const waiting = $("waiting");
    waiting.textContent = String(status.waiting);
    waiting.dataset.waiting = String(status.waiting);
    const last = $("last-sync");
    last.textContent = when(status.last_sync_at);
    last.dataset.lastSync = status.last_sync_at || "";
    const name = $("user-name");
    name.textContent = status.user || "–";
    name.dataset.user = status.user || "";
    this.syncButton.disabled = !status.user || status.syncing;
    if (status.syncing) say(TEXT.syncing);
    else if (status.error) say(reason(status.error));
    else if (status.user && status.last_sync_at) say("");
    // Someone logged in (or in another's place): their home screen; nobody: the login.
    if (status.user && status.user !== this.router.user) this.router.begin(status.user);
    else if (!status.user) {
      if (this.router.user) this.router.end();
      else show("login");
    }
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
    this.router.begin(username);
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
  const router = new Router(new Screens(), { store, sync });
  await new Frame(store, sync, router).start();
  document.body.dataset.ready = "true";
}

main();
