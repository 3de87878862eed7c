"""The canvassers' app in Chromium against a real server process (`make bench`).

Issue 12's bars: the JS and CSS loaded to open the app under 150 KB uncompressed; a cold
start on an emulated slow 3G link (400 kbit/s each way, 400 ms latency) usable in under 5 s;
a warm offline start in under 1 s; saving a visit in under 100 ms; a group of 5,000
households listed, and searched as the canvasser types, in under 200 ms a keystroke; 1,000
waiting mutations synced in under 10 s against the local server.

One SQLite instance (a ward, its residential group, one canvasser) served by `field-server
serve` on 127.0.0.1; a Python client pushes HOUSEHOLDS households into the group and visits
to some of them (done, not home, come back, priority), so the list has every state. Debian's
Chromium (the browser tests' flags) opens /app/ with Playwright:

- cold start: a fresh browser context (no cache, no service worker) whose page's requests
  go through DevTools' network emulation (Network.emulateNetworkConditions), from the
  navigation to the login screen usable (`body[data-ready=true]`), median of COLD runs; the
  same unthrottled beside it;
- the opening's weight: the JS and CSS the page loaded (Resource Timing, decoded bytes) to
  open and reach the home screen after a login, and the whole app's JS and CSS;
- warm offline start: with the service worker in control and the network off, a reload to
  the frame ready and to the home screen drawn, logged in with the copy holding the group;
- the group's list: from the address changed to the list drawn and laid out; each keystroke
  of a search, from its `input` event to the list redrawn and laid out;
- saving a visit: through the screen, from the tap on "Lưu lượt đến nhà" to "Đã lưu"; and
  `store.saveRecord` alone, beside a bare IndexedDB put of the same record (same run);
- 1,000 waiting mutations: saved offline with `store.saveRecord` in the page, then the
  network on: from the `online` event (the app syncs by itself) to nothing waiting, and to
  the sync's end (its pull included); beside it, a Python client pushing 1,000 mutations of
  the same shape to the same server. The server's count of visits is checked afterwards.

Times are taken inside the page with `performance.now()`, so Playwright's round trips are not
in them. Results go to docs/benchmarks.md (the bench:app section).

    python -m tests.benchmarks.bench_app [--households 5000] [--write]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from field_server.web.views_app import APP_DIR, shell_files
from tests.benchmarks.bench_sync import machine, post
from tests.benchmarks.doc import write_section
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, TABLET
from tests.e2e.processes import ServerPool, field_env, run_cli

USER = "cv.bench"
PASSWORD = "bench-password-1"
WARD = "gso-2020:12019"
GROUP = "gso-2020:12019-01"
UNITS_CSV = """scheme,code,name,level,parent_code,adult_population,target_rate
gso-2020,33,Tỉnh Hưng Yên,province,,,
gso-2020,326,Huyện Văn Giang,district,33,,
gso-2020,12019,Thị trấn Văn Giang,ward,326,9200,0.6
gso-2020,12019-01,Tổ dân phố 1,group,12019,,
"""
BATCH = 500
COLD = 3  # cold starts (each a fresh context)
WARM = 5  # warm offline reloads
LISTS = 5  # openings of the group's list
SAVES = 8  # visits saved through the screen
DIRECT = 50  # store.saveRecord alone
WAITING = 1000  # mutations waiting when the network comes back
QUERIES = ("ngõ 17", "nguyễn thị lan", "so 12 ngo 3", "trần")
SLOW_3G = {  # DevTools' units: ms, bytes per second
    "offline": False,
    "latency": 400,
    "downloadThroughput": 400_000 / 8,
    "uploadThroughput": 400_000 / 8,
}
BARS = {
    "opening_kb": 150.0,
    "cold_s": 5.0,
    "warm_ms": 1000.0,
    "save_ms": 100.0,
    "keystroke_ms": 200.0,
    "sync_s": 10.0,
}
STREETS = ("phố Chợ", "đường Nguyễn Văn Linh", "phố Bến Đò", "thôn Đồng Tỉnh", "ngõ Chùa")
FAMILIES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô")
MIDDLES = ("Văn", "Thị", "Đức", "Minh", "Hữu")
GIVEN = ("Lan", "Hùng", "Mai", "Tuấn", "Hoa", "Dũng", "Hạnh", "Sơn", "Thu", "Bình", "Yến")

# In every document of the app: when the frame is ready and when each screen is first drawn.
PROBE = """(() => {
  window.__shownAt = {};
  new MutationObserver(() => {
    const body = document.body;
    if (!body) return;
    if (body.dataset.ready === "true" && window.__readyAt === undefined) {
      window.__readyAt = performance.now();
    }
    const shown = body.dataset.shown;
    if (shown && window.__shownAt[shown] === undefined) window.__shownAt[shown] = performance.now();
  }).observe(document, {
    subtree: true, attributes: true, attributeFilter: ["data-ready", "data-shown"] });
})();"""

# Go to a screen and wait until it is drawn and laid out: milliseconds.
OPEN_SCREEN = """([hash, name]) => new Promise((resolve) => {
  const body = document.body;
  const started = performance.now();
  const seen = new MutationObserver(() => {
    if (body.dataset.shown !== name) return;
    seen.disconnect();
    void body.offsetHeight; // layout included
    resolve(performance.now() - started);
  });
  seen.observe(body, { attributes: true, attributeFilter: ["data-shown"] });
  location.hash = hash;
})"""

# Each keystroke in the search box: from its input event to the list redrawn and laid out.
KEYSTROKES = """() => {
  window.__keys = [];
  let started = null;
  const search = document.getElementById("household-search");
  const list = document.querySelector("ul.households");
  window.addEventListener("input", (event) => {
    if (event.target === search) started = performance.now();
  }, true);
  new MutationObserver(() => {
    if (started === null) return;
    void document.body.offsetHeight;
    window.__keys.push({ ms: performance.now() - started, found: Number(
      document.getElementById("household-count").dataset.found) });
    started = null;
  }).observe(list, { childList: true });
}"""

# The tap on "save" to the "Đã lưu" notice.
SAVE_PROBE = """() => {
  window.__saved = null;
  let started = null;
  const button = document.querySelector("form[data-form=visit-new] button[type=submit]");
  button.addEventListener("click", () => { started = performance.now(); }, true);
  const notice = document.getElementById("notice");
  const seen = new MutationObserver(() => {
    if (started !== null && notice.textContent === "Đã lưu") {
      window.__saved = performance.now() - started;
      seen.disconnect();
    }
  });
  seen.observe(notice, { childList: true, characterData: true, subtree: true });
}"""

# store.saveRecord alone, on the app's own store module; and a bare IndexedDB put beside it.
SAVE_DIRECT = """async ([user, households, n]) => {
  const { open, newId } = await import("/app/js/store.js");
  const store = await open();
  const times = [];
  for (let i = 0; i < n; i++) {
    const draft = { type: "visit.create", id: newId(), data: {
      household_id: households[i % households.length],
      visited_at: "2020-08-20T09:31:00+07:00", outcome: "installed",
      adults: 4, smartphones: 3, installed_before: 1, installed_during: 2,
      priority_subjects: 0, priority_installed: 0, lat: 20.95, lon: 105.94,
      accuracy_m: 12, notes: "" } };
    const started = performance.now();
    await store.saveRecord(user, draft);
    times.push(performance.now() - started);
  }
  return times;
}"""
BARE_PUT = """async ([n]) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("bench-baseline", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("rows", { keyPath: "id" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const times = [];
  for (let i = 0; i < n; i++) {
    const row = { id: crypto.randomUUID(), user: "cv.bench", data: {
      household_id: crypto.randomUUID(), visited_at: "2020-08-20T09:31:00+07:00",
      outcome: "installed", adults: 4, smartphones: 3, installed_before: 1,
      installed_during: 2, priority_subjects: 0, priority_installed: 0, lat: 20.95,
      lon: 105.94, accuracy_m: 12, notes: "" } };
    const started = performance.now();
    await new Promise((resolve, reject) => {
      const tx = db.transaction("rows", "readwrite");
      tx.objectStore("rows").put(row);
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    times.push(performance.now() - started);
  }
  db.close();
  return times;
}"""

# The network comes back: when, and when the header says nothing waits and the sync ended.
SYNC_PROBE = """() => {
  window.__sync = { online: null, pushed: null, synced: null, waiting: [] };
  const s = window.__sync;
  const last = document.getElementById("last-sync");
  // The sync's end is the first new last-sync time after nothing waits: a sync that began
  // offline (and was retrying) may end first, with the records still waiting.
  let atPush = null;
  window.addEventListener("online", () => { s.online = performance.now(); });
  const waiting = document.getElementById("waiting");
  new MutationObserver(() => {
    s.waiting.push(waiting.dataset.waiting);
    if (s.online !== null && s.pushed === null && waiting.dataset.waiting === "0") {
      s.pushed = performance.now();
      atPush = last.dataset.lastSync;
    }
  }).observe(waiting, { attributes: true, attributeFilter: ["data-waiting"] });
  new MutationObserver(() => {
    if (s.pushed !== null && s.synced === null && last.dataset.lastSync !== atPush) {
      s.synced = performance.now();
    }
  }).observe(last, { attributes: true, attributeFilter: ["data-last-sync"] });
}"""

# Where the list's opening goes: the screen module's own steps, timed one by one.
LIST_PARTS = """async ([user, group]) => {
  const { open } = await import("/app/js/store.js");
  const screen = await import("/app/js/screens/households.js");
  const store = await open();
  const t = [performance.now()];
  const copy = await store.copy(user);
  t.push(performance.now());
  const households = copy.households.filter((row) => row.data.group === group);
  const described = screen.describe(households, copy.visits);
  t.push(performance.now());
  described.sort(screen.walkOrder);
  t.push(performance.now());
  return { copy: t[1] - t[0], describe: t[2] - t[1], sort: t[3] - t[2],
           counts: [copy.households.length, copy.visits.length] };
}"""

RESOURCES = """() => performance.getEntriesByType("resource")
  .map((e) => [new URL(e.name).pathname, e.decodedBodySize, e.transferSize])"""


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- the server and its data ---------------------------------------------------------------


def household_rows(count: int) -> list[dict[str, Any]]:
    rows = []
    for n in range(count):
        head = f"{FAMILIES[n % 10]} {MIDDLES[n // 10 % 5]} {GIVEN[n // 50 % 11]}"
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "address": f"Số {n % 90 + 1}, ngõ {n // 90 + 1}, {STREETS[n % 5]}",
                "head_name": head,
            }
        )
    return rows


def visit_data(household: str, n: int) -> dict[str, Any]:
    """Visits of every kind: done, not home, come back, a priority household left."""
    kind = n % 4
    data: dict[str, Any] = {
        "household_id": household,
        "visited_at": f"2020-08-1{n % 5}T0{n % 9}:3{n % 10}:00+07:00",
        "lat": 20.9501,
        "lon": 105.9402,
        "accuracy_m": 12,
        "notes": "",
    }
    if kind == 0:
        data.update(outcome="installed", adults=4, smartphones=3, installed_before=1)
        data.update(installed_during=2, priority_subjects=0, priority_installed=0)
    elif kind == 1:
        data.update(outcome="not_home")
    elif kind == 2:
        data.update(outcome="come_back", come_back_at="2020-08-21T17:30:00+07:00")
    else:
        data.update(outcome="partial", adults=3, smartphones=3, installed_before=0)
        data.update(installed_during=1, priority_subjects=2, priority_installed=0)
    return data


class Client:
    """A Python tablet of the same canvasser: fills the server, and is the push baseline."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.device = str(uuid.uuid4())
        login = post(
            f"{url}/api/v1/auth/login",
            {
                "username": USER,
                "password": PASSWORD,
                "device_id": self.device,
                "device_secret": f"bench-secret-of-{self.device}",
            },
        )
        self.token = login["access_token"]
        self.next_id = 1
        self.ms = 1_597_458_600_000

    def mutation(self, type_: str, record: str, data: dict[str, Any]) -> dict[str, Any]:
        self.ms += 1000
        m = {
            "mutation_id": self.next_id,
            "type": type_,
            "id": record,
            "hlc": f"{self.ms}-0000-{self.device}",
            "data": data,
        }
        if type_ == "household.upsert":
            m["base_version"] = 0
        self.next_id += 1
        return m

    def push(self, mutations: list[dict[str, Any]]) -> None:
        for start in range(0, len(mutations), BATCH):
            answer = post(
                f"{self.url}/api/v1/sync/push",
                {"device_id": self.device, "mutations": mutations[start : start + BATCH]},
                self.token,
            )
            statuses = {r["status"] for r in answer["results"]}
            assert statuses == {"applied"}, statuses


def fill(client: Client, households: list[dict[str, Any]]) -> int:
    """The households into the group, and visits to two in five of them: the visits."""
    client.push(
        [
            client.mutation(
                "household.upsert",
                h["id"],
                {
                    "ward": WARD,
                    "group": GROUP,
                    "address": h["address"],
                    "lat": 20.95,
                    "lon": 105.94,
                    "head_name": h["head_name"],
                    "phone": None,
                },
            )
            for h in households
        ]
    )
    visited = households[: len(households) * 2 // 5]
    client.push(
        [
            client.mutation("visit.create", str(uuid.uuid4()), visit_data(h["id"], n))
            for n, h in enumerate(visited)
        ]
    )
    return len(visited)


def baseline_push(client: Client, households: list[dict[str, Any]]) -> float:
    """Seconds for the Python client to push WAITING visits of the app's shape."""
    mutations = [
        client.mutation("visit.create", str(uuid.uuid4()), visit_data(h["id"], 0))
        for h in (households[n % len(households)] for n in range(WAITING))
    ]
    started = time.perf_counter()
    client.push(mutations)
    return time.perf_counter() - started


def server_visits(db_path: Path) -> int:
    db = sqlite3.connect(db_path)
    try:
        return int(db.execute("SELECT count(*) FROM visits").fetchone()[0])
    finally:
        db.close()


@contextmanager
def server(folder: Path) -> Iterator[tuple[str, Path]]:
    env = field_env(folder / "instance")
    run_cli(env, "init-secrets")
    run_cli(env, "db", "upgrade")
    (folder / "units.csv").write_text(UNITS_CSV)
    run_cli(env, "units", "import", str(folder / "units.csv"))
    subprocess.run(
        [
            *(str(Path(sys.executable).with_name("field-server")), "users", "create", USER),
            *("--role", "canvasser", "--unit", WARD, "--password-stdin"),
        ],
        env=env,
        input=f"{PASSWORD}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    pool = ServerPool(folder)
    try:
        yield pool(env).url, folder / "instance" / "field.db"
    finally:
        pool.stop_all()


# --- in the browser ------------------------------------------------------------------------


def new_page(browser: Any, errors: list[str]) -> Any:
    context = browser.new_context(viewport={"width": 360, "height": 800}, **TABLET)
    context.add_init_script(PROBE)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def cold_start(browser: Any, url: str, throttled: bool, errors: list[str]) -> dict[str, Any]:
    page = new_page(browser, errors)
    try:
        if throttled:
            cdp = page.context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", SLOW_3G)
        page.goto(f"{url}/app/", wait_until="commit")
        page.wait_for_function("() => window.__readyAt !== undefined", timeout=60_000)
        ready = page.evaluate("window.__readyAt")
        loaded = page.evaluate(RESOURCES)
    finally:
        page.context.close()
    shell = [(p, size) for p, size, _ in loaded if p.endswith((".js", ".css"))]
    return {"ms": ready, "bytes": sum(size for _, size in shell), "files": len(shell)}


def log_in(page: Any) -> dict[str, Any]:
    """The login form, then the home screen; and the first sync's end (the group pulled)."""
    page.get_by_label("Tên đăng nhập").fill(USER)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    started = page.evaluate("performance.now()")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_function("() => window.__shownAt.groups !== undefined")
    page.wait_for_selector("#last-sync:not([data-last-sync=''])", timeout=120_000)
    synced = page.evaluate("performance.now()")
    loaded = page.evaluate(RESOURCES)
    shell = sorted(
        {p for p, _, _ in loaded if p.startswith("/app/") and p.endswith((".js", ".css"))}
    )
    sizes = {p: size for p, size, _ in loaded}
    return {
        "first_sync_s": (synced - started) / 1000,
        "opening": shell,
        "opening_bytes": sum(sizes[p] for p in shell),
    }


def warm_starts(page: Any) -> dict[str, list[float]]:
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    ready, home = [], []
    for _ in range(WARM):
        page.reload()
        page.wait_for_function("() => window.__shownAt.groups !== undefined")
        ready.append(page.evaluate("window.__readyAt"))
        home.append(page.evaluate("window.__shownAt.groups"))
        assert page.evaluate("navigator.serviceWorker.controller !== null")
    return {"ready": ready, "home": home}


def group_list(page: Any) -> dict[str, Any]:
    hash_ = f"#/households/{GROUP}"
    opened = []
    for _ in range(LISTS):
        opened.append(page.evaluate(OPEN_SCREEN, [hash_, "households"]))
        count = page.locator("#household-count").get_attribute("data-found")
        page.evaluate(OPEN_SCREEN, ["#/groups", "groups"])
    parts = [page.evaluate(LIST_PARTS, [USER, GROUP]) for _ in range(LISTS)]
    page.evaluate(OPEN_SCREEN, [hash_, "households"])
    page.evaluate(KEYSTROKES)
    search = page.locator("#household-search")
    search.focus()
    typed = 0
    for query in QUERIES:
        for char in query:
            page.keyboard.type(char)
            typed += 1
            page.wait_for_function(f"() => window.__keys.length === {typed}")
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")  # back to the whole list
        typed += 1
        page.wait_for_function(f"() => window.__keys.length === {typed}")
    keys = page.evaluate("window.__keys")
    assert keys[-1]["found"] == int(count or 0), keys[-1]
    return {"opened": opened, "households": int(count or 0), "keys": keys, "parts": parts}


def save_through_screen(page: Any, households: list[str]) -> list[float]:
    times = []
    for household in households:
        page.evaluate(OPEN_SCREEN, [f"#/visit-new/{household}", "visit-new"])
        page.locator("[data-outcome=installed] label").click()
        for name, value in (("adults", 4), ("smartphones", 3), ("installed_during", 2)):
            page.locator(f"[data-count={name}] input").fill(str(value))
        page.evaluate(SAVE_PROBE)
        page.get_by_role("button", name="Lưu lượt đến nhà").click()
        page.wait_for_function("() => window.__saved !== null")
        times.append(page.evaluate("window.__saved"))
        page.wait_for_function("() => document.body.dataset.shown === 'households'")
    return times


def sync_waiting(page: Any, households: list[str]) -> dict[str, Any]:
    saved = page.evaluate(SAVE_DIRECT, [USER, households, WAITING])
    page.evaluate(SYNC_PROBE)
    page.context.set_offline(False)
    page.wait_for_function("() => window.__sync.online !== null", timeout=10_000)
    page.wait_for_function("() => window.__sync.synced !== null", timeout=120_000)
    s = page.evaluate("window.__sync")
    waiting = page.locator("#waiting").get_attribute("data-waiting")
    assert waiting == "0", (waiting, s, page.locator("#status").inner_text())
    return {
        "save_ms": saved,
        "pushed_s": (s["pushed"] - s["online"]) / 1000,
        "synced_s": (s["synced"] - s["online"]) / 1000,
        "waiting_seen": s["waiting"],
    }


def run(count: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {"households": count}
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp)) as (url, db_path):
        households = household_rows(count)
        client = Client(url)
        results["visits_before"] = fill(client, households)
        results["baseline_push_s"] = baseline_push(client, households)
        ids = [h["id"] for h in households]
        unvisited = ids[len(ids) * 2 // 5 :]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            try:
                results["cold"] = [cold_start(browser, url, True, errors) for _ in range(COLD)]
                results["cold_fast"] = [
                    cold_start(browser, url, False, errors) for _ in range(COLD)
                ]
                page = new_page(browser, errors)
                page.goto(f"{url}/app/")
                page.wait_for_function("() => window.__readyAt !== undefined")
                results["login"] = log_in(page)
                results["warm"] = warm_starts(page)
                results["list"] = group_list(page)
                results["save_screen"] = save_through_screen(page, unvisited[:SAVES])
                results["save_direct"] = page.evaluate(SAVE_DIRECT, [USER, unvisited, DIRECT])
                results["save_bare"] = page.evaluate(BARE_PUT, [DIRECT])
                results["sync"] = sync_waiting(page, unvisited)
                page.context.close()
            finally:
                browser.close()
        expected = results["visits_before"] + WAITING + SAVES + DIRECT + WAITING
        results["server_visits"] = server_visits(db_path)
        assert results["server_visits"] == expected, (results["server_visits"], expected)
    assert errors == [], errors
    results["app_bytes"] = sum(
        (APP_DIR / name).stat().st_size for name in shell_files() if name.endswith((".js", ".css"))
    )
    return results


# --- the report ----------------------------------------------------------------------------


def report(r: dict[str, Any]) -> str:
    def verdict(value: float, bar: float) -> str:
        return "yes" if value < bar else "**no**"

    cold = [c["ms"] / 1000 for c in r["cold"]]
    cold_fast = [c["ms"] for c in r["cold_fast"]]
    warm_ready, warm_home = r["warm"]["ready"], r["warm"]["home"]
    keys = [k["ms"] for k in r["list"]["keys"]]
    opened, parts = r["list"]["opened"], r["list"]["parts"]
    screen, direct, bare = r["save_screen"], r["save_direct"], r["save_bare"]
    sync = r["sync"]
    opening_kb = r["login"]["opening_bytes"] / 1024
    cold_kb = r["cold"][0]["bytes"] / 1024
    n = r["households"]
    lines = [
        "<!-- bench:app -->",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; Debian's Chromium, headless, "
        "driven by Playwright, 360 x 800 px; `field-server serve` (SQLite, default workers) on "
        f"127.0.0.1 holding a residential group of {n:,} households, {r['visits_before']:,} "
        "of them visited (done, not home, come back, priority left). Times are taken in the "
        "page (`performance.now()`); several runs: median / max.",
        "",
        "| figure | measured | bar | under the bar |",
        "| --- | --- | --- | --- |",
        f"| JS and CSS loaded to open the app and reach the home screen after a login "
        f"({len(r['login']['opening'])} files, uncompressed) | {opening_kb:.1f} KB | "
        f"{BARS['opening_kb']:.0f} KB | {verdict(opening_kb, BARS['opening_kb'])} |",
        f"| … of which to the login screen ({r['cold'][0]['files']} files) | {cold_kb:.1f} KB "
        "| | |",
        f"| the whole app's JS and CSS (every screen) | {r['app_bytes'] / 1024:.1f} KB | | |",
        f"| cold start on slow 3G (400 kbit/s each way, 400 ms latency): navigation to the login "
        f"usable, {COLD} fresh contexts | {median(cold):.2f} / {max(cold):.2f} s | "
        f"{BARS['cold_s']:.0f} s | {verdict(max(cold), BARS['cold_s'])} |",
        f"| the same, no throttling (same run) | {median(cold_fast):.0f} / {max(cold_fast):.0f} ms "
        "| (baseline) | |",
        f"| warm start offline (service worker), logged in: reload to the frame ready, {WARM} "
        f"reloads | {median(warm_ready):.0f} / {max(warm_ready):.0f} ms | "
        f"{BARS['warm_ms']:.0f} ms | {verdict(max(warm_ready), BARS['warm_ms'])} |",
        f"| … to the home screen drawn (the copy: {n:,} households) | {median(warm_home):.0f} / "
        f"{max(warm_home):.0f} ms | {BARS['warm_ms']:.0f} ms | "
        f"{verdict(max(warm_home), BARS['warm_ms'])} |",
        f"| the group's {r['list']['households']:,} households listed (address changed to the "
        f"list drawn and laid out), {LISTS} openings | {median(opened):.0f} / {max(opened):.0f} "
        f"ms | {BARS['keystroke_ms']:.0f} ms | {verdict(max(opened), BARS['keystroke_ms'])} |",
        f"| … the list made afresh, once per change of the copy (medians, in the page): "
        f"reading the copy ({parts[0]['counts'][0]:,} households, {parts[0]['counts'][1]:,} "
        f"visits) {median([p['copy'] for p in parts]):.0f} ms, `describe` "
        f"{median([p['describe'] for p in parts]):.0f} ms, sorting in walking order "
        f"{median([p['sort'] for p in parts]):.0f} ms | | | |",
        f"| search, per keystroke ({len(keys)} keystrokes: {', '.join(QUERIES)}, each cleared; "
        f"input event to the list redrawn and laid out) | {median(keys):.1f} / {max(keys):.1f} ms "
        f"| {BARS['keystroke_ms']:.0f} ms | {verdict(max(keys), BARS['keystroke_ms'])} |",
        f'| saving a visit through the screen (tap on save to "Đã lưu"), {SAVES} visits | '
        f"{median(screen):.1f} / {max(screen):.1f} ms | {BARS['save_ms']:.0f} ms | "
        f"{verdict(max(screen), BARS['save_ms'])} |",
        f"| `store.saveRecord` alone, {DIRECT} visits | {median(direct):.1f} / {max(direct):.1f} "
        f"ms | {BARS['save_ms']:.0f} ms | {verdict(max(direct), BARS['save_ms'])} |",
        f"| a bare IndexedDB put of the same record, one transaction each (same run) | "
        f"{median(bare):.1f} / {max(bare):.1f} ms | (baseline) | |",
        f"| {WAITING:,} waiting visits synced: network back to nothing waiting (pushed in "
        f"batches of {BATCH}) | {sync['pushed_s']:.2f} s | {BARS['sync_s']:.0f} s | "
        f"{verdict(sync['pushed_s'], BARS['sync_s'])} |",
        f"| … to the sync's end (its pull included) | {sync['synced_s']:.2f} s | "
        f"{BARS['sync_s']:.0f} s | {verdict(sync['synced_s'], BARS['sync_s'])} |",
        f"| the same number of visits pushed by a Python client (same server, same run) | "
        f"{r['baseline_push_s']:.2f} s | (baseline) | |",
        f"| first login on the tablet: to the group pulled (sync's end) | "
        f"{r['login']['first_sync_s']:.2f} s | | |",
        "<!-- /bench:app -->",
    ]
    return "\n".join(lines)


def write(section: str) -> None:
    write_section("app", "The canvassers' app", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=5000)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--json", action="store_true", help="print the raw figures too")
    args = parser.parse_args()
    results = run(args.households)
    if args.json:
        print(json.dumps(results, indent=1, default=str))
    section = report(results)
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
