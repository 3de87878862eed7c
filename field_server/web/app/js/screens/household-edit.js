/**
 * Screen `#/household-edit/<household id>` (docs/app.md#screens): a household's details as
 * the tablet holds them, to put right at the door: its address, head of household, phone,
 * group (among the ward's groups the canvasser works in) and position (a fresh reading).
 * These are the fields a `household.upsert` may change (docs/sync-protocol.md); never its
 * ward. There is no priority to edit: a household is a priority one from its visits' counts.
 *
 * Checked as typed by rules.js `householdErrors` (an update: only the changed fields), the
 * server's messages beside the fields as on the new household's form, whose parts this
 * screen shares (household-new.js). Saved with store.saveRecord as a `household.upsert`
 * holding only the changed fields, on the version the tablet holds: the server takes a field
 * changed on one side only, and records a conflict for a supervisor when someone changed the
 * same field meanwhile. "Đã lưu" once the save has committed, then back to the household's
 * page (`#/visit-new/<id>`), which links here.
 */
import { householdErrors } from "../rules.js";
import { wardsOf } from "./groups.js";
import { TEXT as FORM, field, orNull, positionField, showErrors } from "./household-new.js";
import { el, unitsOf } from "./households.js";
import { householdHeader, notice, syncSoon } from "./visit-new.js";

const TEXT = {
  title: "Sửa thông tin hộ",
  unknown: "Không tìm thấy hộ này trên máy. Hãy đồng bộ rồi thử lại.",
  group: "Thuộc tổ",
  noGroup: "Chưa thuộc tổ nào",
  save: "Lưu sửa đổi",
  noChange: "Chưa có gì thay đổi.",
};

/**
 * The groups the household may be put in: the groups of its ward the canvasser works in
 * (groups.js `wardsOf`), its own group even if no longer one of them, and "no group" when it
 * has none or the canvasser has the whole ward (the server refuses it to a canvasser of one
 * group: `forbidden_ward`).
 * @param {Map<string, any>} units @param {string[]} assigned @param {string} ward
 * @param {string | null} current
 * @returns {{value: string, name: string}[]} value "" is no group
 */
function groupChoices(units, assigned, ward, current) {
  const mine = wardsOf(units, assigned, new Map()).find((w) => w.ref === ward);
  const choices = (mine ? mine.groups : [])
    .filter((g) => g.ref !== ward) // the ward's own entry lists its households of no group
    .map((g) => ({ value: g.ref, name: g.name }));
  if (current && !choices.some((c) => c.value === current)) {
    choices.unshift({ value: current, name: units.get(current)?.name || current });
  }
  if (current === null || assigned.includes(ward)) choices.push({ value: "", name: TEXT.noGroup });
  return choices;
}

/** @param {unknown} text the stored value of an optional text field */
const storedText = (text) => (typeof text === "string" ? orNull(text) : null);

/**
 * @param {HTMLElement} main
 * @param {{store: any, sync: any, user: string, go: Function, notice?: (text: string) => void}} ctx
 * @param {string} householdId
 */
export async function show(main, ctx, householdId) {
  main.append(el("h1", "", TEXT.title));
  const household = await ctx.store.record(ctx.user, "households", householdId);
  if (!household) {
    const missing = el("p", "error", TEXT.unknown);
    missing.dataset.missing = householdId;
    main.append(missing);
    return;
  }
  const d = household.data;
  const ward = d.ward;
  const current = d.group ?? null;
  const { units, assigned } = unitsOf(await ctx.store.units(ctx.user));
  // A household recorded on this tablet and not acknowledged yet is version 1 on the server
  // once its creation, ahead of this change in the outbox, is applied (field_sync).
  const baseVersion = Math.max(household.version, 1);
  const page = `#/visit-new/${encodeURIComponent(householdId)}`;
  main.append(householdHeader(household));

  const form = /** @type {HTMLFormElement} */ (el("form", "form"));
  form.noValidate = true;
  form.dataset.form = "household-edit";
  const address = field("hh-address", FORM.address);
  address.input.required = true;
  address.input.placeholder = FORM.addressHint;
  address.input.autocomplete = "off";
  address.input.value = d.address || "";
  const head = field("hh-head_name", FORM.head);
  head.input.autocomplete = "off";
  head.input.value = d.head_name || "";
  const phone = field("hh-phone", FORM.phone, "tel");
  phone.input.inputMode = "tel";
  phone.input.autocomplete = "off";
  phone.input.value = d.phone || "";
  form.append(address.label, address.input, address.error, head.label, head.input, head.error, phone.label, phone.input, phone.error);

  /** @type {Record<string, HTMLElement>} */
  const errorLines = { address: address.error, head_name: head.error, phone: phone.error };
  /** @type {Record<string, HTMLElement>} */
  const inputs = { address: address.input, head_name: head.input, phone: phone.input };

  // The group: a choice only when there is one to make.
  const choices = groupChoices(units, assigned, ward, current);
  /** @type {HTMLSelectElement | null} */
  let group = null;
  if (choices.length > 1) {
    const label = /** @type {HTMLLabelElement} */ (el("label", "", TEXT.group));
    label.htmlFor = "hh-group";
    group = /** @type {HTMLSelectElement} */ (el("select"));
    group.id = "hh-group";
    group.name = "group";
    for (const choice of choices) {
      const option = /** @type {HTMLOptionElement} */ (el("option", "", choice.name));
      option.value = choice.value;
      group.append(option);
    }
    group.value = current || "";
    const error = el("p", "error");
    error.id = "hh-group-error";
    error.dataset.errorFor = "group";
    group.setAttribute("aria-describedby", error.id);
    form.append(label, group, error);
    errorLines.group = error;
    inputs.group = group;
  } else {
    const name = (/** @type {string} */ ref) => units.get(ref)?.name || ref;
    form.append(el("p", "where", `${FORM.in}: ${[current, ward].filter(Boolean).map(name).join(", ")}`));
  }

  const known = typeof d.lat === "number" && typeof d.lon === "number" ? { lat: d.lat, lon: d.lon } : null;
  const gps = positionField(known);
  errorLines.lat = gps.error;
  errorLines.lon = gps.error;
  const formError = el("p", "error");
  formError.setAttribute("role", "alert");
  const save = /** @type {HTMLButtonElement} */ (el("button", "primary", TEXT.save));
  save.type = "submit";
  form.append(gps.node, formError, save);
  main.append(form);

  /** The fields the canvasser changed, with their new values (what the mutation carries). */
  function changes() {
    /** @type {Record<string, unknown>} */
    const out = {};
    const typed = address.input.value.trim();
    if (typed !== (d.address || "").trim()) out.address = typed;
    for (const [name, input] of /** @type {[string, HTMLInputElement][]} */ ([["head_name", head.input], ["phone", phone.input]])) {
      const value = orNull(input.value);
      if (value !== storedText(d[name])) out[name] = value;
    }
    if (group && (group.value || null) !== current) out.group = group.value || null;
    const position = gps.value();
    if (position && (position.lat !== d.lat || position.lon !== d.lon)) Object.assign(out, position);
    return out;
  }

  let attempted = false;
  const check = () => {
    const { summary } = showErrors(householdErrors(changes(), { creating: false }), errorLines, inputs);
    formError.textContent = attempted ? summary : "";
  };
  form.addEventListener("input", check);
  form.addEventListener("change", check);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    attempted = true;
    const data = changes();
    const { summary, first } = showErrors(householdErrors(data, { creating: false }), errorLines, inputs);
    if (summary) {
      formError.textContent = summary;
      if (first) first.focus();
      return;
    }
    if (!Object.keys(data).length) {
      formError.textContent = TEXT.noChange;
      return;
    }
    formError.textContent = "";
    save.disabled = true;
    save.textContent = FORM.saving;
    try {
      await ctx.store.saveRecord(ctx.user, { type: "household.upsert", id: householdId, base_version: baseVersion, data });
    } catch (error) {
      save.disabled = false;
      save.textContent = TEXT.save;
      formError.textContent = FORM.failed + (error instanceof Error ? error.message : String(error));
      return;
    }
    notice(ctx, FORM.saved, formError);
    // Back to the household's page, where the form was opened (its one way in), as the
    // header's "Quay lại" goes (app.js): going forward to it instead would leave the form
    // behind it in the history. With no entry of the app's to go back to, it takes the
    // form's place.
    if (history.state && history.state.depth > 0) history.back();
    else ctx.go(page, { replace: true });
    syncSoon(ctx.sync);
  });
}
