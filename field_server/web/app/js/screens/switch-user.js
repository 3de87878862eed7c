/**
 * Handing a shared tablet over (`#/switch-user`). It shows who has records waiting on this
 * tablet (store.waitingByUser). The canvasser logged in must send theirs first: the tablet
 * numbers every user's records in one sequence, so the next user's records would wait behind
 * them at the server (`other_user_waiting`). So with records waiting the only way on is
 * "sync now, then continue"; nothing is ever discarded. (When the records wait behind another
 * user's, that sync cannot succeed: the hand-over goes on, so the other user can log in and
 * send theirs.) Then the user is logged out — the
 * session tokens dropped, the outbox and the copy kept — and the app opens on the login.
 */

import { el } from "./visit-new.js";

const TEXT = {
  title: "Đổi người dùng",
  current: "Đang đăng nhập",
  waitingMine: "Bạn còn {n} bản ghi chưa gửi. Hãy đồng bộ trước khi giao máy cho người khác: bản ghi không bị xóa.",
  nothingMine: "Bạn không còn bản ghi nào chờ gửi.",
  others: "Người dùng khác còn bản ghi chờ gửi trên máy này",
  othersHint: "Họ cần đăng nhập và đồng bộ: bản ghi của người dùng mới sẽ chờ sau các bản ghi này.",
  record: "{n} bản ghi",
  syncFirst: "Đồng bộ rồi tiếp tục",
  syncing: "Đang đồng bộ…",
  stillWaiting: "Vẫn còn {n} bản ghi chưa gửi được (có thể do không có mạng). Chưa đổi người dùng; hãy thử lại khi có mạng.",
  logout: "Đăng xuất và đổi người dùng",
  cancel: "Quay lại",
};

/**
 * @param {HTMLElement} main
 * @param {{store: any, sync: any, user: string, go: (hash: string) => void}} ctx
 */
export async function show(main, ctx) {
  main.append(el("h1", { id: "screen-title", textContent: TEXT.title }));
  const body = el("div", { className: "switch-user" });
  main.append(body);

  let busy = false;
  let message = ""; // kept across renders: a sync's own status event re-renders too
  const render = async () => {
    const byUser = await ctx.store.waitingByUser();
    const mine = byUser[ctx.user] || 0;
    const others = Object.entries(byUser).filter(([u]) => u !== ctx.user);
    body.replaceChildren(
      el("p", {}, `${TEXT.current}: `, el("strong", { textContent: ctx.user, data: { user: ctx.user } })),
      el("p", {
        className: mine ? "caution" : "muted",
        textContent: mine ? TEXT.waitingMine.replace("{n}", String(mine)) : TEXT.nothingMine,
        data: { waitingMine: mine },
      }),
    );
    if (others.length) {
      body.append(
        el("h2", { className: "section-title", textContent: TEXT.others }),
        el("ul", {}, ...others.map(([u, n]) => el("li", { data: { waitingUser: u } }, `${u}: ${TEXT.record.replace("{n}", String(n))}`))),
        el("p", { className: "hint", textContent: TEXT.othersHint }),
      );
    }
    const status = el("p", { className: "error", attrs: { role: "alert" }, textContent: message });
    const action = /** @type {HTMLButtonElement} */ (
      el("button", { type: "button", className: "primary", textContent: mine ? TEXT.syncFirst : TEXT.logout, data: { action: mine ? "sync-first" : "logout" } })
    );
    action.addEventListener("click", async () => {
      busy = true;
      message = "";
      action.disabled = true;
      if (mine) {
        action.textContent = TEXT.syncing;
        /** @type {any} */
        let failure = null;
        try {
          await ctx.sync.syncNow();
        } catch (error) {
          failure = error; // the count below says what is left; the header's status says why
        }
        const left = await ctx.store.waitingCount(ctx.user);
        // Another user's records wait ahead of these: only that user's sync can send them, so
        // holding this user here would lock the tablet. Hand over; nothing is discarded.
        const behindAnother = failure && failure.code === "other_user_waiting";
        if (left && !behindAnother) {
          busy = false;
          message = TEXT.stillWaiting.replace("{n}", String(left));
          await render();
          return;
        }
      }
      await ctx.sync.logout();
      // The app opens afresh, at no screen, with nobody logged in: on its login.
      window.location.replace(window.location.pathname + window.location.search);
    });
    body.append(status, action, el("p", {}, el("a", { href: "#/groups", className: "back-link", textContent: TEXT.cancel })));
  };
  await render();
  // A sync started elsewhere (the header's button, the network back) changes what waits.
  const onStatus = (/** @type {Event} */ event) => {
    const detail = /** @type {CustomEvent<{user: string | null, syncing: boolean}>} */ (event).detail;
    if (!busy && detail.user === ctx.user && !detail.syncing) render();
  };
  ctx.sync.addEventListener("status", onStatus);
  return () => ctx.sync.removeEventListener("status", onStatus);
}
