/**
 * The store and sync tests' page helpers (tests/browser/test_app_store.py,
 * test_app_sync.py): the app's store.js and sync.js, and drafts like the screens make.
 * pytest drives them with page.evaluate; `window.harnessReady` says they are loaded.
 */

import { newId, open } from "/_t/app/js/store.js";
import { Sync } from "/_t/app/js/sync.js";

/** @type {{store: import("/_t/app/js/store.js").Store | null, sync: Sync | null, dropped: number}} */
const app = { store: null, sync: null, dropped: 0 };

/** Open the store and a Sync on it; retries wait 1 ms (the tests never sleep). */
async function start() {
  app.store = await open();
  await app.store.device();
  app.sync = new Sync({ store: app.store, sleep: () => new Promise((r) => setTimeout(r, 1)), lang: "en" });
  await app.sync.resume();
  return (await app.store.device()).device_id;
}

/** A new household, as the new-household screen saves it. */
function household(ward, group, address) {
  return {
    type: "household.upsert",
    id: newId(),
    base_version: 0,
    data: { ward, group, address, lat: 20.95, lon: 105.94, head_name: "Nguyễn Văn A", phone: null },
  };
}

/** A visit, as the visit screen saves it (installed: 4 adults, 3 smartphones, 1 + 2 installs). */
function visit(householdId, extra = {}) {
  return {
    type: "visit.create",
    id: newId(),
    data: {
      household_id: householdId,
      visited_at: "2020-08-15T09:31:00+07:00",
      outcome: "installed",
      adults: 4,
      smartphones: 3,
      installed_before: 1,
      installed_during: 2,
      priority_subjects: 0,
      priority_installed: 0,
      notes: "",
      ...extra,
    },
  };
}

window.T = { app, start, household, visit, newId };
window.harnessReady = true;
