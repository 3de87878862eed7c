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
 * It must stay quick with 5,000 households: each household's search text is folded once when
 * the list loads, a keystroke only filters those strings, and at most LIMIT rows are drawn
 * (the rest is counted, and the canvasser narrows the search).
 *
 * Also the list's arithmetic for the groups screen: `describe` (each household's state from
 * its visits) and `unitsOf` (the units and assignments of the copy).
 */
import { normaliseAddress } from "../address.js";

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
  visited: "Đã thăm",
  notVisited: "Chưa thăm",
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

/** Lowercase, no accents, đ as d: what a search compares. @param {string} text */
export function fold(text) {
  return text
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .replace(/[đĐ]/g, "d")
    .toLowerCase();
}

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

/** A time as a canvasser reads it: 15/08 17:30. @param {string | null | undefined} iso */
export function shortTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString("vi-VN", { hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit" });
}

/** Whether a visit counts (neither void nor rejected by a supervisor). @param {any} v */
const counts = (v) => !v.voided && v.review_status !== "rejected";

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
      key: `${fold(address)} ${fold(normaliseAddress(address))} ${fold(head)}`,
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

/**
 * The households listed under `ref`: a group's, or a ward's that belong to no group.
 * @param {any} store @param {string} user @param {string} ref @param {any} unit
 */
export async function householdsOf(store, user, ref, unit) {
  if (unit && unit.level !== "group") {
    const all = await store.households(user);
    return all.filter((/** @type {any} */ row) => row.data.ward === ref && !row.data.group);
  }
  return store.households(user, ref);
}

/** @param {string} tag @param {string} [className] @param {string} [text] */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
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
  const { units } = unitsOf(await ctx.store.units(ctx.user));
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
  async function load() {
    const [households, visits] = await Promise.all([
      householdsOf(ctx.store, ctx.user, ref, unit),
      ctx.store.visits(ctx.user),
    ]);
    all = describe(households, visits).sort(walkOrder);
  }

  function draw() {
    const found = matching(all, search.value);
    const fragment = document.createDocumentFragment();
    for (const h of found.slice(0, LIMIT)) fragment.append(row(h));
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
