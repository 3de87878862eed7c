/**
 * The visit screen (`#/visit-new/<household id>`): the household at the top (with a link to
 * correct its details, household-edit.js) and its earlier visits, then the visit's form —
 * the outcome as large buttons, the six counts with − / + steppers, the come-back time,
 * notes — checked by rules.js as the canvasser types, and the
 * tablet's position when it can get one. Saving makes a `visit.create` draft as field_sync
 * does (a new UUID, visited_at now in the tablet's local time with its offset), checks it,
 * saves it with store.saveRecord, says "Đã lưu" and goes back to the group's households.
 *
 * The form itself (VisitForm) and the small DOM and time helpers are exported: the visit
 * screen (visit.js) corrects a visit with the same form.
 */

import { newId } from "../store.js";
import {
  COUNT_FIELDS,
  OUTCOMES,
  OUTCOMES_REQUIRING_COUNTS,
  countErrors,
  outcomeMismatch,
  sayErrors,
  visitErrors,
} from "../rules.js";

export const TEXT = {
  title: "Ghi lượt đến nhà",
  unknown: "Không tìm thấy hộ này trên máy. Hãy đồng bộ rồi thử lại.",
  head: "Chủ hộ",
  noHead: "chưa ghi",
  earlier: "Các lượt đến nhà trước",
  noEarlier: "Chưa có lượt đến nhà nào.",
  outcome: "Kết quả",
  counts: "Số liệu",
  countsHint: "Bắt buộc với các kết quả: đã cài, cài một phần, đã cài từ trước, từ chối, không có điện thoại thông minh.",
  less: "Bớt",
  more: "Thêm",
  comeBack: "Hẹn quay lại lúc",
  notes: "Ghi chú",
  position: "Vị trí",
  positionWaiting: "đang lấy vị trí…",
  positionNone: "không lấy được vị trí (không bắt buộc)",
  positionGot: "đã có vị trí (sai số khoảng {m} m)",
  mismatch: "Kết quả không khớp với số liệu. Lượt đến nhà vẫn được lưu và sẽ được đánh dấu để giám sát viên xem lại.",
  fix: "Hãy sửa các lỗi được ghi bên cạnh từng ô.",
  save: "Lưu lượt đến nhà",
  saving: "Đang lưu…",
  saved: "Đã lưu",
  failed: "Không lưu được trên máy: ",
  by: "người ghi",
  voided: "đã hủy",
  back: "Về danh sách hộ",
  editHousehold: "Sửa thông tin hộ",
};

/** The outcomes in Vietnamese (as the pages and the CSV say them, domain/exports.py). */
export const OUTCOME_TEXT = {
  installed: "Đã cài",
  partial: "Cài một phần",
  already_installed: "Đã cài từ trước",
  refused: "Từ chối",
  not_home: "Vắng nhà",
  come_back: "Hẹn quay lại",
  no_smartphone: "Không có điện thoại thông minh",
  vacant: "Nhà trống",
  language_barrier: "Bất đồng ngôn ngữ",
};

export const COUNT_TEXT = {
  adults: "Người trưởng thành",
  smartphones: "Điện thoại thông minh",
  installed_before: "Đã cài trước lượt đến",
  installed_during: "Cài trong lượt đến",
  priority_subjects: "Đối tượng ưu tiên",
  priority_installed: "Đối tượng ưu tiên đã cài",
};

export const REVIEW_TEXT = {
  pending: "chờ duyệt",
  approved: "đã duyệt",
  rejected: "bị từ chối",
  flagged: "cần xem lại",
};

/** Outcomes after which the household still has to be visited again. */
export const UNFINISHED_OUTCOMES = ["not_home", "come_back"];

/**
 * A DOM element: `props` are properties (className, textContent, type…) except `data`
 * (dataset) and `attrs` (attributes); children are nodes or strings. Never innerHTML.
 * @param {string} tag @param {Record<string, any>} [props] @param {(Node | string | null)[]} children
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { data, attrs, ...rest } = props;
  Object.assign(node, rest);
  for (const [k, v] of Object.entries(data || {})) node.dataset[k] = String(v);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const child of children) if (child !== null) node.append(child);
  return node;
}

const pad = (/** @type {number} */ n, width = 2) => String(n).padStart(width, "0");

/**
 * A moment as RFC 3339 in the tablet's local time with its offset, to the second, as
 * field_sync writes visited_at ("2020-08-15T09:31:00+07:00").
 * @param {Date} date
 */
export function localIso(date) {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** A datetime-local field's value ("2020-08-16T14:00") as RFC 3339 with its offset, or null. @param {string} value */
export function fromLocalInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x || 0));
  const date = new Date(y, mo - 1, d, h, mi, s);
  return Number.isNaN(date.getTime()) ? null : localIso(date);
}

/** An RFC 3339 time as a datetime-local field's value, in the tablet's time. @param {unknown} iso */
export function toLocalInput(iso) {
  if (typeof iso !== "string") return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A time for people: "15/08 09:31". @param {unknown} iso */
export function shortTime(iso) {
  if (typeof iso !== "string") return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString("vi-VN", { hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit" });
}

/**
 * A short line that outlives the screen ("Đã lưu"): the frame's `ctx.notice` when it has one,
 * else the element `fallback`.
 * @param {{notice?: (text: string) => void}} ctx @param {string} text @param {HTMLElement} fallback
 */
export function notice(ctx, text, fallback) {
  if (typeof ctx.notice === "function") ctx.notice(text);
  else fallback.textContent = text;
}

/**
 * Sync soon, without waiting (a sync already running is followed by one more: sync.js).
 * @param {{syncNow: () => Promise<any>}} sync
 */
export function syncSoon(sync) {
  sync.syncNow().catch(() => {}); // the frame's status line says how it went
}

/** Two error maps as one (field -> messages). @param {...import("../rules.js").Errors} maps */
export function joinErrors(...maps) {
  /** @type {import("../rules.js").Errors} */
  const out = {};
  for (const map of maps) for (const [k, v] of Object.entries(map)) (out[k] ||= []).push(...v);
  return out;
}

/** The household's summary for the top of a screen. @param {any} household */
export function householdHeader(household) {
  const data = household.data || {};
  return el(
    "div",
    { className: "household-card", data: { household: household.id } },
    el("p", { className: "household-address", textContent: data.address || "" }),
    el("p", { className: "household-head", textContent: `${TEXT.head}: ${data.head_name || TEXT.noHead}` }),
  );
}

/** The household's visits, newest first, each a link to its own screen. @param {any[]} visits */
export function visitList(visits) {
  if (!visits.length) return el("p", { className: "muted", textContent: TEXT.noEarlier });
  const sorted = [...visits].sort((a, b) => Date.parse(b.data.visited_at) - Date.parse(a.data.visited_at));
  return el(
    "ul",
    { className: "visit-list" },
    ...sorted.map((v) => {
      const d = v.data;
      const parts = [shortTime(d.visited_at), OUTCOME_TEXT[/** @type {keyof typeof OUTCOME_TEXT} */ (d.outcome)] || d.outcome];
      if (d.canvasser) parts.push(`${TEXT.by}: ${d.canvasser}`);
      if (d.voided) parts.push(TEXT.voided);
      return el(
        "li",
        {},
        el("a", { href: `#/visit/${v.id}`, className: "row-link", textContent: parts.join(" · "), data: { visit: v.id } }),
      );
    }),
  );
}

/**
 * The visit's form: outcome, counts, come-back time, notes, each with its error line. It
 * checks itself as the canvasser types (rules.js), and `errors()` adds what only a save asks
 * (an outcome chosen, a come-back time for "come back").
 */
export class VisitForm {
  /**
   * @param {Record<string, any>} initial the visit's values (empty for a new visit)
   * @param {{prefix?: string, base?: Record<string, any> | null}} [options] base: the stored
   *   visit a correction is laid on (the counts rules are checked on the whole visit)
   */
  constructor(initial, { prefix = "visit", base = null } = {}) {
    this.prefix = prefix;
    this.base = base;
    /** @type {string | null} */
    this.outcome = initial.outcome || null;
    /** @type {Record<string, HTMLElement>} */
    this.errorLines = {};
    /** @type {Record<string, HTMLInputElement>} */
    this.countInputs = {};
    this.attempted = false;
    this.node = el("div", { className: "visit-form" });
    this.node.append(this.outcomeField(), this.countsField(initial));

    this.comeBack = /** @type {HTMLInputElement} */ (
      el("input", { type: "datetime-local", id: `${prefix}-come_back_at`, name: "come_back_at", value: toLocalInput(initial.come_back_at) })
    );
    this.comeBackBlock = el(
      "div",
      { className: "field" },
      el("label", { htmlFor: this.comeBack.id, textContent: TEXT.comeBack }),
      this.comeBack,
      this.errorLine("come_back_at"),
    );
    this.notes = /** @type {HTMLTextAreaElement} */ (
      el("textarea", { id: `${prefix}-notes`, name: "notes", rows: 3, value: initial.notes || "" })
    );
    this.mismatch = el("p", { className: "mismatch", data: { mismatch: "" }, attrs: { "aria-live": "polite" } });
    this.node.append(
      this.comeBackBlock,
      el("div", { className: "field" }, el("label", { htmlFor: this.notes.id, textContent: TEXT.notes }), this.notes, this.errorLine("notes")),
      this.mismatch,
    );
    for (const input of [this.comeBack, this.notes]) input.addEventListener("input", () => this.check());
    this.check();
  }

  /** @param {string} name */
  errorLine(name) {
    const line = el("p", { className: "error", id: `${this.prefix}-${name}-error`, data: { errorFor: name } });
    this.errorLines[name] = line;
    return line;
  }

  outcomeField() {
    const set = el("fieldset", { className: "outcomes" }, el("legend", { textContent: TEXT.outcome }));
    for (const outcome of OUTCOMES) {
      const id = `${this.prefix}-outcome-${outcome}`;
      const radio = /** @type {HTMLInputElement} */ (
        el("input", { type: "radio", name: `${this.prefix}-outcome`, id, value: outcome, checked: outcome === this.outcome })
      );
      radio.addEventListener("change", () => {
        this.outcome = outcome;
        this.check();
      });
      set.append(
        el("div", { className: "outcome", data: { outcome } }, radio, el("label", { htmlFor: id, textContent: OUTCOME_TEXT[/** @type {keyof typeof OUTCOME_TEXT} */ (outcome)] })),
      );
    }
    set.append(this.errorLine("outcome"));
    return set;
  }

  /** @param {Record<string, any>} initial */
  countsField(initial) {
    const set = el(
      "fieldset",
      { className: "counts" },
      el("legend", { textContent: TEXT.counts }),
      el("p", { className: "hint", textContent: TEXT.countsHint }),
    );
    for (const name of COUNT_FIELDS) {
      const id = `${this.prefix}-${name}`;
      const value = initial[name];
      const input = /** @type {HTMLInputElement} */ (
        el("input", {
          type: "number",
          id,
          name,
          min: "0",
          step: "1",
          inputMode: "numeric",
          value: typeof value === "number" ? String(value) : "0",
          attrs: { "aria-describedby": `${id}-error` },
        })
      );
      this.countInputs[name] = input;
      const label = COUNT_TEXT[/** @type {keyof typeof COUNT_TEXT} */ (name)];
      const step = (/** @type {number} */ by) => {
        const now = Number.parseInt(input.value, 10);
        input.value = String(Math.max(0, (Number.isNaN(now) ? 0 : now) + by));
        this.check();
      };
      const less = el("button", { type: "button", className: "step", textContent: "−", data: { step: `${name}-` }, attrs: { "aria-label": `${TEXT.less}: ${label}` } });
      const more = el("button", { type: "button", className: "step", textContent: "+", data: { step: `${name}+` }, attrs: { "aria-label": `${TEXT.more}: ${label}` } });
      less.addEventListener("click", () => step(-1));
      more.addEventListener("click", () => step(1));
      input.addEventListener("input", () => this.check());
      set.append(
        el(
          "div",
          { className: "count", data: { count: name } },
          el("label", { htmlFor: id, textContent: label }),
          el("div", { className: "stepper" }, less, input, more),
          this.errorLine(name),
        ),
      );
    }
    return set;
  }

  /** A count's value: a whole number, null when empty, the text itself when not a number. @param {string} name */
  count(name) {
    const text = this.countInputs[name].value.trim();
    if (text === "") return null;
    return /^[0-9]+$/.test(text) ? Number(text) : text;
  }

  /** The visit's values as the form holds them (without visited_at, household or position). */
  values() {
    /** @type {Record<string, any>} */
    const values = { outcome: this.outcome };
    const counts = Object.fromEntries(COUNT_FIELDS.map((name) => [name, this.count(name)]));
    // Counts go with every outcome that needs them; with the others only when one was given
    // (then all six: rules.js wants all or none).
    const needed = this.outcome !== null && OUTCOMES_REQUIRING_COUNTS.includes(this.outcome);
    if (needed || Object.values(counts).some((v) => v !== null && v !== 0)) Object.assign(values, counts);
    values.come_back_at = fromLocalInput(this.comeBack.value);
    values.notes = this.notes.value;
    return values;
  }

  /** What a save would refuse: rules.js's checks on `data`, plus the screen's own. @param {Record<string, any>} data @param {boolean} creating */
  errors(data, creating) {
    const whole = this.base ? { ...this.base, ...data } : data;
    const errors = joinErrors(visitErrors(data, { creating }), countErrors(whole));
    // A "come back" visit says when: the canvasser's appointment is the whole point of it.
    if (whole.outcome === "come_back" && !whole.come_back_at && !errors.come_back_at) {
      errors.come_back_at = [{ msgid: "Required." }];
    }
    return errors;
  }

  /** Show the checks of the values as they stand (before a first save: not "Required."). */
  check() {
    const values = this.values();
    const errors = this.errors(values, !this.base);
    delete errors.household_id;
    delete errors.visited_at;
    if (!this.attempted) {
      for (const [name, messages] of Object.entries(errors)) {
        const kept = messages.filter((m) => m.msgid !== "Required.");
        if (kept.length) errors[name] = kept;
        else delete errors[name];
      }
    }
    this.show(errors);
    this.comeBackBlock.dataset.needed = String(this.outcome === "come_back");
    const whole = this.base ? { ...this.base, ...values } : values;
    this.mismatch.textContent = outcomeMismatch(whole) ? TEXT.mismatch : "";
    return errors;
  }

  /** Each field's messages beside it, in Vietnamese. @param {import("../rules.js").Errors} errors */
  show(errors) {
    const texts = sayErrors(errors, "vi");
    for (const [name, line] of Object.entries(this.errorLines)) {
      line.textContent = (texts[name] || []).join(" ");
      const input = this.countInputs[name] || (name === "notes" ? this.notes : name === "come_back_at" ? this.comeBack : null);
      if (input) input.setAttribute("aria-invalid", String(Boolean(texts[name])));
    }
  }

  /** The first field with an error, to move the focus to. */
  firstInvalid() {
    return /** @type {HTMLElement | null} */ (this.node.querySelector("[aria-invalid=true]")) ||
      /** @type {HTMLElement | null} */ (this.node.querySelector("input[type=radio]"));
  }
}

/** The tablet's position, if it gives one soon; never blocks anything. */
class Position {
  /** @param {HTMLElement} line */
  constructor(line) {
    /** @type {{lat: number, lon: number, accuracy_m: number} | null} */
    this.value = null;
    this.line = line;
    if (!("geolocation" in navigator)) {
      line.textContent = TEXT.positionNone;
      return;
    }
    line.textContent = TEXT.positionWaiting;
    navigator.geolocation.getCurrentPosition(
      (p) => {
        this.value = {
          lat: Math.round(p.coords.latitude * 1e6) / 1e6,
          lon: Math.round(p.coords.longitude * 1e6) / 1e6,
          accuracy_m: Math.round(p.coords.accuracy),
        };
        line.dataset.position = "yes";
        line.textContent = TEXT.positionGot.replace("{m}", String(this.value.accuracy_m));
      },
      () => {
        line.dataset.position = "no";
        line.textContent = TEXT.positionNone;
      },
      { enableHighAccuracy: true, timeout: 20_000, maximumAge: 60_000 },
    );
  }
}

/**
 * @param {HTMLElement} main
 * @param {{store: any, sync: any, user: string, go: (hash: string) => void, notice?: (text: string) => void}} ctx
 * @param {string} householdId
 */
export async function show(main, ctx, householdId) {
  const household = await ctx.store.record(ctx.user, "households", householdId);
  main.append(el("h1", { id: "screen-title", textContent: TEXT.title }));
  if (!household) {
    main.append(el("p", { className: "error", textContent: TEXT.unknown, data: { missing: householdId } }));
    return;
  }
  const visits = await ctx.store.visits(ctx.user, householdId);
  const back = household.data.group ? `#/households/${household.data.group}` : "#/groups";
  // The household's own details are changed on their screen (household-edit.js).
  const card = householdHeader(household);
  card.append(
    el("a", {
      href: `#/household-edit/${encodeURIComponent(householdId)}`,
      className: "button secondary edit-household",
      textContent: TEXT.editHousehold,
      data: { editHousehold: householdId },
    }),
  );
  main.append(
    card,
    el("h2", { className: "section-title", textContent: TEXT.earlier }),
    visitList(visits),
  );

  const form = new VisitForm({});
  const positionLine = el("span", { className: "muted", data: { position: "" }, attrs: { "aria-live": "polite" } });
  const position = new Position(positionLine);
  const summary = el("p", { className: "error", attrs: { role: "alert" }, data: { summary: "" } });
  const save = /** @type {HTMLButtonElement} */ (el("button", { type: "submit", className: "primary", textContent: TEXT.save }));
  const formNode = /** @type {HTMLFormElement} */ (
    el(
      "form",
      { className: "form", noValidate: true, data: { form: "visit-new" } },
      form.node,
      el("p", {}, el("span", { textContent: `${TEXT.position}: ` }), positionLine),
      summary,
      save,
    )
  );
  main.append(formNode, el("p", {}, el("a", { href: back, className: "back-link", textContent: TEXT.back })));

  formNode.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.attempted = true;
    /** @type {Record<string, any>} */
    const data = {
      household_id: householdId,
      visited_at: localIso(new Date()),
      ...form.values(),
      ...(position.value || {}),
    };
    if (data.come_back_at === null) delete data.come_back_at;
    const errors = form.errors(data, true);
    form.check();
    form.show(errors);
    if (Object.keys(errors).length) {
      summary.textContent = TEXT.fix;
      form.firstInvalid()?.focus();
      return;
    }
    summary.textContent = "";
    save.disabled = true;
    save.textContent = TEXT.saving;
    try {
      await ctx.store.saveRecord(ctx.user, { type: "visit.create", id: newId(), data });
    } catch (error) {
      summary.textContent = TEXT.failed + (error instanceof Error ? error.message : String(error));
      save.disabled = false;
      save.textContent = TEXT.save;
      return;
    }
    notice(ctx, TEXT.saved, summary);
    ctx.go(back);
    syncSoon(ctx.sync);
  });
}
