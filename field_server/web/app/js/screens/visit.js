/**
 * One visit (`#/visit/<visit id>`): its values as the tablet knows them, and, when it is the
 * canvasser's own (recorded by them on this tablet, not voided, not yet approved or rejected
 * by a supervisor), a correction (`visit.update`: only the changed fields, on the version the
 * tablet holds) and a void (`visit.void` with a reason), both checked by rules.js before they
 * are saved. Anyone else's visit is shown read-only: the server would refuse the change
 * (`not_author`, `visit_locked`).
 */

import { COUNT_FIELDS, MAX_REASON_LENGTH, sayErrors, voidErrors } from "../rules.js";
import {
  COUNT_TEXT,
  OUTCOME_TEXT,
  REVIEW_TEXT,
  VisitForm,
  el,
  householdHeader,
  notice,
  shortTime,
  syncSoon,
} from "./visit-new.js";

const TEXT = {
  title: "Lượt đến nhà",
  unknown: "Không tìm thấy lượt đến nhà này trên máy (có thể đã bị hủy). Hãy đồng bộ rồi thử lại.",
  visitedAt: "Thời gian",
  outcome: "Kết quả",
  comeBack: "Hẹn quay lại",
  notes: "Ghi chú",
  canvasser: "Người ghi",
  review: "Duyệt",
  comment: "Nhận xét của giám sát viên",
  none: "không có",
  voided: "Lượt đến nhà này đã bị hủy.",
  notMine: "Lượt đến nhà của người khác hoặc ghi trên máy khác: chỉ xem.",
  locked: "Giám sát viên đã {status} lượt đến nhà này: không sửa hoặc hủy được nữa.",
  waiting: "Đang chờ gửi lên máy chủ.",
  correct: "Sửa lượt đến nhà",
  saveCorrection: "Lưu sửa đổi",
  noChange: "Chưa có gì thay đổi.",
  voidTitle: "Hủy lượt đến nhà",
  voidHint: "Lượt đến nhà bị hủy không còn được tính. Ghi lý do hủy.",
  reason: "Lý do hủy",
  voidButton: "Hủy lượt đến nhà này",
  fix: "Hãy sửa các lỗi được ghi bên cạnh từng ô.",
  saved: "Đã lưu",
  failed: "Không lưu được trên máy: ",
  back: "Về danh sách hộ",
};

const LOCKED = ["approved", "rejected"];

/** @param {unknown} a @param {unknown} b */
function same(a, b) {
  const blank = (/** @type {unknown} */ v) => v === null || v === undefined || v === "";
  if (blank(a) || blank(b)) return blank(a) && blank(b);
  if (typeof a === "string" && typeof b === "string" && /T\d\d:/.test(a) && /T\d\d:/.test(b)) {
    return Date.parse(a) === Date.parse(b); // the same moment, whatever its offset
  }
  return a === b;
}

/** The visit's values as a definition list. @param {Record<string, any>} d */
function details(d) {
  /** @type {[string, string, string][]} */
  const rows = [
    ["visited_at", TEXT.visitedAt, shortTime(d.visited_at)],
    ["outcome", TEXT.outcome, OUTCOME_TEXT[/** @type {keyof typeof OUTCOME_TEXT} */ (d.outcome)] || String(d.outcome)],
    ...COUNT_FIELDS.map((name) => /** @type {[string, string, string]} */ ([
      name,
      COUNT_TEXT[/** @type {keyof typeof COUNT_TEXT} */ (name)],
      typeof d[name] === "number" ? String(d[name]) : TEXT.none,
    ])),
    ["come_back_at", TEXT.comeBack, d.come_back_at ? shortTime(d.come_back_at) : TEXT.none],
    ["notes", TEXT.notes, d.notes || TEXT.none],
    ["canvasser", TEXT.canvasser, d.canvasser || ""],
    ["review_status", TEXT.review, REVIEW_TEXT[/** @type {keyof typeof REVIEW_TEXT} */ (d.review_status)] || TEXT.none],
  ];
  if (d.review_comment) rows.push(["review_comment", TEXT.comment, d.review_comment]);
  return el(
    "dl",
    { className: "values" },
    ...rows.map(([key, label, value]) =>
      el("div", { data: { field: key } }, el("dt", { textContent: label }), el("dd", { textContent: value })),
    ),
  );
}

/**
 * @param {HTMLElement} main
 * @param {{store: any, sync: any, user: string, go: (hash: string) => void, notice?: (text: string) => void}} ctx
 * @param {string} visitId
 */
export async function show(main, ctx, visitId) {
  main.append(el("h1", { id: "screen-title", textContent: TEXT.title }));
  const visit = await ctx.store.record(ctx.user, "visits", visitId);
  if (!visit) {
    main.append(el("p", { className: "error", textContent: TEXT.unknown, data: { missing: visitId } }));
    return;
  }
  const d = visit.data;
  const household = await ctx.store.record(ctx.user, "households", d.household_id);
  const { device_id } = await ctx.store.device();
  const back = household?.data.group ? `#/households/${household.data.group}` : "#/groups";
  if (household) main.append(householdHeader(household));
  main.append(details(d));
  if (visit.local) main.append(el("p", { className: "muted", textContent: TEXT.waiting, data: { local: "true" } }));

  let readOnly = "";
  if (d.voided) readOnly = TEXT.voided;
  else if (d.canvasser !== ctx.user || d.device_id !== device_id) readOnly = TEXT.notMine;
  else if (LOCKED.includes(d.review_status)) {
    readOnly = TEXT.locked.replace("{status}", REVIEW_TEXT[/** @type {keyof typeof REVIEW_TEXT} */ (d.review_status)]);
  }
  const backLink = el("p", {}, el("a", { href: back, className: "back-link", textContent: TEXT.back }));
  if (readOnly) {
    main.append(el("p", { className: "caution", textContent: readOnly, data: { readOnly: "true" } }), backLink);
    return;
  }
  // A visit recorded here and not acknowledged yet becomes version 1 on the server (field_sync).
  const baseVersion = Math.max(visit.version, 1);

  /** @param {{type: string, id: string, base_version: number, data: Record<string, any>}} draft @param {HTMLElement} summary @param {HTMLButtonElement} button */
  const save = async (draft, summary, button) => {
    button.disabled = true;
    try {
      await ctx.store.saveRecord(ctx.user, draft);
    } catch (error) {
      summary.textContent = TEXT.failed + (error instanceof Error ? error.message : String(error));
      button.disabled = false;
      return;
    }
    notice(ctx, TEXT.saved, summary);
    ctx.go(back);
    syncSoon(ctx.sync);
  };

  // --- the correction ---
  const form = new VisitForm(d, { prefix: "correct", base: d });
  const summary = el("p", { className: "error", attrs: { role: "alert" }, data: { summary: "correct" } });
  const saveButton = /** @type {HTMLButtonElement} */ (el("button", { type: "submit", className: "primary", textContent: TEXT.saveCorrection }));
  const correct = /** @type {HTMLFormElement} */ (
    el("form", { className: "form", noValidate: true, data: { form: "visit-update" }, attrs: { "aria-labelledby": "correct-title" } },
      el("h2", { id: "correct-title", className: "section-title", textContent: TEXT.correct }), form.node, summary, saveButton)
  );
  correct.addEventListener("submit", (event) => {
    event.preventDefault();
    form.attempted = true;
    const values = form.values();
    /** @type {Record<string, any>} */
    const changes = {};
    for (const name of ["outcome", ...COUNT_FIELDS, "come_back_at", "notes"]) {
      const value = values[name] ?? null;
      if (!same(value, d[name])) changes[name] = value;
    }
    const errors = form.errors(changes, false);
    form.check();
    form.show(errors);
    if (Object.keys(errors).length) {
      summary.textContent = TEXT.fix;
      form.firstInvalid()?.focus();
      return;
    }
    if (!Object.keys(changes).length) {
      summary.textContent = TEXT.noChange;
      return;
    }
    summary.textContent = "";
    save({ type: "visit.update", id: visitId, base_version: baseVersion, data: changes }, summary, saveButton);
  });

  // --- the void ---
  const reason = /** @type {HTMLTextAreaElement} */ (
    el("textarea", { id: "void-reason", name: "reason", rows: 2, maxLength: MAX_REASON_LENGTH, attrs: { "aria-describedby": "void-reason-error" } })
  );
  const reasonError = el("p", { className: "error", id: "void-reason-error", data: { errorFor: "reason" } });
  const voidButton = /** @type {HTMLButtonElement} */ (el("button", { type: "submit", className: "danger", textContent: TEXT.voidButton }));
  const voidForm = /** @type {HTMLFormElement} */ (
    el("form", { className: "form void-form", noValidate: true, data: { form: "visit-void" }, attrs: { "aria-labelledby": "void-title" } },
      el("h2", { id: "void-title", className: "section-title", textContent: TEXT.voidTitle }),
      el("p", { className: "hint", textContent: TEXT.voidHint }),
      el("label", { htmlFor: reason.id, textContent: TEXT.reason }), reason, reasonError, voidButton)
  );
  voidForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = reason.value.trim();
    const errors = text ? voidErrors({ reason: text }) : { reason: [{ msgid: "Required." }] };
    reasonError.textContent = (sayErrors(errors, "vi").reason || []).join(" ");
    reason.setAttribute("aria-invalid", String(Boolean(errors.reason)));
    if (errors.reason) {
      reason.focus();
      return;
    }
    save({ type: "visit.void", id: visitId, base_version: baseVersion, data: { reason: text } }, reasonError, voidButton);
  });

  main.append(correct, voidForm, backLink);
}
