/**
 * The tablet's IndexedDB (docs/app-core.md#the-tablets-store): the device identity, each
 * user's outbox and sync state, and each user's pulled copy of units, assignments,
 * households and visits. Every change that must hold together is one IndexedDB transaction
 * (a saved record and its outbox entry; a push answer; a pull page and its cursor), so a
 * closed browser or a flat battery leaves either all of it or none.
 *
 * The outbox's logic is outbox.js's; this module only keeps its state. Mutation ids are the
 * device's (the server numbers per device, and a shared tablet's numbering goes on from one
 * user to the next, docs/api-auth.md), so the next id lives once in `meta`, and each user's
 * outbox holds only that user's mutations.
 *
 * A copy is tagged with a generation: `reset` (or a first pull) builds generation g + 1
 * beside g, and the page with `has_more: false` swaps them, keeping local records still
 * waiting in the outbox. Records are keyed [user, gen, id], so two users never mix.
 *
 * Each household row carries `search`, its folded search text (`searchKey`), written here
 * whenever a household enters the copy, so that the households screen never folds 5,000
 * addresses as it opens. Every transaction that changes what the copy shows also writes a
 * new `copy:<user>` stamp in `meta` (`copyStamp`): `copy(user)` keeps the whole copy in
 * memory for as long as the stamp stays the same (a write from another tab changes it too),
 * and a screen may keep what it made of that copy as long. A record saved in this page
 * updates the copy kept in memory instead of dropping it.
 */

import { normaliseAddress } from "./address.js";
import { formatHlc, merge as mergeHlc, parseHlc, tick } from "./hlc.js";
import { adoptNumbering, applyResults, emptyOutbox, enqueue, survivor, takeBatch as cutBatch } from "./outbox.js";

export const DB_NAME = "field-app";
export const DB_VERSION = 2;
/** Where a visit.create or household.upsert writes in the local copy. */
const STORE_OF_TYPE = {
  "household.upsert": "households",
  "visit.create": "visits",
  "visit.update": "visits",
  "visit.void": "visits",
};
const COPY_STORES = ["units", "households", "visits"];
/** 48 random bytes: a 64-character secret, inside the 32 to 128 the server takes. */
const SECRET_BYTES = 48;

/** Lowercase, no accents, đ as d: what a search compares. @param {string} text */
export function fold(text) {
  return text
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .replace(/[đĐ]/g, "d")
    .toLowerCase();
}

/**
 * A household's search text: its address folded, its normalised address folded and its
 * head's name folded (the households screen's search looks for the typed words in it).
 * @param {{address?: string | null, head_name?: string | null}} data
 */
export function searchKey(data) {
  const address = data.address || "";
  return `${fold(address)} ${fold(normaliseAddress(address))} ${fold(data.head_name || "")}`;
}

/**
 * The schema, one step per version: a tablet that skipped versions runs every step it
 * missed, in order. Never change a step that has shipped; add the next one.
 * @type {((db: IDBDatabase, tx: IDBTransaction) => void)[]}
 */
const UPGRADES = [
  (db) => {
    db.createObjectStore("meta", { keyPath: "key" });
    db.createObjectStore("outbox", { keyPath: "user" });
    const key = { keyPath: ["user", "gen", "id"] };
    db.createObjectStore("units", key);
    db.createObjectStore("households", key).createIndex("group", ["user", "gen", "data.group"]);
    db.createObjectStore("visits", key).createIndex("household", ["user", "gen", "data.household_id"]);
  },
  // 2: households carry their search text; the rows already stored get it here.
  (_db, tx) => {
    const cursor = tx.objectStore("households").openCursor();
    cursor.onsuccess = () => {
      const at = cursor.result;
      if (!at) return;
      at.update({ ...at.value, search: searchKey(at.value.data || {}) });
      at.continue();
    };
  },
];

/** @param {IDBRequest} request @returns {Promise<any>} */
export function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** All keys of one user's generation: [user, gen] sorts before [user, gen, id] < [user, gen, []]. */
const genRange = (/** @type {string} */ user, /** @type {number} */ gen) =>
  IDBKeyRange.bound([user, gen], [user, gen, []]);

/** The RFC 4122 v4 form of 16 random bytes. @param {Uint8Array} b */
function uuid4(b) {
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A new random UUID, made with crypto.getRandomValues (works outside secure contexts too). */
export const newId = () => uuid4(crypto.getRandomValues(new Uint8Array(16)));

function newSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * A user's sync state, as kept in `meta` under `sync:<user>`.
 * @typedef {{key: string, user: string, cursor: string | null, server_hlc: string | null,
 *   last_sync_at: string | null, last_mutation_id: number | null, gen: number,
 *   building: number | null, merges: Record<string, string>}} SyncState
 */
/** @param {string} user @returns {SyncState} */
const freshState = (user) => ({
  key: `sync:${user}`,
  user,
  cursor: null,
  server_hlc: null,
  last_sync_at: null,
  last_mutation_id: null,
  gen: 0,
  building: null,
  merges: {},
});

export class Store {
  /** @param {IDBDatabase} db @param {{now?: () => number}} [options] */
  constructor(db, { now = Date.now } = {}) {
    this.db = db;
    this.now = now;
    /** Each user's copy as last read, with its stamp (`copy`). @type {Map<string, Copy>} */
    this.kept = new Map();
  }

  /**
   * Run `fn` in one transaction and resolve with its value once the transaction has
   * committed (oncomplete): only then is the change on disk. `fn` may await IndexedDB
   * requests (via `done`) but nothing else, or the transaction would close under it.
   * @template T
   * @param {string[]} stores @param {IDBTransactionMode} mode
   * @param {(tx: IDBTransaction) => Promise<T>} fn
   * @returns {Promise<T>}
   */
  run(stores, mode, fn) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(stores, mode, { durability: "strict" });
      /** @type {T} */
      let value;
      tx.oncomplete = () => resolve(value);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
      fn(tx).then(
        (v) => {
          value = v;
        },
        (error) => {
          try {
            tx.abort();
          } catch {
            // already finished
          }
          reject(error);
        },
      );
    });
  }

  /** @param {IDBTransaction} tx @param {string} key */
  async meta(tx, key) {
    return done(tx.objectStore("meta").get(key));
  }

  /** A new stamp for the user's copy, inside `tx` (which holds "meta"): it changed. */
  touch(/** @type {IDBTransaction} */ tx, /** @type {string} */ user) {
    const stamp = newId();
    tx.objectStore("meta").put({ key: `copy:${user}`, stamp });
    return stamp;
  }

  /**
   * The stamp of the user's copy: it changes with every write to what the copy shows, so a
   * screen that read the copy after reading stamp S may reuse what it read while the stamp
   * is still S (read the stamp first, then the records). null: never written.
   * @param {string} user @returns {Promise<string | null>}
   */
  async copyStamp(user) {
    const row = await this.run(["meta"], "readonly", (tx) => this.meta(tx, `copy:${user}`));
    return row ? row.stamp : null;
  }

  /** @param {IDBTransaction} tx @param {string} user @returns {Promise<SyncState>} */
  async state(tx, user) {
    return (await this.meta(tx, `sync:${user}`)) || freshState(user);
  }

  /** @param {IDBTransaction} tx @param {string} user */
  async outbox(tx, user) {
    const kept = await done(tx.objectStore("outbox").get(user));
    const { next_mutation_id: _, ...rest } = { ...emptyOutbox(), ...(kept || {}), user };
    return rest;
  }

  /** The device's next mutation id (one numbering for every user of the tablet). */
  async nextId(/** @type {IDBTransaction} */ tx) {
    return (await this.meta(tx, "numbering"))?.next_mutation_id ?? 1;
  }

  // --- identity, clock, sessions ------------------------------------------------------

  /**
   * The device identity, made the first time and never again: {device_id, device_secret}.
   * @returns {Promise<{device_id: string, device_secret: string}>}
   */
  device() {
    return this.run(["meta"], "readwrite", async (tx) => {
      let device = await this.meta(tx, "device");
      if (!device) {
        device = { key: "device", device_id: newId(), device_secret: newSecret() };
        tx.objectStore("meta").add(device); // add, not put: never overwrite an identity
      }
      return { device_id: device.device_id, device_secret: device.device_secret };
    });
  }

  /** Merge a server_hlc into the device clock, inside `tx`. @param {IDBTransaction} tx */
  async observe(tx, /** @type {string | null | undefined} */ serverHlc) {
    if (typeof serverHlc !== "string") return;
    let remote;
    try {
      remote = parseHlc(serverHlc);
    } catch {
      return; // a malformed reading is ignored, as field_sync does
    }
    const device = await this.meta(tx, "device");
    if (!device) return;
    const saved = await this.meta(tx, "clock");
    const last = saved ? parseHlc(saved.hlc) : null;
    // The server is the reference; the tablet's wall clock is the doubtful one (field_sync).
    const wall = Math.max(this.now(), remote.ms);
    const next = mergeHlc(last && { ...last, node: device.device_id }, device.device_id, remote, wall);
    tx.objectStore("meta").put({ key: "clock", hlc: formatHlc(next) });
  }

  /** The session tokens of a user, or null. @param {string} user */
  session(user) {
    return this.run(["meta"], "readonly", (tx) => this.meta(tx, `session:${user}`));
  }

  /** @param {string} user @param {{access_token: string, refresh_token: string} | null} tokens */
  saveSession(user, tokens) {
    return this.run(["meta"], "readwrite", async (tx) => {
      const meta = tx.objectStore("meta");
      if (tokens) meta.put({ key: `session:${user}`, ...tokens });
      else meta.delete(`session:${user}`);
    });
  }

  /**
   * After a login: the device's numbering goes on after the server's last_mutation_id when
   * no user of the tablet has anything waiting (outbox.js adoptNumbering, for the device).
   * @param {string} user @param {number | null | undefined} serverLast @param {string} [serverHlc]
   */
  afterLogin(user, serverLast, serverHlc) {
    return this.run(["meta", "outbox"], "readwrite", async (tx) => {
      await this.observe(tx, serverHlc);
      const meta = tx.objectStore("meta");
      meta.put({ key: "user", user });
      if (typeof serverLast !== "number") return;
      const state = await this.state(tx, user);
      meta.put({ ...state, last_mutation_id: serverLast });
      const all = await done(tx.objectStore("outbox").getAll());
      const waiting = all.flatMap((/** @type {any} */ o) => o.waiting);
      const adopted = adoptNumbering(
        { ...emptyOutbox(), waiting, next_mutation_id: await this.nextId(tx) },
        serverLast,
      );
      meta.put({ key: "numbering", next_mutation_id: adopted.next_mutation_id });
    });
  }

  /** The user last logged in on this tablet, or null. */
  /**
   * Log `user` out of this tablet: their session tokens and the "last logged in" mark go;
   * their outbox, rejected list, copy and the device identity stay (one transaction).
   * @param {string} user
   */
  logout(user) {
    this.kept.delete(user); // their copy stays on the tablet, not in this page's memory
    return this.run(["meta"], "readwrite", async (tx) => {
      const meta = tx.objectStore("meta");
      meta.delete(`session:${user}`);
      const mark = await this.meta(tx, "user");
      if (mark && mark.user === user) meta.delete("user");
    });
  }

  async currentUser() {
    const row = await this.run(["meta"], "readonly", (tx) => this.meta(tx, "user"));
    return row ? row.user : null;
  }

  /** @param {string} user @returns {Promise<SyncState>} */
  syncState(user) {
    return this.run(["meta"], "readonly", (tx) => this.state(tx, user));
  }

  // --- saving records -----------------------------------------------------------------

  /**
   * Save one record: in ONE transaction, the mutation gets the device's next id and the
   * clock's next reading (outbox.js `enqueue`), goes to the user's outbox, and the record's
   * new state goes to the user's copy. Resolves after the transaction committed, with the
   * mutation: only then may the screen say "saved".
   * @param {string} user
   * @param {{type: string, id: string, base_version?: number | null, data: Record<string, unknown>}} draft
   * @returns {Promise<import("./outbox.js").Mutation>}
   */
  saveRecord(user, draft) {
    const storeName = STORE_OF_TYPE[/** @type {keyof typeof STORE_OF_TYPE} */ (draft.type)];
    if (!storeName) return Promise.reject(new Error(`unknown mutation type ${draft.type}`));
    const saved = this.run(["meta", "outbox", storeName], "readwrite", async (tx) => {
      const before = (await this.meta(tx, `copy:${user}`))?.stamp ?? null;
      const device = await this.meta(tx, "device");
      if (!device) throw new Error("no device identity: call device() first");
      const meta = tx.objectStore("meta");
      const saved = await this.meta(tx, "clock");
      const hlc = tick(saved ? { ...parseHlc(saved.hlc), node: device.device_id } : null, device.device_id, this.now());
      const state = await this.state(tx, user);
      let data = draft.data;
      if (draft.type === "visit.create" && typeof data.household_id === "string") {
        // A household merged away is replaced by its survivor (field_sync add_visit).
        data = { ...data, household_id: survivor(data.household_id, rewritesOf(state.merges)) };
      }
      const outbox = await this.outbox(tx, user);
      const { outbox: next, mutations } = enqueue({ ...outbox, next_mutation_id: await this.nextId(tx) }, [
        {
          type: draft.type,
          id: draft.id,
          ...(draft.base_version === undefined || draft.base_version === null ? {} : { base_version: draft.base_version }),
          hlc: formatHlc(hlc),
          data,
        },
      ]);
      const { next_mutation_id, ...kept } = next;
      tx.objectStore("outbox").put(kept);
      meta.put({ key: "numbering", next_mutation_id });
      meta.put({ key: "clock", hlc: formatHlc(hlc) });
      // The local copy: the record as the tablet now knows it (the server's later pull wins).
      const records = tx.objectStore(storeName);
      const current = await done(records.get([user, state.gen, draft.id]));
      const base = current ? current.data : {};
      const changed = draft.type === "visit.void" ? { voided: true } : data;
      const extra =
        draft.type === "visit.create"
          ? { canvasser: user, device_id: device.device_id, review_status: "pending", voided: false }
          : {};
      const version = current ? current.version : draft.base_version || 0;
      const record = { ...base, ...extra, ...changed, id: draft.id, version };
      const row = {
        user,
        gen: state.gen,
        id: draft.id,
        version,
        local: true,
        data: record,
        ...(storeName === "households" ? { search: searchKey(record) } : {}),
      };
      records.put(row);
      const stamp = this.touch(tx, user);
      return { mutation: mutations[0], before, stamp, row };
    });
    return saved.then(({ mutation, before, stamp, row }) => {
      this.follow(user, before, stamp, /** @type {"households" | "visits"} */ (storeName), row);
      return mutation;
    });
  }

  /**
   * After a save has committed: the copy kept in memory, if it was the one the save changed
   * (its stamp `before`), takes the saved row in key order, as a new read would give it.
   * @param {string} user @param {string | null} before @param {string} stamp
   * @param {"households" | "visits"} name @param {any} row
   */
  follow(user, before, stamp, name, row) {
    const last = this.kept.get(user);
    if (!last || last.stamp !== before) return;
    const list = last[name];
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (list[mid].id < row.id) low = mid + 1;
      else high = mid;
    }
    const same = low < list.length && list[low].id === row.id;
    const next = [...list.slice(0, low), row, ...list.slice(same ? low + 1 : low)];
    this.kept.set(user, { ...last, stamp, [name]: next });
  }

  // --- the outbox -----------------------------------------------------------------------

  /** How many of the user's mutations wait to be sent. @param {string} user */
  async waitingCount(user) {
    const outbox = await this.run(["outbox"], "readonly", (tx) => this.outbox(tx, user));
    return outbox.waiting.length;
  }

  /** Whether the user has anything waiting (ask to sync before another user logs in). */
  async hasWaiting(/** @type {string} */ user) {
    return (await this.waitingCount(user)) > 0;
  }

  /** The users of this tablet with mutations waiting, and how many each. */
  waitingByUser() {
    return this.run(["outbox"], "readonly", async (tx) => {
      const all = await done(tx.objectStore("outbox").getAll());
      /** @type {Record<string, number>} */
      const out = {};
      for (const o of all) if (o.waiting.length) out[o.user] = o.waiting.length;
      return out;
    });
  }

  /** The user whose waiting mutations include `mutationId`, or null. @param {number} mutationId */
  ownerOf(mutationId) {
    return this.run(["outbox"], "readonly", async (tx) => {
      const all = await done(tx.objectStore("outbox").getAll());
      const owner = all.find((/** @type {any} */ o) => o.waiting.some((/** @type {any} */ m) => m.mutation_id === mutationId));
      return owner ? owner.user : null;
    });
  }

  /** The user's mutations refused by the server, each {mutation, result}. @param {string} user */
  async rejected(user) {
    return (await this.run(["outbox"], "readonly", (tx) => this.outbox(tx, user))).rejected;
  }

  /** The user's waiting mutations, in order. @param {string} user */
  async waiting(user) {
    return (await this.run(["outbox"], "readonly", (tx) => this.outbox(tx, user))).waiting;
  }

  /**
   * The next push batch: the consecutive run at the head of the user's waiting mutations (a
   * batch must be consecutive; another user's mutations may sit between), at most `size`.
   * `sent_up_to` is stored before it goes: from then on their content never changes.
   * @param {string} user @param {number} [size]
   * @returns {Promise<import("./outbox.js").Mutation[]>}
   */
  takeBatch(user, size) {
    return this.run(["outbox"], "readwrite", async (tx) => {
      const outbox = await this.outbox(tx, user);
      const run = [];
      for (const m of outbox.waiting) {
        if (run.length && m.mutation_id !== run[run.length - 1].mutation_id + 1) break;
        run.push(m);
      }
      const { outbox: next, batch } = cutBatch({ ...outbox, next_mutation_id: 0, waiting: run }, size);
      tx.objectStore("outbox").put({ ...outbox, sent_up_to: next.sent_up_to });
      return batch;
    });
  }

  /**
   * Take in a 200 push answer, in one transaction: outbox.js `applyResults`; versions the
   * server gave go to the local copy; a rejected new record leaves the copy (the rejected
   * list keeps it); `redirected` rewrites move the local copy's visits to the survivor and
   * drop the merged household; the server's clock is merged.
   * @param {string} user @param {import("./outbox.js").Mutation[]} batch
   * @param {{results?: import("./outbox.js").Result[], last_mutation_id?: number, server_hlc?: string}} answer
   */
  applyPushAnswer(user, batch, answer) {
    return this.run(["meta", "outbox", "households", "visits"], "readwrite", async (tx) => {
      await this.observe(tx, answer.server_hlc);
      const outbox = await this.outbox(tx, user);
      const byId = new Map(outbox.waiting.map((m) => [m.mutation_id, m]));
      const result = applyResults({ ...outbox, next_mutation_id: 0 }, answer.results || []);
      const { next_mutation_id: _, ...kept } = result.outbox;
      tx.objectStore("outbox").put(kept);
      const state = await this.state(tx, user);
      const stillWaiting = new Set(kept.waiting.map((m) => m.id));
      for (const r of result.acknowledged) {
        const m = byId.get(r.mutation_id);
        if (!m) continue;
        const records = tx.objectStore(STORE_OF_TYPE[/** @type {keyof typeof STORE_OF_TYPE} */ (m.type)]);
        const row = await done(records.get([user, state.gen, r.id || m.id]));
        if (!row) continue;
        if (typeof r.version === "number" && r.version > row.version) {
          row.version = r.version;
          row.data = { ...row.data, version: r.version };
        }
        if (!stillWaiting.has(row.id)) row.local = false; // the server has all of it now
        records.put(row);
      }
      for (const { mutation } of result.rejected) {
        const created = mutation.type === "visit.create" || (mutation.type === "household.upsert" && !mutation.base_version);
        const records = tx.objectStore(STORE_OF_TYPE[/** @type {keyof typeof STORE_OF_TYPE} */ (mutation.type)]);
        if (created) records.delete([user, state.gen, mutation.id]);
      }
      const merges = { ...state.merges };
      for (const { from, to } of result.rewrites) {
        merges[from] = to;
        await this.rewriteHousehold(tx, user, state.gen, from, to);
      }
      tx.objectStore("meta").put({
        ...state,
        merges,
        last_mutation_id: answer.last_mutation_id ?? state.last_mutation_id,
      });
      this.touch(tx, user);
      return {
        acknowledged: result.acknowledged.length,
        rejected: result.rejected.length,
        rewrites: result.rewrites,
        unanswered: batch.filter((m) => kept.waiting.some((w) => w.mutation_id === m.mutation_id)).length,
      };
    });
  }

  /** The local copy follows a merge: visits move to `to`, the household `from` goes. */
  async rewriteHousehold(/** @type {IDBTransaction} */ tx, /** @type {string} */ user, /** @type {number} */ gen, /** @type {string} */ from, /** @type {string} */ to) {
    const visits = tx.objectStore("visits");
    const moved = await done(visits.index("household").getAll([user, gen, from]));
    for (const v of moved) visits.put({ ...v, data: { ...v.data, household_id: to } });
    tx.objectStore("households").delete([user, gen, from]);
  }

  // --- the pulled copy ----------------------------------------------------------------

  /**
   * Apply one pull page and store its cursor, all or nothing. A page with `reset` (or the
   * first pull, without a cursor) starts a new copy beside the current one; pages then go
   * to it, and the page with `has_more: false` swaps them. The outbox is never touched.
   * @param {string} user
   * @param {{changes: any[], cursor?: string, has_more?: boolean, reset?: boolean,
   *   last_mutation_id?: number, server_hlc?: string}} page
   * @param {{startCopy?: boolean}} [options] startCopy: this page begins a full copy
   */
  applyPull(user, page, { startCopy = false } = {}) {
    return this.run(["meta", ...COPY_STORES], "readwrite", async (tx) => {
      await this.observe(tx, page.server_hlc);
      let state = await this.state(tx, user);
      if (startCopy || page.reset || state.cursor === null) state = await this.startCopy(tx, state);
      const gen = state.building ?? state.gen;
      const merges = { ...state.merges };
      for (const change of page.changes || []) await this.applyChange(tx, user, gen, change, merges);
      state = { ...state, merges };
      // An empty page changes nothing shown: the screens' copies in memory stay good.
      if (gen === state.gen && page.changes?.length) this.touch(tx, user);
      if (state.building !== null && !page.has_more) {
        state = await this.swap(tx, state);
        this.touch(tx, user);
      }
      tx.objectStore("meta").put({
        ...state,
        cursor: page.cursor ?? state.cursor,
        last_mutation_id: page.last_mutation_id ?? state.last_mutation_id,
      });
    });
  }

  /** Start a new copy beside the current one (a pull `reset`); the outbox stays as it is. */
  beginReset(/** @type {string} */ user) {
    return this.run(["meta", ...COPY_STORES], "readwrite", async (tx) => {
      tx.objectStore("meta").put(await this.startCopy(tx, await this.state(tx, user)));
    });
  }

  /** Swap the copy being built in for the current one. */
  finishReset(/** @type {string} */ user) {
    return this.run(["meta", ...COPY_STORES], "readwrite", async (tx) => {
      const state = await this.state(tx, user);
      if (state.building === null) return;
      tx.objectStore("meta").put(await this.swap(tx, state));
      this.touch(tx, user);
    });
  }

  /** Forget the cursor and any copy half-built: the next pull starts a full copy. */
  dropCursor(/** @type {string} */ user) {
    return this.run(["meta", ...COPY_STORES], "readwrite", async (tx) => {
      const state = await this.state(tx, user);
      if (state.building !== null) for (const s of COPY_STORES) tx.objectStore(s).delete(genRange(user, state.building));
      tx.objectStore("meta").put({ ...state, cursor: null, building: null });
    });
  }

  /** @param {IDBTransaction} tx @param {SyncState} state @returns {Promise<SyncState>} */
  async startCopy(tx, state) {
    const building = state.gen + 1;
    // A copy half-built by an earlier reset starts again from nothing.
    for (const s of COPY_STORES) tx.objectStore(s).delete(genRange(state.user, building));
    return { ...state, building };
  }

  /**
   * The new copy replaces the old: local records still ahead of the server (`local`) and
   * not in the new copy are carried over, then the old generation is deleted.
   * @param {IDBTransaction} tx @param {SyncState} state @returns {Promise<SyncState>}
   */
  async swap(tx, state) {
    const { user, gen } = state;
    const building = /** @type {number} */ (state.building);
    for (const name of COPY_STORES) {
      const records = tx.objectStore(name);
      const old = await done(records.getAll(genRange(user, gen)));
      for (const row of old) {
        if (!row.local) continue;
        const fresh = await done(records.get([user, building, row.id]));
        if (!fresh) records.put({ ...row, gen: building });
      }
      records.delete(genRange(user, gen));
    }
    return { ...state, gen: building, building: null };
  }

  /**
   * One change of a pull page. Anything not understood throws: the page is rolled back and
   * its cursor not stored, rather than silently skipping a record (field_sync).
   * @param {IDBTransaction} tx @param {string} user @param {number} gen @param {any} change
   * @param {Record<string, string>} merges
   */
  async applyChange(tx, user, gen, change, merges) {
    const { entity, id, op } = change || {};
    const name = { unit: "units", assignment: "units", household: "households", visit: "visits" }[/** @type {string} */ (entity)];
    if (!name || typeof id !== "string") throw new Error(`malformed change ${JSON.stringify(change)}`);
    const records = tx.objectStore(name);
    const key = name === "units" ? `${entity}/${id}` : id;
    if (op === "upsert") {
      if (typeof change.version !== "number" || typeof change.data !== "object" || !change.data) {
        throw new Error(`malformed upsert ${JSON.stringify(change)}`);
      }
      const search = name === "households" ? { search: searchKey(change.data) } : {};
      records.put({ user, gen, id: key, entity, version: change.version, local: false, data: change.data, ...search });
    } else if (op === "delete") {
      records.delete([user, gen, key]);
    } else if (op === "merge" && entity === "household" && typeof change.data?.into === "string") {
      merges[id] = change.data.into;
      records.delete([user, gen, id]);
    } else {
      throw new Error(`unknown change ${JSON.stringify(change)}`);
    }
  }

  // --- reading the copy, for the screens ---------------------------------------------

  /** @param {string} user @param {string} name @param {(gen: number) => IDBKeyRange | null} [range] */
  async rows(user, name, range) {
    return this.run(["meta", name], "readonly", async (tx) => {
      const { gen } = await this.state(tx, user);
      return done(tx.objectStore(name).getAll(range ? range(gen) : genRange(user, gen)));
    });
  }

  /**
   * The user's whole copy, {stamp, units, households, visits}, read in one transaction and
   * kept in memory while its stamp stays the same: the same object is given again until the
   * copy changes, so a screen may key what it made of it on the object. Its rows are shared:
   * read them, never change them.
   * @param {string} user @returns {Promise<Copy>}
   */
  async copy(user) {
    const stamp = await this.copyStamp(user);
    const last = this.kept.get(user);
    if (last && last.stamp === stamp) return last;
    const read = await this.run(["meta", ...COPY_STORES], "readonly", async (tx) => {
      const mark = await this.meta(tx, `copy:${user}`);
      const { gen } = await this.state(tx, user);
      const [units, households, visits] = await Promise.all(
        COPY_STORES.map((name) => done(tx.objectStore(name).getAll(genRange(user, gen)))),
      );
      return { stamp: mark ? mark.stamp : null, units, households, visits };
    });
    this.kept.set(user, read);
    return read;
  }

  /** The user's units (entity 'unit') and assignments ('assignment'), as pulled. */
  units(/** @type {string} */ user) {
    return this.rows(user, "units");
  }

  /** The households of the user's copy; of one group when `group` is given. */
  async households(/** @type {string} */ user, /** @type {string | null} */ group = null) {
    if (group === null) return this.rows(user, "households");
    return this.run(["meta", "households"], "readonly", async (tx) => {
      const { gen } = await this.state(tx, user);
      return done(tx.objectStore("households").index("group").getAll([user, gen, group]));
    });
  }

  /** The visits of the user's copy; of one household when `household` is given. */
  async visits(/** @type {string} */ user, /** @type {string | null} */ household = null) {
    if (household === null) return this.rows(user, "visits");
    return this.run(["meta", "visits"], "readonly", async (tx) => {
      const { gen } = await this.state(tx, user);
      return done(tx.objectStore("visits").index("household").getAll([user, gen, household]));
    });
  }

  /** One record of the copy, or null. @param {string} user @param {"households" | "visits"} name @param {string} id */
  record(user, name, id) {
    return this.run(["meta", name], "readonly", async (tx) => {
      const { gen } = await this.state(tx, user);
      return (await done(tx.objectStore(name).get([user, gen, id]))) || null;
    });
  }

  /** Ask the browser to keep this origin's data under storage pressure. */
  async persist() {
    if (!navigator.storage || !navigator.storage.persist) return false;
    return (await navigator.storage.persisted()) || navigator.storage.persist();
  }

  close() {
    this.db.close();
  }
}

/** @typedef {{stamp: string | null, units: any[], households: any[], visits: any[]}} Copy */

/** @param {Record<string, string>} merges */
const rewritesOf = (merges) => Object.entries(merges).map(([from, to]) => ({ from, to }));

/**
 * Open (and create or upgrade) the app's database.
 * @param {{name?: string, now?: () => number}} [options]
 * @returns {Promise<Store>}
 */
export function open({ name = DB_NAME, now } = {}) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, DB_VERSION);
    request.onupgradeneeded = (event) => {
      const tx = /** @type {IDBTransaction} */ (request.transaction);
      for (let v = event.oldVersion; v < DB_VERSION; v++) UPGRADES[v](request.result, tx);
    };
    request.onsuccess = () => {
      const db = request.result;
      // Another tab opening a newer version: let it upgrade, this page reloads to follow.
      db.onversionchange = () => db.close();
      resolve(new Store(db, { now }));
    };
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("the app's database is open in an older tab"));
  });
}
