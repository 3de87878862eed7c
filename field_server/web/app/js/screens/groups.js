/**
 * Screen `#/groups`, the home screen after login (docs/app.md#screens): the canvasser's
 * residential groups, under their ward, from the assignments and units of the tablet's copy.
 * A ward assignment lists the ward's groups (and, when there are any, its households of no
 * group); a group assignment lists that group. Each shows its households, how many are
 * visited and how many wait for a revisit; a tap opens the group's households.
 *
 * The figures need only each household's group and its latest visit's outcome (households.js
 * `tally`), from the copy kept in memory (store.js `copy`), and are kept as long as that copy:
 * coming back home reads nothing again.
 */
import { el, tally as tallyOf, unitsOf } from "./households.js";

/** The figures last worked out, per user, with the copy (store.js `copy`) they came from. */
/** @type {Map<string, {copy: any, units: any[], tally: Map<string, any>}>} */
const kept = new Map();

/** The copy's units and the figures per group: kept ones while the copy is unchanged. */
async function figures(/** @type {any} */ store, /** @type {string} */ user) {
  const copy = await store.copy(user);
  const last = kept.get(user);
  if (last && last.copy === copy) return last;
  const made = { copy, units: copy.units, tally: tallyOf(copy.households, copy.visits) };
  kept.set(user, made);
  return made;
}

const TEXT = {
  title: "Tổ của tôi",
  noGroup: "Hộ chưa thuộc tổ",
  households: (/** @type {number} */ n) => `${n} hộ`,
  visited: (/** @type {number} */ n) => `${n} đã đến`,
  revisits: (/** @type {number} */ n) => `${n} cần quay lại`,
  empty: "Chưa có tổ nào trên máy. Bấm Đồng bộ khi có mạng để tải danh sách.",
  more: "Khác",
  progress: "Tiến độ hôm nay",
  rejected: "Hồ sơ bị từ chối",
  switchUser: "Đổi người dùng",
};

const byCode = new Intl.Collator("vi", { numeric: true });

/**
 * The wards and their groups to list: [{ref, name, groups: [{ref, name, unit}]}].
 * @param {Map<string, any>} units @param {string[]} assigned
 * @param {Map<string, {households: number}>} tally by group ref (ward ref: no group)
 */
export function wardsOf(units, assigned, tally) {
  /** @type {Map<string, {ref: string, name: string, groups: Map<string, {ref: string, name: string}>}>} */
  const wards = new Map();
  const ward = (/** @type {string} */ ref) => {
    if (!wards.has(ref)) wards.set(ref, { ref, name: units.get(ref)?.name || ref, groups: new Map() });
    return /** @type {any} */ (wards.get(ref));
  };
  const addGroup = (/** @type {string} */ wardRef, /** @type {string} */ ref, /** @type {string} */ name) =>
    ward(wardRef).groups.set(ref, { ref, name });
  for (const ref of assigned) {
    const unit = units.get(ref);
    if (!unit) continue;
    if (unit.level === "group") {
      if (unit.parent) addGroup(unit.parent, ref, unit.name);
      continue;
    }
    ward(ref);
    for (const [childRef, child] of units) {
      if (child.parent === ref && child.level === "group") addGroup(ref, childRef, child.name);
    }
  }
  for (const w of wards.values()) {
    const none = tally.get(w.ref);
    if ((none && none.households) || w.groups.size === 0) addGroup(w.ref, w.ref, TEXT.noGroup);
  }
  return [...wards.values()].map((w) => ({
    ...w,
    groups: [...w.groups.values()].sort((a, b) => (a.ref === w.ref ? 1 : b.ref === w.ref ? -1 : byCode.compare(a.ref, b.ref))),
  }));
}

/**
 * @param {HTMLElement} main
 * @param {{store: any, sync: any, user: string}} ctx
 */
export async function show(main, ctx) {
  main.append(el("h1", "", TEXT.title));
  const body = el("div", "groups");
  const links = el("nav", "more-links");
  links.setAttribute("aria-label", TEXT.more);
  for (const [hash, text] of [
    ["#/progress", TEXT.progress],
    ["#/rejected", TEXT.rejected],
    ["#/switch-user", TEXT.switchUser],
  ]) {
    const link = /** @type {HTMLAnchorElement} */ (el("a", "button secondary", text));
    link.href = hash;
    links.append(link);
  }
  main.append(body, links);

  async function draw() {
    const { units: unitRows, tally } = await figures(ctx.store, ctx.user);
    const { units, assigned } = unitsOf(unitRows);
    const wards = wardsOf(units, assigned, tally);
    const fragment = document.createDocumentFragment();
    if (!wards.length) fragment.append(el("p", "empty", TEXT.empty));
    for (const w of wards) {
      const section = el("section", "ward");
      const title = el("h2", "", w.name);
      title.id = `ward-${w.ref.replace(/[^A-Za-z0-9_-]/g, "-")}`;
      section.setAttribute("aria-labelledby", title.id);
      const list = el("ul", "group-list");
      for (const g of w.groups) {
        const t = tally.get(g.ref) || { households: 0, visited: 0, revisits: 0 };
        const item = el("li");
        const link = /** @type {HTMLAnchorElement} */ (el("a", "group"));
        link.href = `#/households/${encodeURIComponent(g.ref)}`;
        link.dataset.group = g.ref;
        link.dataset.households = String(t.households);
        link.dataset.visited = String(t.visited);
        link.dataset.revisits = String(t.revisits);
        const figures = el("span", "group-figures");
        figures.append(
          el("span", "", TEXT.households(t.households)),
          el("span", "", TEXT.visited(t.visited)),
          el("span", t.revisits ? "due" : "", TEXT.revisits(t.revisits)),
        );
        link.append(el("span", "group-name", g.name), figures);
        item.append(link);
        list.append(item);
      }
      section.append(title, list);
      fragment.append(section);
    }
    body.replaceChildren(fragment);
  }

  // A sync that ends may bring groups and households: draw them again. Listening before the
  // first drawing, so a sync ending meanwhile is not missed.
  let last = (await ctx.store.syncState(ctx.user)).last_sync_at;
  const onStatus = (/** @type {any} */ event) => {
    const status = event.detail;
    if (status.syncing || status.last_sync_at === last) return;
    last = status.last_sync_at;
    draw();
  };
  ctx.sync.addEventListener("status", onStatus);
  await draw();
  return () => ctx.sync.removeEventListener("status", onStatus);
}
