/**
 * The app's JavaScript tests, run in Chromium by tests/browser/test_app_js.py through
 * runner.html: the shared vectors (mutations.json, hlc.json, address.json) through the app's
 * modules, and the outbox's logic. Results go to `window.testResults` ({name, ok, error}),
 * `window.testsDone` says they are all in; pytest makes one assertion per result.
 * pytest knows each test by name before the page runs: a test here is declared with
 * test("a literal name", …), and the vectors' tests are named after the vectors.
 */

import { normaliseAddress } from "/app/js/address.js";
import { compareHlc, formatHlc, HlcError, merge, parseHlc, tick } from "/app/js/hlc.js";
import { EN, VI } from "/app/js/messages.js";
import {
  ACKNOWLEDGED,
  adoptNumbering,
  applyResults,
  batches,
  emptyOutbox,
  enqueue,
  takeBatch,
} from "/app/js/outbox.js";
import { checkMutation, countErrors, say, sayErrors } from "/app/js/rules.js";

/** @type {{name: string, fn: () => void}[]} */
const tests = [];
/** @param {string} name @param {() => void} fn */
const test = (name, fn) => tests.push({ name, fn });

/** @param {unknown} actual @param {unknown} expected @param {string} [what] */
function equal(actual, expected, what = "") {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what} expected ${e}, got ${a}`);
}
/** @param {unknown} condition @param {string} what */
function ok(condition, what) {
  if (!condition) throw new Error(what);
}
/** An object with its keys sorted, so that key order does not count. @param {Record<string, unknown>} o */
const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

const load = async (/** @type {string} */ name) => (await fetch(`/vectors/${name}`)).json();
const [mutations, hlcCases, addressCases] = await Promise.all(
  ["mutations.json", "hlc.json", "address.json"].map(load),
);

// --- the shared mutation vectors through rules.js -------------------------------------------

const stored = Object.fromEntries(mutations.setup.visits.map((/** @type {any} */ v) => [v.id, v.data]));
for (const vector of mutations.vectors) {
  if (vector.server_only) continue;
  test(`mutations/${vector.name}`, () => {
    const raw = { mutation_id: 1, ...vector.mutation };
    const refusal = checkMutation(raw, { current: stored[raw.id] || null });
    const expect = vector.expect;
    if (expect.status !== "rejected") {
      equal(refusal && sayErrors(refusal.errors, "en"), null, "refusal");
      return;
    }
    ok(refusal, "accepted what the server refuses");
    const r = /** @type {NonNullable<typeof refusal>} */ (refusal);
    equal(r.code, expect.code, "code");
    equal(r.message.msgid, expect.message.msgid, "message");
    equal(Object.keys(r.errors).sort(), Object.keys(expect.errors).sort(), "fields in error");
    for (const lang of ["en", "vi"]) {
      /** @type {Record<string, string[]>} */
      const wanted = {};
      for (const [field, messages] of Object.entries(expect.errors)) {
        wanted[field] = /** @type {any[]} */ (messages).map((m) => say(m.msgid, m.values, lang));
      }
      equal(sorted(sayErrors(r.errors, lang)), sorted(wanted), `errors in ${lang}`);
    }
  });
}

test("messages: every msgid has an English and a Vietnamese text", () => {
  equal(Object.keys(VI).sort(), Object.keys(EN).sort(), "msgids");
  for (const [msgid, text] of Object.entries(EN)) equal(text, msgid, "English is the msgid");
});

test("rules: the counts are checked as the canvasser types", () => {
  const typing = { outcome: "installed", adults: 2, smartphones: 3 };
  equal(Object.keys(countErrors(typing)).sort(), [
    "installed_before", "installed_during", "priority_installed", "priority_subjects",
  ]);
  const done = { ...typing, installed_before: 0, installed_during: 3, priority_subjects: 0, priority_installed: 0 };
  equal(sayErrors(countErrors(done), "vi"), {
    smartphones: ["Số điện thoại thông minh nhiều hơn số người trưởng thành (2)."],
  });
});

// --- hlc.js against hlc.json ----------------------------------------------------------------

hlcCases.parse.forEach((/** @type {any} */ c, /** @type {number} */ i) => {
  test(`hlc.parse/${i}`, () => {
    let reading = null;
    let error = null;
    try {
      reading = parseHlc(c.text);
    } catch (e) {
      if (!(e instanceof HlcError)) throw e;
      error = say(e.msgid, e.values, "en");
    }
    if (c.error !== undefined) {
      equal(error, c.error, `parse ${JSON.stringify(c.text)}`);
    } else {
      equal(reading && [reading.ms, reading.counter, reading.node], c.hlc, "reading");
      equal(formatHlc(/** @type {any} */ (reading)), c.formatted, "wire form");
    }
  });
});
hlcCases.compare.forEach((/** @type {any} */ c, /** @type {number} */ i) => {
  test(`hlc.compare/${i}`, () => {
    equal(compareHlc(parseHlc(c.a), parseHlc(c.b)), c.order, `${c.a} vs ${c.b}`);
    equal(compareHlc(parseHlc(c.b), parseHlc(c.a)), -c.order || 0, `${c.b} vs ${c.a}`);
  });
});
for (const c of hlcCases.clock) {
  test(`hlc.clock/${c.name}`, () => {
    let last = c.last === null ? null : parseHlc(c.last);
    for (const step of c.steps) {
      last = step.op === "now"
        ? tick(last, c.node, step.wall_ms)
        : merge(last, c.node, parseHlc(step.remote), step.wall_ms);
      equal(formatHlc(last), step.reading, step.op);
    }
  });
}

// --- address.js against address.json -------------------------------------------------------

addressCases.cases.forEach((/** @type {any} */ c, /** @type {number} */ i) => {
  test(`address/${i}`, () => equal(normaliseAddress(c.input), c.normalised, JSON.stringify(c.input)));
});

// --- outbox.js ------------------------------------------------------------------------------

const NODE = "5b0c3f1e-8d2a-4c1b-9e7f-0a1b2c3d4e5f";
/** @param {number} i */
const visitDraft = (i, household = "h-1") => ({
  type: "visit.create",
  id: `v-${i}`,
  hlc: `${1597458600000 + i}-0000-${NODE}`,
  data: { household_id: household, outcome: "not_home", visited_at: "2020-08-15T09:31:00+07:00" },
});
/** @param {number} n */
const filled = (n) => enqueue(emptyOutbox(), Array.from({ length: n }, (_, i) => visitDraft(i))).outbox;

/** @param {number} n */
const batching = (n) => () => {
  const outbox = filled(n);
  equal(outbox.next_mutation_id, n + 1, "next id");
  const cut = batches(outbox.waiting);
  const sizes = Array.from({ length: Math.ceil(n / 500) }, (_, i) => Math.min(500, n - i * 500));
  equal(cut.map((b) => b.length), sizes, "sizes");
  equal(cut.flat().map((m) => m.mutation_id), Array.from({ length: n }, (_, i) => i + 1), "ids");
  equal(cut.flat().map((m) => m.id), outbox.waiting.map((m) => m.id), "order");
};
test("outbox: 1 mutation is one batch", batching(1));
test("outbox: 500 mutations are one batch", batching(500));
test("outbox: 501 mutations are batches of 500 and 1", batching(501));
test("outbox: 1,234 mutations are batches of 500, 500 and 234, numbered 1 to 1,234", batching(1234));
test("outbox: a smaller batch size is kept, a larger one capped at 500", () => {
  equal(batches(filled(5).waiting, 2).map((b) => b.length), [2, 2, 1]);
  equal(batches(filled(600).waiting, 1000).map((b) => b.length), [500, 100]);
});

test("outbox: numbering goes on across saves and never restarts", () => {
  const first = enqueue(emptyOutbox(), [visitDraft(1), visitDraft(2)]);
  const second = enqueue(first.outbox, [visitDraft(3)]);
  equal(second.mutations.map((m) => m.mutation_id), [3]);
  const answered = applyResults(second.outbox, [1, 2, 3].map((id) => ({ mutation_id: id, status: "applied" })));
  equal(answered.outbox.waiting, [], "waiting");
  equal(enqueue(answered.outbox, [visitDraft(4)]).mutations[0].mutation_id, 4, "after a push");
});

test("outbox: a reinstalled tablet goes on after the server's last id, never renumbering waiting ones", () => {
  equal(adoptNumbering(emptyOutbox(), 41).next_mutation_id, 42);
  equal(adoptNumbering(filled(3), 41).next_mutation_id, 4, "with mutations waiting");
});

test("outbox: takeBatch remembers what was sent", () => {
  const { outbox, batch } = takeBatch(filled(501));
  equal([batch.length, outbox.sent_up_to], [500, 500]);
  equal(takeBatch(emptyOutbox()).batch, [], "nothing waiting");
});

test("outbox: every acknowledged status takes a mutation out; rejected moves it to the list", () => {
  const statuses = [...ACKNOWLEDGED, "rejected"];
  const outbox = filled(statuses.length + 1);
  const results = statuses.map((status, i) => ({ mutation_id: i + 1, status, id: `v-${i}` }));
  const rejectedResult = { ...results[4], code: "validation_failed", message: "Lượt đến nhà không hợp lệ.",
    errors: { outcome: ["Bắt buộc phải có."] } };
  results[4] = rejectedResult;
  const answer = applyResults(outbox, results);
  equal(answer.outbox.waiting.map((m) => m.mutation_id), [6], "still waiting");
  equal(answer.acknowledged.map((r) => r.status), ACKNOWLEDGED, "acknowledged");
  equal(answer.outbox.rejected, [{ mutation: outbox.waiting[4], result: rejectedResult }], "rejected list");
  equal(answer.rejected.length, 1, "newly rejected");
});

test("outbox: a mutation the answer does not mention, or with an unknown status, stays waiting", () => {
  const answer = applyResults(filled(3), [{ mutation_id: 1, status: "applied" }, { mutation_id: 2, status: "postponed" }]);
  equal(answer.outbox.waiting.map((m) => m.mutation_id), [2, 3]);
});

test("outbox: replays are harmless: the same answer twice, or replayed results, change nothing more", () => {
  const outbox = filled(4);
  const results = [
    { mutation_id: 1, status: "applied", replayed: true },
    { mutation_id: 2, status: "rejected", code: "mutation_id_reused", message: "x", replayed: true },
    { mutation_id: 3, status: "applied" },
  ];
  const once = applyResults(outbox, results);
  const twice = applyResults(once.outbox, results);
  equal(twice.outbox, once.outbox, "state after the second answer");
  equal([twice.acknowledged.length, twice.rejected.length], [0, 0], "nothing new");
  equal(once.outbox.waiting.map((m) => m.mutation_id), [4]);
  equal(once.outbox.rejected.map((r) => r.mutation.mutation_id), [2]);
  const unknown = applyResults(once.outbox, [{ mutation_id: 99, status: "applied" }, { mutation_id: 1, status: "rejected" }]);
  equal(unknown.outbox, once.outbox, "results for mutations not waiting");
});

test("outbox: applyResults leaves the outbox it was given as it was", () => {
  const outbox = filled(2);
  const copy = JSON.stringify(outbox);
  applyResults(outbox, [{ mutation_id: 1, status: "redirected", redirected_to: "h-2" }]);
  equal(JSON.stringify(outbox), copy);
});

test("outbox: redirected gives the rewrite and moves later waiting visits to the survivor", () => {
  const household = { type: "household.upsert", id: "h-1", base_version: 3, hlc: `1597458600000-0000-${NODE}`,
    data: { head_name: "Trần Thị B" } };
  const { outbox } = enqueue(emptyOutbox(), [household, visitDraft(1), visitDraft(2), visitDraft(3, "h-9"), household]);
  const sent = takeBatch(outbox, 2).outbox;
  const answer = applyResults(sent, [
    { mutation_id: 1, status: "redirected", id: "h-2", version: 7, redirected_to: "h-2" },
    { mutation_id: 2, status: "redirected", id: "v-1", version: 1, redirected_to: "h-2" },
  ]);
  equal(answer.rewrites, [{ from: "h-1", to: "h-2" }, { from: "h-1", to: "h-2" }], "rewrites");
  const waiting = answer.outbox.waiting;
  equal(waiting.map((m) => m.mutation_id), [3, 4, 5], "waiting");
  equal(waiting[0].data.household_id, "h-2", "a later visit of the merged household");
  equal(waiting[1].data.household_id, "h-9", "another household's visit");
  equal([waiting[2].id, waiting[2].base_version], ["h-1", 3], "a household edit keeps its id and base");
});

test("outbox: a mutation already sent keeps its content, so a resend is a harmless replay", () => {
  const { outbox } = enqueue(emptyOutbox(), [visitDraft(1), visitDraft(2), visitDraft(3)]);
  // All three were sent, the answer lost; a second answer lists only the first.
  const sent = takeBatch(outbox).outbox;
  const answer = applyResults(sent, [{ mutation_id: 1, status: "redirected", redirected_to: "h-2" }]);
  equal(answer.outbox.waiting.map((m) => m.data.household_id), ["h-1", "h-1"]);
});

test("outbox: chains of merges lead to the last survivor", () => {
  const { outbox } = enqueue(emptyOutbox(), [visitDraft(1, "a"), visitDraft(2, "b"), visitDraft(3, "a")]);
  const sent = takeBatch(outbox, 2).outbox;
  const answer = applyResults(sent, [
    { mutation_id: 1, status: "redirected", redirected_to: "b" },
    { mutation_id: 2, status: "redirected", redirected_to: "c" },
  ]);
  equal(answer.outbox.waiting[0].data.household_id, "c");
});

// --- run --------------------------------------------------------------------------------------

/** @type {{name: string, ok: boolean, error: string | null}[]} */
const results = [];
for (const { name, fn } of tests) {
  try {
    fn();
    results.push({ name, ok: true, error: null });
  } catch (error) {
    results.push({ name, ok: false, error: String(error instanceof Error ? error.stack || error.message : error) });
  }
}
Object.assign(window, { testResults: results, testsDone: true });
