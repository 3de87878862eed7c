/**
 * The hybrid logical clock of the sync protocol (docs/sync-protocol.md#clocks), exactly as
 * domain/hlc.py: a reading is `<ms since epoch>-<counter>-<node>`, compared as
 * (integer ms, integer counter, node), never as a string. The tablet's node is its device id.
 * Pure: the wall time is an argument. tests/vectors/hlc.json holds the cases both sides run.
 */

export const MAX_COUNTER = 0xffff;
export const MAX_MS = Number.MAX_SAFE_INTEGER; // 2 ** 53 - 1, as in domain/hlc.py
export const MAX_NODE_LENGTH = 64;
/** A remote reading further ahead of the wall time than this is ignored (records.py). */
export const MAX_CLOCK_AHEAD_MS = 10 * 60 * 1000;

const DIGITS = /^[0-9]+$/;
const NODE = /^[!-~]+$/; // printable ASCII without the space

/** @typedef {{ms: number, counter: number, node: string}} HLC */

/** A reading refused by parseHlc: `message` is the server's msgid, `values` fill it. */
export class HlcError extends Error {
  /** @param {string} msgid @param {Record<string, number>} [values] */
  constructor(msgid, values = {}) {
    super(msgid);
    this.msgid = msgid;
    this.values = values;
  }
}

/**
 * The value of a run of ASCII digits, or MAX_MS + 1 when it is larger than MAX_MS (leading
 * zeros do not count, as in domain/hlc.py `_number`). Compared as text, so no digit is lost.
 * @param {string} digits
 */
function number(digits) {
  const bare = digits.replace(/^0+/, "") || "0";
  const max = String(MAX_MS);
  if (bare.length > max.length || (bare.length === max.length && bare > max)) return MAX_MS + 1;
  return Number(bare);
}

/**
 * Read `<ms>-<counter>-<node>`; the node may itself hold '-' (a UUID), so only the first two
 * '-' separate fields. Throws HlcError with the server's message otherwise.
 * @param {unknown} text
 * @returns {HLC}
 */
export function parseHlc(text) {
  if (typeof text !== "string") throw new HlcError("Must be a string <ms>-<counter>-<node>.");
  const first = text.indexOf("-");
  const second = first < 0 ? -1 : text.indexOf("-", first + 1);
  if (second < 0) throw new HlcError("Must have the form <ms>-<counter>-<node>.");
  const msText = text.slice(0, first);
  const counterText = text.slice(first + 1, second);
  const node = text.slice(second + 1);
  if (!DIGITS.test(msText) || number(msText) > MAX_MS) {
    throw new HlcError("The milliseconds must be a non-negative integer.");
  }
  if (!DIGITS.test(counterText) || number(counterText) > MAX_COUNTER) {
    throw new HlcError("The counter must be an integer from 0 to {max}.", { max: MAX_COUNTER });
  }
  // NODE admits ASCII only, so .length counts characters as Python's len() does.
  if (!node || node.length > MAX_NODE_LENGTH || !NODE.test(node)) {
    throw new HlcError("The node must be 1 to {max} printable characters.", {
      max: MAX_NODE_LENGTH,
    });
  }
  return { ms: number(msText), counter: number(counterText), node };
}

/** The wire form; the counter zero-padded to 4 digits. @param {HLC} h */
export function formatHlc(h) {
  return `${h.ms}-${String(h.counter).padStart(4, "0")}-${h.node}`;
}

/**
 * -1, 0 or 1 as `a` orders before, with or after `b`: by ms, then counter, then node (node
 * by code point, as Python compares strings).
 * @param {HLC} a @param {HLC} b
 */
export function compareHlc(a, b) {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1; // the node is ASCII: UTF-16 order is code point order
}

/** Whether a reading is more than MAX_CLOCK_AHEAD_MS ahead of the wall time. */
export function isSuspect(/** @type {HLC} */ h, /** @type {number} */ wallMs) {
  return h.ms > wallMs + MAX_CLOCK_AHEAD_MS;
}

/**
 * The next reading after `last` (null: none yet) for `node`, carrying a counter past
 * MAX_COUNTER into the milliseconds.
 * @param {string} node @param {number} ms @param {number} counter
 */
function reading(node, ms, counter) {
  return counter > MAX_COUNTER ? { ms: ms + 1, counter: 0, node } : { ms, counter, node };
}

/**
 * A local or send event (saving a record): a reading strictly after `last`.
 * @param {HLC | null} last the clock's latest reading, null for a new clock
 * @param {string} node @param {number} wallMs
 * @returns {HLC}
 */
export function tick(last, node, wallMs) {
  if (last === null || wallMs > last.ms) return reading(node, wallMs, 0);
  return reading(node, last.ms, last.counter + 1);
}

/**
 * A receive event: merge a remote reading (a push or pull answer's `server_hlc`). A remote
 * too far ahead of the wall time is ignored, and this is then a local event.
 * @param {HLC | null} last @param {string} node @param {HLC} remote @param {number} wallMs
 * @returns {HLC}
 */
export function merge(last, node, remote, wallMs) {
  if (isSuspect(remote, wallMs)) return tick(last, node, wallMs);
  const lastMs = last ? last.ms : -1;
  const lastCounter = last ? last.counter : -1;
  const ms = Math.max(lastMs, remote.ms, wallMs);
  let counter;
  if (ms === lastMs && ms === remote.ms) counter = Math.max(lastCounter, remote.counter) + 1;
  else if (ms === lastMs) counter = lastCounter + 1;
  else if (ms === remote.ms) counter = remote.counter + 1;
  else counter = 0;
  return reading(node, ms, counter);
}
