/**
 * Today's progress (`#/progress`), from the tablet's own copy, so it works with no signal:
 * the canvasser's visits today and the apps installed in them, the households of their
 * groups still to visit, and the records waiting to be sent (kept up to date by the sync's
 * "status" event while the screen is open).
 *
 * "Today" is the tablet's calendar day. A household is still to visit while it has no
 * visit (voided ones aside) or only visits that found nobody ("not home", "come back").
 */

import { UNFINISHED_OUTCOMES, el } from "./visit-new.js";

const TEXT = {
  title: "Kết quả hôm nay",
  visits: "Lượt đến nhà hôm nay",
  installs: "Số người cài Bluezone hôm nay",
  left: "Hộ còn phải đến",
  households: "Tổng số hộ",
  waiting: "Bản ghi chờ gửi",
  waitingHint: "Các bản ghi được gửi khi có mạng; bấm “Đồng bộ” để gửi ngay.",
  home: "Về trang chính",
};

/** @param {Date} a @param {Date} b */
const sameDay = (a, b) =>
  a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/**
 * The figures, from the copy's rows.
 * @param {string} user @param {any[]} households @param {any[]} visits @param {Date} today
 */
export function figures(user, households, visits, today) {
  const live = visits.filter((v) => !v.data.voided);
  const mine = live.filter((v) => v.data.canvasser === user && sameDay(new Date(v.data.visited_at), today));
  const installs = mine.reduce((sum, v) => sum + (typeof v.data.installed_during === "number" ? v.data.installed_during : 0), 0);
  const done = new Set(live.filter((v) => !UNFINISHED_OUTCOMES.includes(v.data.outcome)).map((v) => v.data.household_id));
  const left = households.filter((h) => !done.has(h.id)).length;
  return { visits: mine.length, installs, left, households: households.length };
}

/**
 * @param {HTMLElement} main
 * @param {{store: any, sync: any, user: string}} ctx
 */
export async function show(main, ctx) {
  const [households, visits, waiting] = await Promise.all([
    ctx.store.households(ctx.user),
    ctx.store.visits(ctx.user),
    ctx.store.waitingCount(ctx.user),
  ]);
  const f = figures(ctx.user, households, visits, new Date());
  const waitingValue = el("dd", { textContent: String(waiting), data: { figure: "waiting" } });
  /** @param {string} key @param {string} label @param {number | HTMLElement} value */
  const row = (key, label, value) =>
    el(
      "div",
      { className: "figure" },
      el("dt", { textContent: label }),
      typeof value === "number" ? el("dd", { textContent: String(value), data: { figure: key } }) : value,
    );
  main.append(
    el("h1", { id: "screen-title", textContent: TEXT.title }),
    el(
      "dl",
      { className: "figures" },
      row("visits-today", TEXT.visits, f.visits),
      row("installs-today", TEXT.installs, f.installs),
      row("households-left", TEXT.left, f.left),
      row("households", TEXT.households, f.households),
      row("waiting", TEXT.waiting, waitingValue),
    ),
    el("p", { className: "hint", textContent: TEXT.waitingHint }),
    el("p", {}, el("a", { href: "#/groups", className: "back-link", textContent: TEXT.home })),
  );
  const onStatus = (/** @type {Event} */ event) => {
    const detail = /** @type {CustomEvent<{user: string | null, waiting: number}>} */ (event).detail;
    if (detail.user === ctx.user) waitingValue.textContent = String(detail.waiting);
  };
  ctx.sync.addEventListener("status", onStatus);
  return () => ctx.sync.removeEventListener("status", onStatus);
}
