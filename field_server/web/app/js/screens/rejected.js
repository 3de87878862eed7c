/**
 * What did not count (`#/rejected`), read-only: the canvasser's records the server refused
 * at a push (store.rejected: the reason as the server wrote it, already in Vietnamese since
 * the app asks for it, and the field errors), and their visits a supervisor rejected at
 * review (review_status "rejected" in the pulled copy, with the supervisor's comment).
 * The server keeps every refused record for the supervisors (docs/sync-protocol.md), so
 * nothing here needs the canvasser to act but to know.
 */

import { COUNT_TEXT, OUTCOME_TEXT, el, shortTime } from "./visit-new.js";

const TEXT = {
  title: "Bản ghi không được chấp nhận",
  refused: "Máy chủ từ chối",
  noRefused: "Không có bản ghi nào bị máy chủ từ chối.",
  reviewed: "Giám sát viên từ chối",
  noReviewed: "Không có lượt đến nhà nào bị giám sát viên từ chối.",
  reason: "Lý do",
  comment: "Nhận xét",
  noComment: "không có nhận xét",
  open: "Xem lượt đến nhà",
  hint: "Máy chủ vẫn giữ các bản ghi này để giám sát viên xem và sửa. Nếu cần, hãy ghi lại lượt đến nhà mới.",
  unknownHousehold: "hộ không có trên máy",
};

const KIND = {
  "visit.create": "Lượt đến nhà mới",
  "visit.update": "Sửa lượt đến nhà",
  "visit.void": "Hủy lượt đến nhà",
  "household.upsert": "Thông tin hộ",
};

/** Field names as the screens call them. */
const FIELD_TEXT = {
  ...COUNT_TEXT,
  outcome: "Kết quả",
  visited_at: "Thời gian",
  come_back_at: "Hẹn quay lại",
  notes: "Ghi chú",
  reason: "Lý do hủy",
  address: "Địa chỉ",
  head_name: "Chủ hộ",
  phone: "Điện thoại",
};

/**
 * @param {HTMLElement} main
 * @param {{store: any, user: string}} ctx
 */
export async function show(main, ctx) {
  const [refused, visits, households] = await Promise.all([
    ctx.store.rejected(ctx.user),
    ctx.store.visits(ctx.user),
    ctx.store.households(ctx.user),
  ]);
  const addressOf = new Map(households.map((/** @type {any} */ h) => [h.id, h.data.address]));
  const visitById = new Map(visits.map((/** @type {any} */ v) => [v.id, v.data]));
  /** The household a mutation is about, by address. @param {any} m */
  const where = (m) => {
    if (m.type === "household.upsert") return m.data.address || addressOf.get(m.id) || "";
    const householdId = m.data.household_id || visitById.get(m.id)?.household_id;
    return addressOf.get(householdId) || TEXT.unknownHousehold;
  };

  main.append(el("h1", { id: "screen-title", textContent: TEXT.title }), el("p", { className: "hint", textContent: TEXT.hint }));

  main.append(el("h2", { className: "section-title", textContent: TEXT.refused }));
  if (!refused.length) main.append(el("p", { className: "muted", textContent: TEXT.noRefused }));
  else {
    const list = el("ul", { className: "cards" });
    for (const { mutation: m, result: r } of [...refused].reverse()) {
      const about = [KIND[/** @type {keyof typeof KIND} */ (m.type)] || m.type, where(m)];
      if (m.data.visited_at) about.push(shortTime(m.data.visited_at));
      if (m.data.outcome) about.push(OUTCOME_TEXT[/** @type {keyof typeof OUTCOME_TEXT} */ (m.data.outcome)] || m.data.outcome);
      const errors = Object.entries(r.errors || {}).map(([field, texts]) =>
        el("li", { data: { field } }, `${FIELD_TEXT[/** @type {keyof typeof FIELD_TEXT} */ (field)] || field}: ${/** @type {string[]} */ (texts).join(" ")}`),
      );
      list.append(
        el(
          "li",
          { className: "card", data: { refused: m.id, code: r.code || "" } },
          el("p", { className: "card-title", textContent: about.join(" · ") }),
          el("p", {}, el("strong", { textContent: `${TEXT.reason}: ` }), r.message || r.code || ""),
          errors.length ? el("ul", { className: "field-errors" }, ...errors) : null,
        ),
      );
    }
    main.append(list);
  }

  const reviewed = visits.filter((/** @type {any} */ v) => v.data.canvasser === ctx.user && v.data.review_status === "rejected");
  main.append(el("h2", { className: "section-title", textContent: TEXT.reviewed }));
  if (!reviewed.length) main.append(el("p", { className: "muted", textContent: TEXT.noReviewed }));
  else {
    const list = el("ul", { className: "cards" });
    for (const v of reviewed) {
      const d = v.data;
      list.append(
        el(
          "li",
          { className: "card", data: { reviewRejected: v.id } },
          el("p", {
            className: "card-title",
            textContent: [addressOf.get(d.household_id) || TEXT.unknownHousehold, shortTime(d.visited_at),
              OUTCOME_TEXT[/** @type {keyof typeof OUTCOME_TEXT} */ (d.outcome)] || d.outcome].join(" · "),
          }),
          el("p", {}, el("strong", { textContent: `${TEXT.comment}: ` }), d.review_comment || TEXT.noComment),
          el("a", { href: `#/visit/${v.id}`, className: "row-link", textContent: TEXT.open }),
        ),
      );
    }
    main.append(list);
  }
}
