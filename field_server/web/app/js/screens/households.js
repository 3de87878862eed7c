/**
 * Screen `#/households/<group ref>` (docs/app.md#screens): the households of one residential
 * group, from the tablet's copy, in the order a canvasser walks them: priority households
 * first (people in quarantine or awaiting a test not yet all covered), then revisits due
 * ("not home", "come back" at a time, earliest first), then those not yet visited, then those
 * visited (marked). A search box filters by address or head of household as the canvasser
 * types, accents and case aside. A tap opens the visit screen; "Hộ mới" adds a household.
 *
 * A ward's ref instead of a group's lists the ward's households that belong to no group.
 *
 * It must stay quick with 5,000 households: each household's search text is folded once, when
 * it enters the tablet's copy (store.js `searchKey`, kept with the household); the copy is
 * read once and kept in memory while it does not change (store.js `copy`), and the list made
 * from it (described, in walking order) is kept as long, so going back to a group draws it
 * without reading or sorting anything; a keystroke only filters the kept strings, and at
 * most LIMIT rows are drawn (the rest is counted, and the canvasser narrows the search),
 * each row's element made once per list.
 *
 * Also the list's arithmetic for the groups screen: `tally` (per group: households, visited,
 * revisits due), `describe` (each household's state from its visits) and `unitsOf` (the units
 * and assignments of the copy).
 */
import { normaliseAddress } from "../address.js";
import { fold, searchKey } from "../store.js";

export { fold };

/** 4.800, the Vietnamese way. @param {number} n */
const number = (n) => n.toLocaleString("vi-VN");

export const TEXT = {
  title: "Hộ trong tổ",
  noGroup: "Hộ chưa thuộc tổ",
  search: "Tìm theo địa chỉ hoặc chủ hộ",
  list: "Danh sách hộ",
  newHousehold: "Hộ mới",
  count: (/** @type {number} */ shown, /** @type {number} */ all) =>
    shown === all ? `${number(all)} hộ` : `${number(shown)} / ${number(all)} hộ`,
  more: (/** @type {number} */ n) => `… còn ${number(n)} hộ nữa: gõ thêm để thu hẹp.`,
  none: "Không có hộ nào khớp.",
  empty: "Chưa có hộ nào trong tổ này. Bấm Đồng bộ khi có mạng, hoặc thêm hộ mới.",
  unknownGroup: "Không có tổ này trong dữ liệu của máy. Bấm Đồng bộ khi có mạng.",
  noHead: "(chưa có tên chủ hộ)",
  priority: "Ưu tiên",
  visited: "Đã đến",
  notVisited: "Chưa đến",
  notHome: "Vắng nhà",
  comeBack: "Hẹn quay lại",
  local: "chưa gửi",
};

/** At most this many rows are drawn; the rest is counted. */
export const LIMIT = 200;
/** Outcomes that leave a household to visit again. */
const AGAIN = new Set(["not_home", "come_back"]);
/** The order of the list: a lower rank first. */
export const RANK = { priority: 0, revisit: 1, new: 2, visited: 3 };

const collator = new Intl.Collator("vi", { numeric: true, sensitivity: "base" });

/** The words of a search, folded; both as typed and as an address normalised. @param {string} query */
export function searchWords(query) {
  const typed = fold(query).split(/\s+/).filter(Boolean);
  const normal = fold(normaliseAddress(query)).split(/\s+/).filter(Boolean);
  return [typed, normal];
}

/** @param {string} iso */
const ms = (iso) => {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t;
};

/** Made once: toLocaleString would build a formatter for every row drawn. */
const SHORT_TIME = new Intl.DateTimeFormat("vi-VN", { hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit" });

/** A time as a canvasser reads it: 15/08 17:30. @param {string | null | undefined} iso */
export function shortTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return SHORT_TIME.format(date);
}

/** Whether a visit counts (neither void nor rejected by a supervisor). @param {any} v */
const counts = (v) => !v.voided && v.review_status !== "rejected";

/**
 * Per group ref (a ward's ref for its households of no group): how many households, how many
 * visited, how many wait for a revisit; as `describe` says, from each household's latest
 * visit that counts, with nothing else worked out (the home screen's figures).
 * @param {any[]} households rows of the copy @param {any[]} visits rows of the copy
 * @returns {Map<string, {households: number, visited: number, revisits: number}>}
 */
export function tally(households, visits) {
  /** @type {Map<string, any>} */
  const latest = new Map();
  for (const row of visits) {
    const v = row.data;
    if (!v || !counts(v)) continue;
    const before = latest.get(v.household_id);
    if (!before || ms(v.visited_at) > ms(before.visited_at)) latest.set(v.household_id, v);
  }
  /** @type {Map<string, {households: number, visited: number, revisits: number}>} */
  const out = new Map();
  for (const row of households) {
    const h = row.data;
    const key = h.group || h.ward;
    let t = out.get(key);
    if (!t) out.set(key, (t = { households: 0, visited: 0, revisits: 0 }));
    t.households += 1;
    const v = latest.get(row.id);
    if (!v) continue;
    if (AGAIN.has(v.outcome)) t.revisits += 1;
    else t.visited += 1;
  }
  return out;
}

/**
 * @typedef {{id: string, address: string, head: string, group: string | null, ward: string,
 *   state: "priority" | "revisit" | "new" | "visited", visited: boolean,
 *   again: {outcome: string, at: string | null} | null, when: number, local: boolean,
 *   key: string}} Described
 */

/**
 * Each household's state from its visits in the copy. `visits` is every visit of the copy
 * (one pass groups them by household). Priority: people in quarantine or awaiting a test
 * not all covered, from the household's counters as the server last sent them and the
 * tablet's own later visits. Revisit: its latest visit that counts was "not home" or "come
 * back". Visited: any other visit that counts.
 * @param {any[]} households rows of the copy @param {any[]} visits rows of the copy
 * @returns {Described[]}
 */
export function describe(households, visits) {
  /** @type {Map<string, any[]>} */
  const byHousehold = new Map();
  for (const row of visits) {
    const v = row.data;
    if (!v || !counts(v)) continue;
    const list = byHousehold.get(v.household_id);
    if (list) list.push(v);
    else byHousehold.set(v.household_id, [v]);
  }
  return households.map((row) => {
    const h = row.data;
    const seen = byHousehold.get(row.id) || [];
    let latest = null;
    let latestWithCounts = null;
    let installed = h.priority_installed ?? 0;
    for (const v of seen) {
      if (!latest || ms(v.visited_at) > ms(latest.visited_at)) latest = v;
      if (typeof v.priority_subjects === "number") {
        if (!latestWithCounts || ms(v.visited_at) > ms(latestWithCounts.visited_at)) latestWithCounts = v;
        installed = Math.max(installed, v.priority_installed ?? 0);
      }
    }
    const subjects = latestWithCounts ? latestWithCounts.priority_subjects : (h.priority_subjects ?? 0);
    const again = latest && AGAIN.has(latest.outcome) ? { outcome: latest.outcome, at: latest.come_back_at || null } : null;
    const visited = latest !== null && !again;
    /** @type {Described["state"]} */
    let state = visited ? "visited" : again ? "revisit" : "new";
    if (subjects > installed) state = "priority";
    const address = h.address || "";
    const head = h.head_name || "";
    return {
      id: row.id,
      address,
      head,
      group: h.group ?? null,
      ward: h.ward,
      state,
      visited,
      again,
      // a revisit's time: the one agreed, else when nobody was home
      when: again ? ms(again.at || latest.visited_at) : 0,
      local: !!row.local,
      // folded when the household entered the copy (store.js); a row without it, here
      key: typeof row.search === "string" ? row.search : searchKey(h),
    };
  });
}

/** The walking order (see the module's comment). @param {Described} a @param {Described} b */
export function walkOrder(a, b) {
  return (
    RANK[a.state] - RANK[b.state] ||
    (a.state === "revisit" ? a.when - b.when : 0) ||
    collator.compare(a.address, b.address) ||
    collator.compare(a.head, b.head) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** Those whose search text holds every word of the query (as typed, or normalised). */
export function matching(/** @type {Described[]} */ list, /** @type {string} */ query) {
  const [typed, normal] = searchWords(query);
  if (!typed.length) return list;
  return list.filter(
    (h) => typed.every((w) => h.key.includes(w)) || (normal.length > 0 && normal.every((w) => h.key.includes(w))),
  );
}

/**
 * The units and assignments of the copy: units by ref, and the refs assigned.
 * @param {any[]} rows store.units(user)
 */
export function unitsOf(rows) {
  /** @type {Map<string, any>} */
  const units = new Map();
  /** @type {string[]} */
  const assigned = [];
  for (const row of rows) {
    if (row.entity === "unit") units.set(`${row.data.scheme}:${row.data.code}`, row.data);
    else if (row.entity === "assignment" && row.data.unit) assigned.push(row.data.unit);
  }
  return { units, assigned };
}

/** @param {string} tag @param {string} [className] @param {string} [text] */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * The list last made, per user: a group's households described and in walking order, with
 * the copy (store.js `copy`) it was made from. One group is kept (the one worked in).
 * @type {Map<string, {ref: string, copy: any, all: Described[]}>}
 */
const kept = new Map();

/**
 * The households listed under `ref`, described and in walking order: the one kept in memory
 * when the copy has not changed since, else made from the copy (and kept).
 * @param {any} store @param {string} user @param {string} ref @param {any} unit
 * @returns {Promise<Described[]>}
 */
export async function listOf(store, user, ref, unit) {
  const copy = await store.copy(user);
  const last = kept.get(user);
  if (last && last.ref === ref && last.copy === copy) return last.all;
  const ward = unit && unit.level !== "group";
  const households = copy.households.filter((/** @type {any} */ row) =>
    ward ? row.data.ward === ref && !row.data.group : row.data.group === ref,
  );
  const all = describe(households, copy.visits).sort(walkOrder);
  kept.set(user, { ref, copy, all });
  return all;
}

/** One row: a link to the household's visit screen. @param {Described} h */
function row(h) {
  const item = el("li");
  const link = /** @type {HTMLAnchorElement} */ (el("a", `household ${h.state}`));
  link.href = `#/visit-new/${encodeURIComponent(h.id)}`;
  link.dataset.household = h.id;
  link.dataset.state = h.state;
  const text = el("span", "household-text");
  text.append(el("span", "address", h.address), el("span", "head", h.head || TEXT.noHead));
  const marks = el("span", "marks");
  if (h.state === "priority") marks.append(el("span", "mark mark-priority", TEXT.priority));
  if (h.again) {
    const label = h.again.outcome === "come_back" ? TEXT.comeBack : TEXT.notHome;
    const at = h.again.outcome === "come_back" && h.again.at ? ` ${shortTime(h.again.at)}` : "";
    const mark = el("span", "mark mark-revisit", label + at);
    if (h.again.at) mark.dataset.at = h.again.at;
    marks.append(mark);
  }
  if (h.visited) marks.append(el("span", "mark mark-visited", `✓ ${TEXT.visited}`));
  else if (!h.again) marks.append(el("span", "mark mark-new", TEXT.notVisited));
  if (h.local) marks.append(el("span", "mark mark-local", TEXT.local));
  link.append(text, marks);
  item.append(link);
  return item;
}

/**
 * @param {HTMLElement} main
 * @param {{store: any, sync: any, user: string, go: Function}} ctx
 * @param {string} [ref] the group's ref (or a ward's: its households of no group)
 */
export async function show(main, ctx, ref = "") {
  const { units } = unitsOf((await ctx.store.copy(ctx.user)).units);
  const unit = units.get(ref);
  const heading = el("h1", "", unit ? (unit.level === "group" ? unit.name : `${TEXT.noGroup} · ${unit.name}`) : TEXT.title);
  main.append(heading);
  if (!unit) {
    main.append(el("p", "empty", TEXT.unknownGroup));
    return undefined;
  }

  const add = /** @type {HTMLAnchorElement} */ (el("a", "button primary new-household", `+ ${TEXT.newHousehold}`));
  add.href = `#/household-new/${encodeURIComponent(ref)}`;
  const label = /** @type {HTMLLabelElement} */ (el("label", "search-label", TEXT.search));
  label.htmlFor = "household-search";
  const search = /** @type {HTMLInputElement} */ (el("input", "search"));
  search.id = "household-search";
  search.type = "search";
  search.autocomplete = "off";
  search.spellcheck = false;
  const count = el("p", "list-count");
  count.setAttribute("aria-live", "polite");
  count.id = "household-count";
  const list = el("ul", "households");
  list.setAttribute("aria-label", TEXT.list);
  const more = el("p", "list-more");
  main.append(add, label, search, count, list, more);

  /** @type {Described[]} */
  let all = [];
  /** Each household's row element, made the first time it is drawn from this list. */
  let rows = new Map();
  async function load() {
    const next = await listOf(ctx.store, ctx.user, ref, unit);
    if (next !== all) rows = new Map();
    all = next;
  }

  function draw() {
    const found = matching(all, search.value);
    const fragment = document.createDocumentFragment();
    for (const h of found.slice(0, LIMIT)) {
      let item = rows.get(h);
      if (!item) rows.set(h, (item = row(h)));
      fragment.append(item);
    }
    list.replaceChildren(fragment);
    count.textContent = all.length ? TEXT.count(found.length, all.length) : TEXT.empty;
    count.dataset.found = String(found.length);
    more.textContent = found.length > LIMIT ? TEXT.more(found.length - LIMIT) : all.length && !found.length ? TEXT.none : "";
    list.dataset.shown = String(Math.min(found.length, LIMIT));
  }

  // A sync that ends brings the server's records: draw them, keeping what was typed.
  // Listening before the first loading, so a sync ending meanwhile is not missed.
  let last = (await ctx.store.syncState(ctx.user)).last_sync_at;
  const onStatus = async (/** @type {any} */ event) => {
    const status = event.detail;
    if (status.syncing || status.last_sync_at === last) return;
    last = status.last_sync_at;
    await load();
    draw();
  };
  ctx.sync.addEventListener("status", onStatus);
  search.addEventListener("input", draw);
  await load();
  draw();
  return () => ctx.sync.removeEventListener("status", onStatus);
}
