/**
 * The normalised address of domain/address.py, for warning at the door that a household with
 * the same address is already in the tablet's copy (the server's `possible_duplicate`).
 * It changes only the form of an address, never what it names; the rules are in the Python
 * module's docstring and the cases both sides run are in tests/vectors/address.json.
 *
 * Python's `re` on text is Unicode-aware, and so are these patterns (the `u` flag): a letter
 * or digit is \p{L} or \p{N}, a decimal digit \p{Nd}, and whitespace is Python's exact set
 * (JavaScript's \s also takes U+FEFF and leaves out U+001C..U+001F and U+0085).
 */

const WS = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const S = `[${WS}]`;
const D = "\\p{Nd}";
const ALNUM = "[\\p{L}\\p{N}]"; // Python's [^\W_]
const WORD = "[\\p{L}\\p{N}_]"; // Python's \w
const START = `(?<!${ALNUM})`;
const END = `(?!${ALNUM})`;

/** Characters written several ways: the Icelandic eth for đ, dashes, no-break spaces. */
const CHARACTERS = new Map([
  ["\u00d0", "\u0110"],
  ["\u00f0", "\u0111"],
  ...[..."\u2010\u2011\u2012\u2013\u2014\u2015\u2212"].map((c) => [c, "-"]),
  ...[..."\u00a0\u2007\u202f\u3000"].map((c) => [c, " "]),
  ["\uff0c", ","],
  ["\uff0f", "/"],
]);
const CHARACTER_PATTERN = new RegExp(`[${[...CHARACTERS.keys()].join("")}]`, "gu");

// Old-style tone placement at a word's end -> tone on the first vowel ("hoà" -> "hòa").
const TONES = ["\u0300", "\u0301", "\u0309", "\u0303", "\u0323"];
/** @type {Map<string, string>} */
const TONE_MOVES = new Map();
for (const [first, second] of [["o", "a"], ["o", "e"], ["u", "y"]]) {
  for (const tone of TONES) {
    TONE_MOVES.set(first + (second + tone).normalize("NFC"), (first + tone).normalize("NFC") + second);
  }
}
const toneKeys = (/** @type {string} */ first) => [...TONE_MOVES.keys()].filter((k) => k[0] === first);
// "uy" after q is the vowel y ("quý"), whose tone is on y in both styles.
const TONE_PATTERN = new RegExp(
  `(?:${toneKeys("o").join("|")})${END}|(?<!q)(?:${toneKeys("u").join("|")})${END}`,
  "gu",
);

/** Abbreviations with a dot: abbreviation -> [word before a number, word before a name]. */
/** @type {Record<string, [string | null, string | null]>} */
const DOTTED = {
  sn: ["số", null],
  ng: ["ngõ", null],
  ngh: ["ngách", null],
  k: ["kiệt", null],
  h: ["hẻm", "huyện"],
  đ: ["đường", "đường"],
  d: ["đường", "đường"],
  p: ["phường", "phường"],
  f: ["phường", null],
  q: ["quận", "quận"],
  t: ["tổ", "tỉnh"],
  tdp: ["tổ", "tổ"],
  kp: ["khu phố", "khu phố"],
  x: [null, "xã"],
  tx: [null, "thị xã"],
  tp: [null, "thành phố"],
};
/** Python's sorted(keys, key=len, reverse=True): longest first, ties in table order. */
const longestFirst = (/** @type {string[]} */ keys) =>
  keys.map((k, i) => [k, i]).sort((a, b) => b[0].length - a[0].length || a[1] - b[1]).map((p) => p[0]);
const DOTTED_PATTERN = new RegExp(
  `${START}(${longestFirst(Object.keys(DOTTED)).join("|")})\\.${S}*(?=(${D})|${WORD})`,
  "gu",
);

/** Abbreviations glued to a number without a dot ("P12", "Q1", "K54/12", "tdp5"). */
/** @type {Record<string, string>} */
const GLUED = { p: "phường", f: "phường", q: "quận", k: "kiệt", sn: "số", tdp: "tổ", kp: "khu phố" };
const GLUED_PATTERN = new RegExp(`${START}(${longestFirst(Object.keys(GLUED)).join("|")})(?=${D})`, "gu");

/** Whole words and phrases -> canonical words, anywhere. */
/** @type {Record<string, string>} */
const WORDS = {
  "số nhà": "số",
  "nhà số": "số",
  "tổ dân phố": "tổ",
  "tổ dp": "tổ",
  tdp: "tổ",
  kp: "khu phố",
  tx: "thị xã",
  tp: "thành phố",
  tphcm: "thành phố hồ chí minh",
  hcm: "hồ chí minh",
};
/** Diacritic-less or one-letter forms, only before a number. */
/** @type {Record<string, string>} */
const WORDS_BEFORE_NUMBER = {
  "so nha": "số",
  "nha so": "số",
  sn: "số",
  so: "số",
  ngo: "ngõ",
  ngach: "ngách",
  hem: "hẻm",
  kiet: "kiệt",
  "to dan pho": "tổ",
  to: "tổ",
  "khu pho": "khu phố",
  thon: "thôn",
  xom: "xóm",
  ap: "ấp",
  phuong: "phường",
  p: "phường",
  quan: "quận",
  q: "quận",
  duong: "đường",
};

/** Python's `sorted(words, key=len)[::-1]`, each space matching any spacing. */
function alternatives(/** @type {Record<string, string>} */ words) {
  const byLength = Object.keys(words)
    .map((k, i) => [k, i])
    .sort((a, b) => a[0].length - b[0].length || a[1] - b[1])
    .map((p) => p[0])
    .reverse();
  return byLength.map((w) => w.replaceAll(" ", `${S}+`)).join("|");
}

const WORDS_PATTERN = new RegExp(`${START}(${alternatives(WORDS)})${END}`, "gu");
const BEFORE_NUMBER_PATTERN = new RegExp(`${START}(${alternatives(WORDS_BEFORE_NUMBER)})${S}*(?=${D})`, "gu");
const NUMBER_WORD = "số";
const NUMBER_LABEL = new RegExp(`${START}${NUMBER_WORD}${S}+(?=${D})`, "gu");

// House paths and ranges: a slash with a number on one side joins its neighbours; a dash
// does between two numbers. Any other slash or dash separates.
const SLASH = new RegExp(`(?<=${D})${S}*/${S}*(?=${ALNUM})|(?<=${ALNUM})${S}*/${S}*(?=${D})`, "gu");
const DASH = new RegExp(`(?<=${D})${S}*-${S}*(?=${D})`, "gu");
const PUNCTUATION = new RegExp(`[^\\p{L}\\p{N}_${WS}/-]|_`, "gu");
const LOOSE_JOINER = new RegExp(`(?<!${D})[/-](?!${D})|(?<!${ALNUM})[/-]|[/-](?!${ALNUM})`, "gu");
const LEADING_ZEROS = new RegExp(`${START}0+(?=${D})`, "gu");
const SPACES = new RegExp(`${S}+`, "gu");
const SPLIT = new RegExp(`${S}+`, "u");

const MAX_PASSES = 5;

/**
 * One canonical spelling of an address: normalising it again changes nothing.
 * @param {string} text
 * @returns {string}
 */
export function normaliseAddress(text) {
  let value = normaliseOnce(text);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const again = normaliseOnce(value);
    if (again === value) break;
    value = again;
  }
  return value;
}

/** @param {string} text */
function normaliseOnce(text) {
  let value = text.normalize("NFC");
  value = value.replace(CHARACTER_PATTERN, (c) => /** @type {string} */ (CHARACTERS.get(c)));
  value = value.toLowerCase();
  value = value.replace(TONE_PATTERN, (m) => /** @type {string} */ (TONE_MOVES.get(m)));
  value = value.replace(SPACES, " ");
  value = value.replace(SLASH, "/");
  value = value.replace(DASH, "-");
  value = value.replace(DOTTED_PATTERN, (match, abbreviation, digit) => {
    const [beforeNumber, beforeName] = DOTTED[abbreviation];
    const word = digit !== undefined ? beforeNumber : beforeName;
    return word === null ? match : `${word} `;
  });
  value = value.replace(GLUED_PATTERN, (_, abbreviation) => `${GLUED[abbreviation]} `);
  value = value.replace(PUNCTUATION, " ");
  value = value.replace(LOOSE_JOINER, " ");
  value = value.replace(BEFORE_NUMBER_PATTERN, (_, w) => `${WORDS_BEFORE_NUMBER[w.replace(SPACES, " ")]} `);
  value = value.replace(WORDS_PATTERN, (_, w) => `${WORDS[w.replace(SPACES, " ")]} `);
  value = value.replace(NUMBER_LABEL, "");
  value = value.replace(LEADING_ZEROS, "");
  // Python's str.split() splits at its whitespace and drops the ends.
  return value.split(SPLIT).filter((part) => part !== "").join(" ");
}
