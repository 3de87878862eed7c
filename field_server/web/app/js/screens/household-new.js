/**
 * Screen `#/household-new/<group ref>` (docs/app.md#screens): a household the tablet's copy
 * does not have yet. Address, head of household, phone, and the GPS position with its
 * accuracy ("Lấy vị trí"). As the address is typed, a household of the same ward with the
 * same normalised address (address.js, the server's `possible_duplicate` rule) is shown, with
 * a link to it; saving anyway stays possible (two families may share a house number; the
 * supervisor settles real duplicates). The server's field checks (rules.js householdErrors)
 * run before saving, their messages beside the fields. Saved as a household.upsert (base
 * version 0, a new id), then on to the visit at the new household.
 *
 * A ward's ref instead of a group's makes a household of that ward with no group.
 *
 * The duplicate warning looks addresses up in an index of the ward's households made from
 * the copy kept in memory (store.js `copy`) the first time an address is typed, and kept as
 * long as that copy: opening the screen reads no household, and each household's address is
 * normalised once (`normalOf`), however often the index is made again.
 *
 * Also the household form's parts, which the household's edit screen (household-edit.js)
 * shares: `TEXT`, `field`, `orNull`, `positionField` and `showErrors`.
 */
import { normaliseAddress } from "../address.js";
import { householdErrors, pyStrip, sayErrors } from "../rules.js";
import { newId } from "../store.js";
import { el, unitsOf } from "./households.js";

export const TEXT = {
  title: "Hộ mới",
  in: "Thuộc",
  address: "Địa chỉ",
  addressHint: "Số nhà, ngõ, ngách, đường",
  head: "Họ tên chủ hộ",
  phone: "Số điện thoại",
  position: "Vị trí",
  locate: "Lấy vị trí",
  locating: "Đang lấy vị trí…",
  noPosition: "Chưa có vị trí.",
  at: (/** @type {number} */ lat, /** @type {number} */ lon, /** @type {number} */ accuracy) =>
    `${lat.toFixed(6)}, ${lon.toFixed(6)} (sai số khoảng ${Math.round(accuracy)} m)`,
  stored: (/** @type {number} */ lat, /** @type {number} */ lon) => `${lat.toFixed(6)}, ${lon.toFixed(6)}`,
  noGps: "Máy này không lấy được vị trí.",
  denied: "Ứng dụng chưa được phép lấy vị trí: hãy cho phép trong cài đặt trình duyệt.",
  unavailable: "Không xác định được vị trí. Hãy ra chỗ thoáng và thử lại.",
  timeout: "Lấy vị trí quá lâu. Hãy thử lại.",
  duplicate: "Đã có hộ cùng địa chỉ này trên máy:",
  open: "Mở hộ này",
  save: "Lưu hộ mới",
  saveAnyway: "Vẫn lưu hộ mới",
  saving: "Đang lưu…",
  saved: "Đã lưu",
  fix: "Hãy sửa các ô được đánh dấu.",
  failed: "Chưa lưu được: ",
  unknownGroup: "Không có tổ này trong dữ liệu của máy. Bấm Đồng bộ khi có mạng.",
  noHead: "(chưa có tên chủ hộ)",
};

/** How long to wait for a position, and never a cached one: the canvasser is at this door. */
const GPS_OPTIONS = { enableHighAccuracy: true, timeout: 30_000, maximumAge: 0 };

/** A form field with its label and its error line. @param {string} id @param {string} text */
export function field(id, text, type = "text") {
  const label = /** @type {HTMLLabelElement} */ (el("label", "", text));
  label.htmlFor = id;
  const input = /** @type {HTMLInputElement} */ (el("input"));
  input.id = id;
  input.name = id.replace(/^hh-/, "");
  input.type = type;
  const error = el("p", "error");
  error.id = `${id}-error`;
  error.dataset.errorFor = input.name;
  input.setAttribute("aria-describedby", error.id);
  return { label, input, error };
}

/** @param {string} text @returns {string | null} */
export const orNull = (text) => (pyStrip(text) === "" ? null : text.trim());

/**
 * The position's fieldset: "Lấy vị trí" asks for a fresh reading and shows it with its
 * accuracy; a refusal, no fix or a timeout says so. `value()` is the reading taken, or null.
 * @param {{lat: number, lon: number} | null} [known] the position already stored, shown until
 *   a reading replaces it
 */
export function positionField(known = null) {
  const gps = el("fieldset", "gps");
  const legend = el("legend", "", TEXT.position);
  const locate = /** @type {HTMLButtonElement} */ (el("button", "secondary", TEXT.locate));
  locate.type = "button";
  const before = known ? TEXT.stored(known.lat, known.lon) : TEXT.noPosition;
  const where = el("p", "position", before);
  where.id = "hh-position";
  where.setAttribute("aria-live", "polite");
  const error = el("p", "error");
  error.dataset.errorFor = "lat";
  gps.append(legend, locate, where, error);

  /** @type {{lat: number, lon: number, accuracy: number} | null} */
  let position = null;
  locate.addEventListener("click", () => {
    error.textContent = "";
    if (!("geolocation" in navigator)) {
      error.textContent = TEXT.noGps;
      return;
    }
    locate.disabled = true;
    where.textContent = TEXT.locating;
    navigator.geolocation.getCurrentPosition(
      (found) => {
        locate.disabled = false;
        const { latitude, longitude, accuracy } = found.coords;
        // Six decimals is about 10 cm: more says nothing a phone's GPS knows.
        position = { lat: Number(latitude.toFixed(6)), lon: Number(longitude.toFixed(6)), accuracy };
        where.textContent = TEXT.at(position.lat, position.lon, accuracy);
        where.dataset.lat = String(position.lat);
        where.dataset.lon = String(position.lon);
        where.dataset.accuracy = String(Math.round(accuracy));
        gps.dispatchEvent(new Event("input", { bubbles: true })); // a form checking as typed sees it
      },
      (failure) => {
        locate.disabled = false;
        where.textContent = position ? TEXT.at(position.lat, position.lon, position.accuracy) : before;
        error.textContent =
          failure.code === failure.PERMISSION_DENIED ? TEXT.denied : failure.code === failure.TIMEOUT ? TEXT.timeout : TEXT.unavailable;
      },
      GPS_OPTIONS,
    );
  });
  return { node: gps, error, value: () => (position ? { lat: position.lat, lon: position.lon } : null) };
}

/**
 * rules.js's errors beside their fields, in Vietnamese (the server's words), each input
 * marked aria-invalid or not. Answers `summary`, the line for under the form ("" when there
 * is no error: TEXT.fix, then the messages of fields not on the form), and `first`, the first
 * input in error, for the focus.
 * @param {import("../rules.js").Errors} errors
 * @param {Record<string, HTMLElement>} lines field -> its error line (lat and lon share one)
 * @param {Record<string, HTMLElement>} inputs field -> its input
 */
export function showErrors(errors, lines, inputs) {
  const said = sayErrors(errors, "vi");
  for (const [name, line] of Object.entries(lines)) {
    if (name === "lon" && said.lat) continue; // the line lat and lon share keeps lat's message
    line.textContent = (said[name] || []).join(" ");
  }
  for (const [name, input] of Object.entries(inputs)) input.setAttribute("aria-invalid", String(!!said[name]));
  const problems = Object.keys(said);
  const other = problems.filter((name) => !(name in lines));
  const summary = problems.length ? TEXT.fix + (other.length ? ` ${other.map((n) => said[n].join(" ")).join(" ")}` : "") : "";
  return { summary, first: problems.map((n) => inputs[n]).find(Boolean) || null };
}

/** Each household row's normalised address: rows of the copy are never changed (store.js). */
const normalOf = new WeakMap();

/**
 * The ward's households by normalised address, per user, with the copy it was made from.
 * @type {Map<string, {copy: any, ward: string, byAddress: Map<string, any[]>}>}
 */
const kept = new Map();

/**
 * The households of `ward` in the user's copy, by normalised address: the index kept while
 * the copy is the same, else made again (a saved household gives a new copy whose other rows
 * are the same objects, whose addresses `normalOf` already holds).
 * @param {any} store @param {string} user @param {string} ward
 * @returns {Promise<Map<string, any[]>>}
 */
async function addressIndex(store, user, ward) {
  const copy = await store.copy(user);
  const last = kept.get(user);
  if (last && last.copy === copy && last.ward === ward) return last.byAddress;
  /** @type {Map<string, any[]>} */
  const byAddress = new Map();
  for (const row of copy.households) {
    if (row.data.ward !== ward) continue;
    let key = normalOf.get(row);
    if (key === undefined) normalOf.set(row, (key = normaliseAddress(row.data.address || "")));
    const list = byAddress.get(key);
    if (list) list.push(row);
    else byAddress.set(key, [row]);
  }
  kept.set(user, { copy, ward, byAddress });
  return byAddress;
}

/**
 * @param {HTMLElement} main
 * @param {{store: any, sync: any, user: string, go: Function, notice?: Function}} ctx
 * @param {string} [ref] the group's ref (or a ward's: a household of no group)
 */
export async function show(main, ctx, ref = "") {
  const { units } = unitsOf(await ctx.store.units(ctx.user));
  const unit = units.get(ref);
  main.append(el("h1", "", TEXT.title));
  if (!unit) {
    main.append(el("p", "empty", TEXT.unknownGroup));
    return;
  }
  const ward = unit.level === "group" ? unit.parent : ref;
  const group = unit.level === "group" ? ref : null;
  main.append(el("p", "where", `${TEXT.in}: ${unit.name}${unit.level === "group" && units.get(ward) ? `, ${units.get(ward).name}` : ""}`));

  const form = /** @type {HTMLFormElement} */ (el("form", "form"));
  form.noValidate = true;
  const address = field("hh-address", TEXT.address);
  address.input.required = true;
  address.input.placeholder = TEXT.addressHint;
  address.input.autocomplete = "off";
  const head = field("hh-head_name", TEXT.head);
  head.input.autocomplete = "off";
  const phone = field("hh-phone", TEXT.phone, "tel");
  phone.input.inputMode = "tel";
  phone.input.autocomplete = "off";

  const warning = el("div", "warning");
  warning.id = "duplicate-warning";
  warning.setAttribute("role", "alert");
  warning.hidden = true;

  const gps = positionField();

  const formError = el("p", "error");
  formError.setAttribute("role", "alert");
  const save = /** @type {HTMLButtonElement} */ (el("button", "primary", TEXT.save));
  save.type = "submit";
  form.append(
    address.label,
    address.input,
    address.error,
    warning,
    head.label,
    head.input,
    head.error,
    phone.label,
    phone.input,
    phone.error,
    gps.node,
    formError,
    save,
  );
  main.append(form);

  /** The households already in the copy at this address (the warning shows them). */
  async function duplicates() {
    const text = address.input.value;
    if (!pyStrip(text)) return [];
    const byAddress = await addressIndex(ctx.store, ctx.user, ward);
    return byAddress.get(normaliseAddress(text)) || [];
  }

  // Keystrokes answered out of order would show an older address's warning: the last wins.
  let asked = 0;
  async function warn() {
    const turn = ++asked;
    const found = await duplicates();
    if (turn !== asked || !main.isConnected) return; // typed on, or the canvasser moved on
    warning.hidden = found.length === 0;
    if (!save.disabled) save.textContent = found.length ? TEXT.saveAnyway : TEXT.save;
    if (!found.length) {
      warning.replaceChildren();
      return;
    }
    const list = el("ul");
    for (const r of found.slice(0, 5)) {
      const item = el("li");
      item.append(el("span", "", `${r.data.address} · ${r.data.head_name || TEXT.noHead} `));
      const link = /** @type {HTMLAnchorElement} */ (el("a", "", TEXT.open));
      link.href = `#/visit-new/${encodeURIComponent(r.id)}`;
      link.dataset.household = r.id;
      item.append(link);
      list.append(item);
    }
    warning.replaceChildren(el("p", "", TEXT.duplicate), list);
  }
  const warnSoon = () => {
    // The warning is advice: the household can be saved whatever becomes of it.
    warn().catch((error) => console.warn("duplicate warning:", error));
  };
  address.input.addEventListener("input", warnSoon);

  const errorLines = { address: address.error, head_name: head.error, phone: phone.error, lat: gps.error, lon: gps.error };
  const inputs = { address: address.input, head_name: head.input, phone: phone.input };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.textContent = "";
    const position = gps.value();
    const data = {
      ward,
      group,
      address: address.input.value.trim(),
      lat: position ? position.lat : null,
      lon: position ? position.lon : null,
      head_name: orNull(head.input.value),
      phone: orNull(phone.input.value),
    };
    const { summary, first } = showErrors(householdErrors(data, { creating: true }), errorLines, inputs);
    if (summary) {
      formError.textContent = summary;
      if (first) first.focus();
      return;
    }
    save.disabled = true;
    save.textContent = TEXT.saving;
    const id = newId();
    try {
      await ctx.store.saveRecord(ctx.user, { type: "household.upsert", id, base_version: 0, data });
    } catch (error) {
      save.disabled = false;
      save.textContent = TEXT.save;
      warnSoon(); // "Vẫn lưu hộ mới" again if the address is a known one
      formError.textContent = TEXT.failed + (error instanceof Error ? error.message : String(error));
      return;
    }
    if (ctx.notice) ctx.notice(TEXT.saved);
    // The form is done with: "back" from the visit goes to the list, not to an empty form.
    ctx.go(`#/visit-new/${encodeURIComponent(id)}`, { replace: true });
    ctx.sync.syncNow().catch(() => {}); // it syncs when it can; the header says how it went
  });
}
