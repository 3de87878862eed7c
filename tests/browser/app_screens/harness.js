/**
 * A test-only frame for the visit, progress, rejected and switch-user screens
 * (tests/browser/test_app_screens_visits.py): the app's store.js and sync.js, and a router
 * that follows the screens' contract (`#/<screen>/<args>`, `show(main, ctx, ...args)`, a
 * cleanup function when one is returned). Screens of other helpers are stand-ins that only
 * say where the app went. `document.body.dataset.screen` names the screen shown.
 */

import { open } from "/_s/app/js/store.js";
import { Sync } from "/_s/app/js/sync.js";
import { say } from "/_s/app/js/rules.js";

const SCREENS = ["visit-new", "visit", "progress", "rejected", "switch-user"];
const app = { store: null, sync: null };
let cleanup = null;
let shown = 0;

const ctx = {
  get store() {
    return app.store;
  },
  get sync() {
    return app.sync;
  },
  get user() {
    return app.sync.user;
  },
  go: (hash) => {
    location.hash = hash;
  },
  say: (msgid, values) => say(msgid, values, "vi"),
  // As the app's frame: a line that outlives one navigation.
  notice: (text) => {
    document.getElementById("status").textContent = text;
  },
};

async function route() {
  const turn = ++shown;
  const main = document.getElementById("main");
  if (cleanup) cleanup();
  cleanup = null;
  main.replaceChildren();
  document.body.dataset.screen = "";
  document.body.dataset.shown = "";
  const [name, ...args] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (!app.sync.user || !name || !SCREENS.includes(name)) {
    const stub = document.createElement("h1");
    stub.textContent = app.sync.user ? `${name} ${args.join(" ")}` : "login";
    main.append(stub);
    document.body.dataset.args = args.join("/");
    document.body.dataset.screen = app.sync.user ? `stub:${name}` : "login";
    document.body.dataset.shown = document.body.dataset.screen;
    return;
  }
  const module = await import(`/_s/app/js/screens/${name}.js`);
  const result = await module.show(main, ctx, ...args);
  if (turn !== shown) return;
  if (typeof result === "function") cleanup = result;
  document.body.dataset.args = args.join("/");
  document.body.dataset.screen = name;
  document.body.dataset.shown = name;
}

async function login(username, password) {
  await app.sync.login(username, password, "Tab screens");
  app.sync.start();
  await app.sync.syncNow();
}

async function start() {
  app.store = await open();
  await app.store.device();
  // Retries wait 1 ms: the tests never sleep.
  app.sync = new Sync({ store: app.store, fetch: window.fetch.bind(window), sleep: () => new Promise((r) => setTimeout(r, 1)) });
  // Every screen loaded now: a screen opened offline later needs no fetch.
  await Promise.all(SCREENS.map((name) => import(`/_s/app/js/screens/${name}.js`)));
  if (await app.sync.resume()) app.sync.start();
  window.addEventListener("hashchange", () => route());
  await route();
}

/**
 * Resolve once no sync runs and `user` has `n` records waiting; reject after `ms`. (A
 * condition checked in the page: Playwright's wait_for_function does not await promises.)
 */
async function settled(user, n, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const waiting = await app.store.waitingCount(user);
    if (!app.sync.running && waiting === n) return waiting;
    if (Date.now() > deadline) throw new Error(`still ${waiting} waiting (want ${n}), sync running: ${!!app.sync.running}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

window.T = { app, login, route, settled };
start().then(() => {
  window.harnessReady = true;
});
