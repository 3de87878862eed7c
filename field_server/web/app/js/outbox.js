/**
 * The outbox's logic, as pure functions over plain objects (IndexedDB is the caller's):
 * numbering mutations, cutting the waiting ones into push batches, and taking in a push
 * answer's per-mutation results (docs/sync-protocol.md#numbering-replays-and-gaps, #results).
 *
 * An outbox is `{next_mutation_id, sent_up_to, waiting, rejected}`:
 * - `next_mutation_id`: the number the next saved record gets (1, 2, 3, … for the life of
 *   the install, never reused);
 * - `waiting`: mutations in order, exactly as they are sent (the wire form);
 * - `sent_up_to`: the highest mutation id ever put in a batch. A mutation at or below it
 *   may already be on the server (its answer lost), so its content is never changed again:
 *   a resend with other content would be refused as `mutation_id_reused`;
 * - `rejected`: mutations the server refused, each with its result, for the canvasser.
 * Every function returns a new outbox and leaves the one given as it was.
 */

export const MAX_BATCH = 500;
/** Statuses after which a mutation leaves the outbox: the server has it. */
export const ACKNOWLEDGED = ["applied", "merged", "conflict", "redirected"];

/**
 * @typedef {{mutation_id: number, type: string, id: string, base_version?: number | null,
 *   hlc: string, data: Record<string, unknown>}} Mutation
 * @typedef {Omit<Mutation, "mutation_id">} Draft
 * @typedef {{mutation_id: number, status: string, id?: string | null, version?: number,
 *   redirected_to?: string, code?: string, message?: string,
 *   errors?: Record<string, string[]>, replayed?: boolean}} Result
 * @typedef {{mutation: Mutation, result: Result}} Rejected
 * @typedef {{next_mutation_id: number, sent_up_to: number, waiting: Mutation[],
 *   rejected: Rejected[]}} Outbox
 * @typedef {{from: string, to: string}} Rewrite a household id merged into another
 */

/** @returns {Outbox} */
export function emptyOutbox() {
  return { next_mutation_id: 1, sent_up_to: 0, waiting: [], rejected: [] };
}

/**
 * Save records: each draft gets the next mutation id, consecutively, at the end of `waiting`.
 * @param {Outbox} outbox @param {Draft[]} drafts
 * @returns {{outbox: Outbox, mutations: Mutation[]}}
 */
export function enqueue(outbox, drafts) {
  const mutations = drafts.map((draft, i) => ({ mutation_id: outbox.next_mutation_id + i, ...draft }));
  return {
    outbox: {
      ...outbox,
      next_mutation_id: outbox.next_mutation_id + drafts.length,
      waiting: [...outbox.waiting, ...mutations],
    },
    mutations,
  };
}

/**
 * After a login: go on after the server's `device.last_mutation_id` when nothing waits and
 * the local numbering is behind (a reinstalled tablet that kept its identity). Waiting
 * mutations are never renumbered: the server may hold some of them already.
 * @param {Outbox} outbox @param {number} serverLast
 */
export function adoptNumbering(outbox, serverLast) {
  if (outbox.waiting.length || outbox.next_mutation_id > serverLast) return outbox;
  return { ...outbox, next_mutation_id: serverLast + 1 };
}

/**
 * The waiting mutations cut into push batches of at most `size`, in order.
 * @param {Mutation[]} waiting @param {number} [size]
 * @returns {Mutation[][]}
 */
export function batches(waiting, size = MAX_BATCH) {
  const step = Math.max(1, Math.min(size, MAX_BATCH));
  const cut = [];
  for (let start = 0; start < waiting.length; start += step) cut.push(waiting.slice(start, start + step));
  return cut;
}

/**
 * The next batch to push, and the outbox that remembers it was sent (call before sending,
 * and store it: from then on these mutations' content is fixed).
 * @param {Outbox} outbox @param {number} [size]
 * @returns {{outbox: Outbox, batch: Mutation[]}}
 */
export function takeBatch(outbox, size = MAX_BATCH) {
  const batch = batches(outbox.waiting, size)[0] || [];
  const last = batch.length ? batch[batch.length - 1].mutation_id : 0;
  return { outbox: { ...outbox, sent_up_to: Math.max(outbox.sent_up_to, last) }, batch };
}

/**
 * Take in a 200 push answer's results. Acknowledged mutations leave `waiting`; rejected ones
 * move to `rejected` with their result; a result for a mutation no longer waiting (a replay
 * answered twice) or with an unknown status changes nothing, and a mutation the answer does
 * not mention stays waiting. A `redirected` result (the household was merged into another)
 * gives a rewrite, from the merged household's id to the survivor's: made in `household_id`
 * of the waiting visits never sent, and to make in the local copy.
 *
 * A waiting `household.upsert` of the merged household keeps its id: its `base_version` is a
 * version of that household, and the server follows the merge itself (`redirected`).
 * @param {Outbox} outbox
 * @param {Result[]} results
 * @returns {{outbox: Outbox, acknowledged: Result[], rejected: Rejected[], rewrites: Rewrite[]}}
 */
export function applyResults(outbox, results) {
  const waiting = new Map(outbox.waiting.map((m) => [m.mutation_id, m]));
  /** @type {Result[]} */
  const acknowledged = [];
  /** @type {Rejected[]} */
  const rejected = [];
  /** @type {Rewrite[]} */
  const rewrites = [];
  for (const result of results) {
    const mutation = waiting.get(result.mutation_id);
    if (!mutation) continue;
    if (ACKNOWLEDGED.includes(result.status)) {
      acknowledged.push(result);
      const from = mutation.type === "household.upsert" ? mutation.id : mutation.data.household_id;
      const to = result.redirected_to;
      if (result.status === "redirected" && typeof from === "string" && typeof to === "string" && from !== to) {
        rewrites.push({ from, to });
      }
    } else if (result.status === "rejected") {
      rejected.push({ mutation, result });
    } else {
      continue; // a status this app does not know: keep the mutation and send it again
    }
    waiting.delete(result.mutation_id);
  }
  const next = {
    ...outbox,
    waiting: rewriteWaiting([...waiting.values()], rewrites, outbox.sent_up_to),
    rejected: [...outbox.rejected, ...rejected],
  };
  return { outbox: next, acknowledged, rejected, rewrites };
}

/**
 * The survivor of a household id after rewrites (through chains: a merged into b, b into c).
 * @param {string} id @param {Rewrite[]} rewrites
 */
export function survivor(id, rewrites) {
  const into = new Map(rewrites.map((r) => [r.from, r.to]));
  const seen = new Set([id]);
  let current = id;
  while (into.has(current)) {
    current = /** @type {string} */ (into.get(current));
    if (seen.has(current)) break;
    seen.add(current);
  }
  return current;
}

/**
 * Visits waiting and never sent move to the survivor household; anything already sent
 * keeps its content (the server redirects it itself).
 * @param {Mutation[]} waiting @param {Rewrite[]} rewrites @param {number} sentUpTo
 * @returns {Mutation[]}
 */
export function rewriteWaiting(waiting, rewrites, sentUpTo) {
  if (!rewrites.length) return waiting;
  return waiting.map((m) => {
    const household = m.data.household_id;
    if (m.mutation_id <= sentUpTo || m.type !== "visit.create" || typeof household !== "string") return m;
    const to = survivor(household, rewrites);
    return to === household ? m : { ...m, data: { ...m.data, household_id: to } };
  });
}
