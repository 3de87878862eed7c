/**
 * The checks a tablet runs before saving a household or a visit: the same field formats,
 * counts rules and date window as the server (domain/validation.py, and the void checks of
 * domain/push.py), answering as the server's `errors` map does: field -> messages. Each
 * message is {msgid, values}; `say`/`sayErrors` give its text in Vietnamese or English,
 * the server's very words. tests/vectors/mutations.json holds the cases both sides run.
 *
 * What the server knows and the tablet may not (whether a ward, group, household or visit
 * exists, review locks, merges) is the server's to decide; these are the checks that need
 * nothing but the record.
 *
 * One difference cannot be helped: JSON `4.0` is a float to the server (not a count) and the
 * number 4 to JavaScript. The app writes its own JSON, where 4 is always `4`.
 */

import { HlcError, parseHlc } from "./hlc.js";
import { say } from "./messages.js";

export const MUTATION_TYPES = ["household.upsert", "visit.create", "visit.update", "visit.void"];
export const HOUSEHOLD_FIELDS = ["ward", "group", "address", "lat", "lon", "head_name", "phone"];
export const COUNT_FIELDS = [
  "adults",
  "smartphones",
  "installed_before",
  "installed_during",
  "priority_subjects",
  "priority_installed",
];
export const VISIT_FIELDS = [
  "household_id",
  "visited_at",
  "outcome",
  ...COUNT_FIELDS,
  "lat",
  "lon",
  "accuracy_m",
  "notes",
  "come_back_at",
];
export const OUTCOMES = [
  "installed",
  "partial",
  "already_installed",
  "refused",
  "not_home",
  "come_back",
  "no_smartphone",
  "vacant",
  "language_barrier",
];
/** Outcomes whose visits carry every count; the others all counts or none. */
export const OUTCOMES_REQUIRING_COUNTS = [
  "installed",
  "partial",
  "already_installed",
  "refused",
  "no_smartphone",
];
const MUTATION_KEYS = ["mutation_id", "type", "id", "base_version", "hlc", "data"];
const BASE_VERSION_REQUIRED = ["household.upsert", "visit.create", "visit.update", "visit.void"]
  .filter((type) => type !== "visit.create");

export const MAX_ADDRESS_LENGTH = 500;
export const MAX_HEAD_NAME_LENGTH = 200;
export const MAX_PHONE_LENGTH = 32;
export const MAX_NOTES_LENGTH = 2000;
export const MAX_REASON_LENGTH = 500;
export const MAX_COUNT = 10000;
const MAX_SCHEME_LENGTH = 32;
const MAX_CODE_LENGTH = 32;
/** The campaign's calendar, in UTC microseconds: 2000-01-01T00:00:00Z to 2099-12-31T23:59:59.999999Z. */
const FIRST_TIME_US = Date.UTC(2000, 0, 1) * 1000;
const LAST_TIME_US = Date.UTC(2100, 0, 1) * 1000 - 1;
const TIME_RANGE = { first: "2000-01-01T00:00:00Z", last: "2099-12-31T23:59:59Z" };

// JavaScript's "$" never matches before a final newline (Python's does: it uses fullmatch).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SCHEME = /^[a-z0-9][a-z0-9._-]*$/;
const CODE = /^[A-Za-z0-9._-]+$/;
const PHONE = /^[0-9 +().-]*$/;
// RFC 3339 with an explicit offset; ASCII digits only (Python's \d takes any decimal digit,
// but its datetime.fromisoformat then refuses the others, so the answer is the same).
const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$/;
// Python's str.strip() whitespace (JavaScript's trim() differs: it takes U+FEFF, and leaves
// U+001C..U+001F and U+0085).
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");
const NUL = "\u0000";

/** @typedef {{msgid: string, values?: Record<string, string | number>}} Message */
/** @typedef {Record<string, Message[]>} Errors */
/** @typedef {{code: "validation_failed", message: Message, errors: Errors}} Refusal */

/** @param {Errors} errors @param {string} name @param {string} msgid @param {Record<string, string | number>} [values] */
function add(errors, name, msgid, values) {
  (errors[name] ||= []).push(values ? { msgid, values } : { msgid });
}

/** @param {unknown} v */
const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
/** A JSON whole number (JSON's 4.0 is a whole number to JavaScript). @param {unknown} v */
const isInt = (v) => typeof v === "number" && Number.isInteger(v);
/** @param {unknown} v */
const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
/** @param {Record<string, unknown>} data @param {string} name */
const has = (data, name) => Object.prototype.hasOwnProperty.call(data, name);
/** The value of a key, null when absent (Python's dict.get). @param {Record<string, unknown>} data @param {string} name */
const get = (data, name) => (has(data, name) && data[name] !== undefined ? data[name] : null);
/** Characters as Python counts them (code points, not UTF-16 units). @param {string} s */
const length = (s) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
/** Python's str.strip(). @param {string} s */
export const pyStrip = (s) => s.replace(STRIP, "");
/** Strings in code point order, as Python sorts them. @param {string} a @param {string} b */
const byCodePoint = (a, b) => {
  const x = [...a].map((c) => /** @type {number} */ (c.codePointAt(0)));
  const y = [...b].map((c) => /** @type {number} */ (c.codePointAt(0)));
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
};

/** A lowercase canonical UUID. @param {unknown} value */
export const isUuid = (value) => typeof value === "string" && UUID.test(value);

/** A `scheme:code` unit ref. @param {unknown} value */
export function isUnitRef(value) {
  if (typeof value !== "string" || value.split(":").length !== 2) return false;
  const [scheme, code] = value.split(":");
  return (
    length(scheme) <= MAX_SCHEME_LENGTH &&
    length(code) <= MAX_CODE_LENGTH &&
    SCHEME.test(scheme) &&
    CODE.test(code)
  );
}

/** @param {Record<string, unknown>} data @param {string[]} allowed @param {Errors} errors */
function unknownFields(data, allowed, errors) {
  const unknown = Object.keys(data).filter((k) => !allowed.includes(k));
  for (const name of unknown.sort(byCodePoint)) add(errors, name, "Unknown field.");
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** @param {number} y */
const isLeap = (y) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * A time's problem, as domain/validation.py `_checked_time` finds it, or null: not an
 * RFC 3339 time with its offset (the numbers as Python's datetime takes them: an offset's
 * minutes may run to 99 as long as the whole offset stays under 24 hours; a fraction is cut
 * to microseconds), or outside the campaign's calendar.
 * @param {unknown} value
 * @returns {Message | null}
 */
export function timeProblem(value) {
  const format = { msgid: "Must be an RFC 3339 time with its offset." };
  const m = typeof value === "string" ? RFC3339.exec(value) : null;
  if (!m) return format;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const days = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > days) return format;
  if (hour > 23 || minute > 59 || second > 59) return format;
  let offsetMinutes = 0;
  if (!m[8]) {
    offsetMinutes = Number(m[10]) * 60 + Number(m[11]);
    if (offsetMinutes >= 24 * 60) return format;
    if (m[9] === "-") offsetMinutes = -offsetMinutes;
  }
  const micros = Number((m[7] || "").padEnd(6, "0").slice(0, 6));
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day); // Date.UTC would take years 0-99 as 1900-1999
  utc.setUTCHours(hour, minute - offsetMinutes, second, 0);
  const moment = utc.getTime() * 1000 + micros;
  if (moment < FIRST_TIME_US || moment > LAST_TIME_US) {
    return { msgid: "Must be a time from {first} to {last}.", values: TIME_RANGE };
  }
  return null;
}

/** An optional text field's problem, or null. @param {unknown} value @param {number} limit @returns {[string, Record<string, number>?] | null} */
function textProblem(value, limit) {
  if (value === null) return null;
  if (typeof value !== "string") return ["Must be a string or null."];
  if (length(value) > limit) return ["At most {limit} characters.", { limit }];
  if (value.includes(NUL)) return ["Must not contain the NUL character."];
  return null;
}

/** lat in [-90, 90], lon in [-180, 180]; both or neither. @param {Record<string, unknown>} data @param {Errors} errors */
function checkPosition(data, errors) {
  for (const [name, bound] of /** @type {[string, number][]} */ ([["lat", 90], ["lon", 180]])) {
    const value = get(data, name);
    if (value !== null && (!isNumber(value) || Math.abs(/** @type {number} */ (value)) > bound)) {
      add(errors, name, "Must be a number from -{bound} to {bound}, or null.", { bound });
    }
  }
  if (!has(data, "lat") && !has(data, "lon")) return;
  if ((get(data, "lat") === null) !== (get(data, "lon") === null)) {
    const missing = get(data, "lon") === null ? "lon" : "lat";
    add(errors, missing, "Give lat and lon together (both numbers or both null).");
  }
}

/** @param {unknown} value @returns {string | null} */
function phoneProblem(value) {
  if (value === null) return null;
  if (
    typeof value !== "string" ||
    length(value) > MAX_PHONE_LENGTH ||
    !PHONE.test(value) ||
    (value.trim() !== "" && !/[0-9]/.test(value))
  ) {
    return "Digits, spaces and + - . ( ) only, at most {max}, or null.";
  }
  return null;
}

/**
 * A household's data as the server checks it (domain/validation.py `clean_household`).
 * Creating needs `ward` and `address`; an update sends only changed fields, never `ward`.
 * @param {Record<string, unknown>} data
 * @param {{creating: boolean}} options
 * @returns {Errors} empty when the household may be saved
 */
export function householdErrors(data, { creating }) {
  /** @type {Errors} */
  const errors = {};
  unknownFields(data, HOUSEHOLD_FIELDS, errors);
  if (creating) {
    for (const name of ["ward", "address"]) if (get(data, name) === null) add(errors, name, "Required.");
  } else if (has(data, "ward")) {
    add(errors, "ward", "A household's ward cannot be changed.");
  }
  if (creating && get(data, "ward") !== null && !isUnitRef(data.ward)) {
    add(errors, "ward", "Must be a unit ref scheme:code.");
  }
  if (get(data, "group") !== null && !isUnitRef(data.group)) {
    add(errors, "group", "Must be a unit ref scheme:code, or null.");
  }
  if (has(data, "address")) {
    const address = data.address;
    if (typeof address !== "string" || !pyStrip(address)) {
      add(errors, "address", "Must be a non-empty string.");
    } else if (length(pyStrip(address)) > MAX_ADDRESS_LENGTH) {
      add(errors, "address", "At most {limit} characters.", { limit: MAX_ADDRESS_LENGTH });
    } else if (address.includes(NUL)) {
      add(errors, "address", "Must not contain the NUL character.");
    }
  }
  const head = textProblem(get(data, "head_name"), MAX_HEAD_NAME_LENGTH);
  if (head) add(errors, "head_name", ...head);
  const phone = phoneProblem(get(data, "phone"));
  if (phone) add(errors, "phone", phone, { max: MAX_PHONE_LENGTH });
  checkPosition(data, errors);
  return errors;
}

/**
 * A visit's data as the server checks it (domain/validation.py `clean_visit`), before the
 * counts rules. Creating needs household_id, visited_at and outcome; an update may change
 * every field but household_id, and may not clear visited_at or outcome.
 * @param {Record<string, unknown>} data
 * @param {{creating: boolean}} options
 * @returns {Errors}
 */
export function visitErrors(data, { creating }) {
  /** @type {Errors} */
  const errors = {};
  if (!creating && has(data, "household_id")) {
    add(errors, "household_id", "A visit cannot move to another household.");
  }
  unknownFields(data, VISIT_FIELDS, errors);
  for (const name of ["household_id", "visited_at", "outcome"]) {
    if ((creating || has(data, name)) && get(data, name) === null && !errors[name]) {
      add(errors, name, "Required.");
    }
  }
  if (creating && get(data, "household_id") !== null && !isUuid(data.household_id)) {
    add(errors, "household_id", "Must be a lowercase UUID.");
  }
  for (const name of ["visited_at", "come_back_at"]) {
    if (get(data, name) !== null) {
      const problem = timeProblem(data[name]);
      if (problem) add(errors, name, problem.msgid, problem.values);
    }
  }
  const outcome = get(data, "outcome");
  if (outcome !== null && !(typeof outcome === "string" && OUTCOMES.includes(outcome))) {
    add(errors, "outcome", "Must be one of {choices}.", { choices: OUTCOMES.join(", ") });
  }
  for (const name of COUNT_FIELDS) {
    const value = get(data, name);
    if (value !== null && !(isInt(value) && /** @type {number} */ (value) >= 0 && /** @type {number} */ (value) <= MAX_COUNT)) {
      add(errors, name, "Must be a whole number from 0 to {max}, or null.", { max: MAX_COUNT });
    }
  }
  const accuracy = get(data, "accuracy_m");
  if (accuracy !== null && (!isNumber(accuracy) || /** @type {number} */ (accuracy) < 0)) {
    add(errors, "accuracy_m", "Must be a number, 0 or more, or null.");
  }
  const notes = textProblem(get(data, "notes"), MAX_NOTES_LENGTH);
  if (notes) add(errors, "notes", ...notes);
  checkPosition(data, errors);
  return errors;
}

/**
 * The counts rules on a whole visit (domain/validation.py `count_errors`); empty when they
 * hold. Run it as the canvasser types: each broken inequality is on the field that is too
 * large (the sum on installed_during).
 * @param {Record<string, unknown>} values the visit's outcome and counts (null: not given)
 * @returns {Errors}
 */
export function countErrors(values) {
  const outcome = get(values, "outcome");
  const missing = COUNT_FIELDS.filter((name) => get(values, name) === null);
  /** @type {Errors} */
  const errors = {};
  if (typeof outcome === "string" && OUTCOMES_REQUIRING_COUNTS.includes(outcome) && missing.length) {
    for (const name of missing) add(errors, name, "Required when the outcome is {outcome}.", { outcome });
    return errors;
  }
  if (missing.length === COUNT_FIELDS.length) return errors;
  if (missing.length) {
    for (const name of missing) add(errors, name, "Give all six counts or none.");
    return errors;
  }
  if (!COUNT_FIELDS.every((name) => isInt(values[name]))) return errors; // visitErrors says why
  const c = /** @type {Record<string, number>} */ (values);
  const installs = c.installed_before + c.installed_during;
  if (installs > c.smartphones) {
    add(errors, "installed_during",
      "installed_before + installed_during ({installs}) is more than smartphones ({smartphones}).",
      { installs, smartphones: c.smartphones });
  }
  if (c.smartphones > c.adults) {
    add(errors, "smartphones", "More smartphones than adults ({adults}).", { adults: c.adults });
  }
  if (c.priority_installed > c.priority_subjects) {
    add(errors, "priority_installed", "More than priority_subjects ({priority_subjects}).",
      { priority_subjects: c.priority_subjects });
  }
  if (c.priority_subjects > c.adults) {
    add(errors, "priority_subjects", "More priority subjects than adults ({adults}).", { adults: c.adults });
  }
  return errors;
}

/**
 * Whether an outcome disagrees with its counts: the server accepts such a visit and flags it
 * `outcome_mismatch` (domain/validation.py); the app may say so before saving.
 * @param {Record<string, unknown>} values
 */
export function outcomeMismatch(values) {
  if (!COUNT_FIELDS.every((name) => isInt(values[name]))) return false;
  const c = /** @type {Record<string, number>} */ (values);
  const installs = c.installed_before + c.installed_during;
  switch (values.outcome) {
    case "installed": return installs < c.smartphones || c.installed_during === 0;
    case "partial": return installs === 0 || installs >= c.smartphones;
    case "already_installed": return c.installed_during > 0 || c.installed_before < c.smartphones;
    case "refused": return c.installed_during > 0;
    case "no_smartphone": return c.smartphones > 0;
    case "vacant": return c.adults > 0;
    default: return false;
  }
}

/** base_version's problem for a type (domain/validation.py `_base_version_error`). @param {unknown} type @param {unknown} value */
function baseVersionProblem(type, value) {
  if (type === "visit.create") {
    return value === null || value === 0 ? null : "A new visit has no base_version (leave it out, null or 0).";
  }
  if (value === null) {
    return typeof type === "string" && BASE_VERSION_REQUIRED.includes(type) ? "Required for this type." : null;
  }
  if (!isInt(value) || /** @type {number} */ (value) < 0) return "Must be a whole number, 0 or more.";
  return null;
}

/**
 * A mutation's envelope (domain/validation.py `parse_mutation`).
 * @param {unknown} raw
 * @returns {Refusal | null}
 */
function envelopeRefusal(raw) {
  if (!isObject(raw)) {
    return {
      code: "validation_failed",
      message: { msgid: "A mutation must be an object." },
      errors: { mutation: [{ msgid: "Must be an object." }] },
    };
  }
  const m = /** @type {Record<string, unknown>} */ (raw);
  /** @type {Errors} */
  const errors = {};
  unknownFields(m, MUTATION_KEYS, errors);
  const mutationId = get(m, "mutation_id");
  if (!isInt(mutationId) || /** @type {number} */ (mutationId) < 1) {
    add(errors, "mutation_id", "Must be a whole number, 1 or more.");
  }
  const type = get(m, "type");
  if (!(typeof type === "string" && MUTATION_TYPES.includes(type))) {
    add(errors, "type", "Must be one of {choices}.", { choices: MUTATION_TYPES.join(", ") });
  }
  if (!isUuid(get(m, "id"))) add(errors, "id", "Must be a lowercase UUID.");
  const base = baseVersionProblem(type, get(m, "base_version"));
  if (base) add(errors, "base_version", base);
  if (!has(m, "hlc")) {
    add(errors, "hlc", "Required.");
  } else {
    try {
      parseHlc(m.hlc);
    } catch (error) {
      if (!(error instanceof HlcError)) throw error;
      add(errors, "hlc", error.msgid, Object.keys(error.values).length ? error.values : undefined);
    }
  }
  if (!isObject(get(m, "data"))) add(errors, "data", "Must be an object.");
  if (!Object.keys(errors).length) return null;
  return { code: "validation_failed", message: { msgid: "The mutation is invalid." }, errors };
}

/**
 * The server's answer to one mutation, as far as the record alone decides it: null when it
 * passes every check a tablet can make, else the `validation_failed` refusal the server
 * would send (message and field errors, as {msgid, values}).
 * @param {unknown} raw a mutation as pushed
 * @param {{current?: Record<string, unknown> | null}} [options] for visit.update: the visit's
 *   stored data, on which the update is laid before the counts rules are checked
 * @returns {Refusal | null}
 */
export function checkMutation(raw, { current = null } = {}) {
  const envelope = envelopeRefusal(raw);
  if (envelope) return envelope;
  const m = /** @type {{type: string, base_version: unknown, data: Record<string, unknown>}} */ (raw);
  /** @param {string} msgid @param {Errors} errors @returns {Refusal | null} */
  const refuse = (msgid, errors) =>
    Object.keys(errors).length ? { code: "validation_failed", message: { msgid }, errors } : null;
  const { data } = m;
  switch (m.type) {
    case "household.upsert":
      return refuse("The household is invalid.", householdErrors(data, { creating: !m.base_version }));
    case "visit.create": {
      const problem = refuse("The visit is invalid.", visitErrors(data, { creating: true }));
      return problem || refuse("The counts do not add up.", countErrors(data));
    }
    case "visit.update": {
      const problem = refuse("The visit is invalid.", visitErrors(data, { creating: false }));
      if (problem || !current) return problem;
      return refuse("The counts do not add up.", countErrors({ ...current, ...data }));
    }
    default: // visit.void (the envelope allows no other type)
      return refuse("Invalid void.", voidErrors(data));
  }
}

/** A void's data: only `reason`, a text of at most 500 characters (domain/push.py). @param {Record<string, unknown>} data */
export function voidErrors(data) {
  /** @type {Errors} */
  const errors = {};
  const unknown = Object.keys(data).filter((k) => k !== "reason").sort(byCodePoint);
  for (const name of unknown) add(errors, name, "Unknown field.");
  const reason = get(data, "reason");
  if (!unknown.length && reason !== null && (typeof reason !== "string" || length(reason) > MAX_REASON_LENGTH)) {
    add(errors, "reason", "A text of at most 500 characters.");
  }
  return errors;
}

/**
 * Field errors as texts in a language, like the server's `errors` map in an answer.
 * @param {Errors} errors @param {string} [lang] "vi" (the default) or "en"
 * @returns {Record<string, string[]>}
 */
export function sayErrors(errors, lang = "vi") {
  return Object.fromEntries(
    Object.entries(errors).map(([name, messages]) => [name, messages.map((m) => say(m.msgid, m.values, lang))]),
  );
}

export { say };
