"""The reference tablet client against an in-memory server (tests/unit/fake_server.py).

What a canvasser would notice: nothing recorded is lost or doubled when answers are dropped,
numbering survives a reinstall, the replica is never half-updated, a bad record does not
block the queue, the client waits as the server asks, and the clock follows the server's.
No network and no real sleeping: the transport, wall clock and sleep are injected.
"""

from __future__ import annotations

import re
import stat
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from domain.hlc import parse_hlc
from domain.records import HOUSEHOLD_KEYS, VISIT_KEYS, SyncError
from field_sync import (
    LocalStore,
    LoginRequired,
    MutationGapError,
    RefusedError,
    Response,
    SyncClient,
    TransportError,
)
from field_sync import cli as cli_module
from tests.unit.fake_server import FakeServer, Flaky, envelope

WARD = "gso-2020:12019"
COUNTS = {
    "adults": 4,
    "smartphones": 3,
    "installed_before": 1,
    "installed_during": 2,
    "priority_subjects": 1,
    "priority_installed": 1,
}
PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "field-sync.md"


class Tablet:
    """A client with a controllable wall clock and a sleep that only records."""

    def __init__(self, path: Path | str, transport, wall_ms: int = 1_597_458_600_000) -> None:
        self.path = path
        self.now = wall_ms
        self.sleeps: list[float] = []
        self.store = LocalStore(path)
        self.client = SyncClient(
            transport,
            self.store,
            wall_ms=lambda: self.now,
            sleep=self.sleeps.append,
            rng=lambda: 0.0,  # no jitter: the delays asked for are exact
        )

    def household(self, address: str = "Số 12, ngõ 34") -> str:
        return self.client.add_household(ward=WARD, address=address).id

    def visit(self, household_id: str, outcome: str = "installed", **kwargs) -> str:
        counts = COUNTS if outcome == "installed" else None
        return self.client.add_visit(
            household_id=household_id, outcome=outcome, counts=counts, **kwargs
        ).id


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def net(server: FakeServer) -> Flaky:
    return Flaky(server)


@pytest.fixture
def tablet(tmp_path: Path, net: Flaky) -> Tablet:
    t = Tablet(tmp_path / "tablet.db", net)
    t.client.login("cv.hy.001", "secret", "Tab 7 - tổ 3")
    return t


def pushed_ids(server: FakeServer) -> list[list[int]]:
    return [[m["mutation_id"] for m in body["mutations"]] for body in server.push_bodies]


# --- recording and the wire form ------------------------------------------------------


def test_mutations_are_numbered_from_one_and_sent_exactly_as_the_contract_says(tablet, server):
    hh = tablet.household()
    visit = tablet.visit(hh, visited_at="2020-08-15T09:31:00+07:00")
    assert [e.mutation_id for e in tablet.store.outbox()] == [1, 2]
    tablet.client.push()
    body = server.push_bodies[0]
    assert set(body) == {"device_id", "mutations"}
    assert body["device_id"] == tablet.client.device_id
    household, created = body["mutations"]
    assert list(household) == ["mutation_id", "type", "id", "base_version", "hlc", "data"]
    assert household["type"] == "household.upsert" and household["base_version"] == 0
    assert household["data"] == {"ward": WARD, "address": "Số 12, ngõ 34"}
    assert list(created) == ["mutation_id", "type", "id", "hlc", "data"]  # no base_version
    assert created["id"] == visit and created["data"]["household_id"] == hh
    assert created["data"]["visited_at"] == "2020-08-15T09:31:00+07:00"
    assert created["hlc"].endswith("-" + tablet.client.device_id)


def test_local_records_have_the_shape_of_the_servers(tablet, server):
    # One description (domain/records.py) for the server's pull, its schemas and the
    # replica: what the tablet records looks like what a pull brings.
    hh = tablet.household()
    visit = tablet.visit(hh, visited_at="2020-08-15T09:31:00+07:00")
    household = tablet.store.record("household", hh)["data"]
    assert list(household) == list(HOUSEHOLD_KEYS)
    assert household["id"] == hh and household["version"] == 0
    assert household["ward"] == WARD and household["installed"] is None
    local = tablet.store.record("visit", visit)["data"]
    assert list(local) == list(VISIT_KEYS)
    assert local["device_id"] == tablet.client.device_id and local["canvasser"] == "cv.hy.001"
    assert local["review_status"] == "pending" and local["voided"] is False

    tablet.client.push()  # acknowledged: the row and its data learn the version
    row = tablet.store.record("visit", visit)
    assert row["version"] == row["data"]["version"] == 1
    tablet.client.update_visit(visit, {"notes": "sửa"})
    assert list(tablet.store.record("visit", visit)["data"]) == list(VISIT_KEYS)

    tablet.client.push()
    tablet.client.pull()
    for entity, keys in (("household", HOUSEHOLD_KEYS), ("visit", VISIT_KEYS)):
        assert [list(r["data"]) for r in tablet.store.records(entity)] == [list(keys)]


def test_the_device_id_is_made_once_per_install(tmp_path, net):
    t = Tablet(tmp_path / "t.db", net)
    t.client.login("cv.hy.001", "secret")
    first = t.client.device_id
    uuid.UUID(first)
    t.client.login("cv.hy.001", "secret")
    assert Tablet(tmp_path / "t.db", net).client.device_id == first


def test_recording_needs_a_first_login(tmp_path, net):
    t = Tablet(tmp_path / "t.db", net)
    with pytest.raises(LoginRequired):
        t.household()
    assert t.store.pending_count() == 0


def test_counts_that_break_the_rules_are_refused_before_reaching_the_outbox(tablet):
    hh = tablet.household()
    with pytest.raises(SyncError) as caught:
        tablet.client.add_visit(
            household_id=hh, outcome="installed", counts={**COUNTS, "installed_before": 3}
        )
    assert caught.value.code == "validation_failed" and "installed_during" in caught.value.errors
    assert tablet.store.pending_count() == 1


# --- retries, replays and the outbox ----------------------------------------------------


def test_a_dropped_answer_is_retried_and_acknowledged_as_replays_without_doubles(
    tablet, server, net
):
    hh = tablet.household()
    tablet.visit(hh)
    net.then(PUSH, "drop")  # the server commits, the answer is lost on the way back
    report = tablet.client.push()
    assert report.acknowledged == 2 and report.replayed == 2 and report.rejected == 0
    assert tablet.store.pending_count() == 0
    assert len(server.households()) == 1 and len(server.visits()) == 1
    assert server.applied_creates == 1
    first, retry = server.push_bodies
    assert retry == first  # the same numbers and the same content
    assert tablet.sleeps == [0.25]


def test_the_outbox_survives_when_every_attempt_fails_and_a_later_push_finishes(
    tmp_path, server, net
):
    t = Tablet(tmp_path / "t.db", net)
    t.client.login("cv.hy.001", "secret")
    hh = t.household()
    t.visit(hh)
    net.then(PUSH, "drop")
    for _ in range(5):
        net.then(PUSH, "down")
    with pytest.raises(TransportError):
        t.client.push()
    assert t.sleeps == [0.25, 0.5, 1.0, 2.0, 4.0]  # exponential, bounded attempts
    assert t.store.pending_count() == 2
    t.store.close()

    again = Tablet(tmp_path / "t.db", net)  # the app restarted
    report = again.client.push()
    assert report.replayed == 2 and again.store.pending_count() == 0
    assert len(server.visits()) == 1 and server.applied_creates == 1


def test_backoff_honours_retry_after_through_the_injected_sleep(tablet, server, net):
    tablet.household()
    later = datetime.fromtimestamp(tablet.now / 1000 + 10, UTC)
    net.then(PUSH, Response(503, {"retry-after": "7"}, envelope(503, "storage_unavailable")))
    net.then(PUSH, Response(429, {"retry-after": "3"}, envelope(429, "rate_limited")))
    net.then(PUSH, Response(503, {"retry-after": format_datetime(later, usegmt=True)}, None))
    net.then(PUSH, Response(502, {}, None))  # a proxy's page: exponential backoff
    report = tablet.client.push()
    assert tablet.sleeps == [7.0, 3.0, 10.0, 2.0]
    assert report.acknowledged == 1 and len(server.push_bodies) == 1


def test_a_server_that_stays_unavailable_is_reported_and_nothing_is_lost(tablet, server, net):
    tablet.household()
    for _ in range(6):
        net.then(PUSH, Response(503, {"retry-after": "5"}, envelope(503, "storage_unavailable")))
    with pytest.raises(RefusedError) as caught:
        tablet.client.push()
    assert caught.value.code == "storage_unavailable"
    assert tablet.sleeps == [5.0] * 5
    assert tablet.store.pending_count() == 1 and server.push_bodies == []


def test_pushes_go_in_order_in_consecutive_batches_of_at_most_500(tmp_path, server, net):
    t = Tablet(":memory:", net)
    t.client.login("cv.hy.001", "secret")
    for n in range(503):
        t.household(f"Số {n}")
    done: list[int] = []
    report = t.client.push(batch_size=10_000, progress=done.append)
    assert pushed_ids(server) == [list(range(1, 501)), [501, 502, 503]]
    assert done == [500, 3] and report.batches == 2 and report.acknowledged == 503
    t.client.add_household(ward=WARD, address="x")
    t.client.push(batch_size=1)
    assert pushed_ids(server)[-1] == [504]


# --- rejected mutations -----------------------------------------------------------------


def test_rejected_mutations_go_to_attention_and_do_not_block_later_ones(tablet, server):
    stray = tablet.client.add_visit(household_id=str(uuid.uuid4()), outcome="not_home")
    hh = tablet.household()
    visit = tablet.visit(hh)
    report = tablet.client.push()
    assert (report.acknowledged, report.rejected) == (2, 1)
    assert tablet.store.pending_count() == 0
    [item] = tablet.client.needs_attention()
    assert item["mutation_id"] == stray.mutation_id and item["code"] == "household_unknown"
    assert item["payload"] == stray.wire()
    assert set(server.visits()) == {visit}
    assert tablet.store.record("visit", stray.id) is None  # never created, not shown
    assert tablet.store.record("visit", visit) is not None
    again = tablet.client.push()
    assert again.sent == 0 and len(server.push_bodies) == 1  # never sent again


# --- numbering and gaps -----------------------------------------------------------------


def test_numbering_continues_after_a_reinstall_from_the_logins_last_mutation_id(
    tmp_path, tablet, server, net
):
    hh = tablet.household()
    tablet.visit(hh)
    tablet.visit(hh, outcome="not_home")
    tablet.client.push()
    device_id = tablet.client.device_id
    device_secret = tablet.client.store.get("device_secret")

    fresh = Tablet(tmp_path / "reinstalled.db", net)  # the local data is gone, not the identity
    result = fresh.client.login(
        "cv.hy.001", "secret", device_id=device_id, device_secret=device_secret
    )
    assert result.last_mutation_id == 3 and result.next_mutation_id == 4
    assert result.numbering_adopted
    entry = fresh.client.add_visit(household_id=hh, outcome="come_back")
    assert entry.mutation_id == 4
    report = fresh.client.push()
    assert report.acknowledged == 1 and report.replayed == 0 and report.rejected == 0
    assert len(server.visits()) == 3


def test_a_reinstall_without_the_device_secret_cannot_claim_the_device(tmp_path, tablet, net):
    tablet.household()
    tablet.client.push()
    fresh = Tablet(tmp_path / "reinstalled.db", net)
    with pytest.raises(RefusedError) as refused:
        fresh.client.login("cv.hy.001", "secret", device_id=tablet.client.device_id)
    assert refused.value.code == "device_credentials_invalid"
    # The tablet that holds the secret carries on.
    assert tablet.client.login("cv.hy.001", "secret").last_mutation_id == 1


def test_the_store_is_private_to_its_owner(tmp_path, net):
    tablet = Tablet(tmp_path / "tablet.db", net)
    tablet.client.login("cv.hy.001", "secret")
    tablet.household()
    for path in tmp_path.glob("tablet.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_login_never_renumbers_waiting_mutations(tablet, server):
    tablet.household()
    tablet.household("Số 14")
    server.devices[tablet.client.device_id].last = 10  # the server says it is far ahead
    result = tablet.client.login("cv.hy.001", "secret")
    assert not result.numbering_adopted and result.next_mutation_id == 3
    assert [e.mutation_id for e in tablet.store.outbox()] == [1, 2]


def test_a_gap_the_outbox_cannot_fill_stops_with_a_clear_error_and_no_renumbering(tablet, server):
    for n in range(3):
        tablet.household(f"Số {n}")
    tablet.client.push()
    server.restore_backup(tablet.client.device_id, last=1)  # the server lost 2 and 3
    # ...and the tablet no longer holds them (a store from before sent entries were kept).
    tablet.store.db.execute("DELETE FROM outbox WHERE state = 'sent'")
    tablet.household("Số 9")
    with pytest.raises(MutationGapError) as caught:
        tablet.client.push()
    assert (
        "expects mutation 2" in caught.value.message and "never renumbered" in caught.value.message
    )
    assert [e.mutation_id for e in tablet.store.outbox()] == [4]
    assert pushed_ids(server)[-1] == [4]


def test_a_server_restored_from_an_older_backup_is_given_back_what_it_lost(tablet, server):
    for n in range(3):
        tablet.household(f"Số {n}")
    tablet.client.push()
    server.restore_backup(tablet.client.device_id, last=1)  # the server lost 2 and 3
    tablet.household("Số 9")
    report = tablet.client.push()
    assert pushed_ids(server)[1:] == [[4], [2, 3, 4]]
    assert report.acknowledged == 3 and report.rejected == 0
    assert server.devices[tablet.client.device_id].last == 4
    assert len(server.households()) == 4
    assert tablet.store.pending_count() == 0


def test_after_a_gap_the_server_is_given_back_the_entries_the_outbox_still_holds(tablet, server):
    tablet.household()
    tablet.client.add_visit(household_id=str(uuid.uuid4()), outcome="not_home")  # rejected
    tablet.client.push()
    server.restore_backup(tablet.client.device_id, last=1)  # the server lost mutation 2
    tablet.household("Số 20")
    report = tablet.client.push()
    assert pushed_ids(server)[1:] == [[3], [2, 3]]  # resent from what the server expects
    assert (report.acknowledged, report.rejected) == (1, 1)
    assert server.devices[tablet.client.device_id].last == 3


# --- sessions ---------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_and_the_request_goes_through(tablet, server, net):
    tablet.household()
    old_refresh = tablet.store.get("refresh_token")
    server.expire_access_tokens()
    report = tablet.client.push()
    assert report.acknowledged == 1
    paths = [path for _, path, _ in net.log]
    assert paths[-3:] == [PUSH, "/api/v1/auth/refresh", PUSH]
    assert net.log[-2][2] == {"refresh_token": old_refresh, "device_id": tablet.client.device_id}
    assert tablet.store.get("refresh_token") != old_refresh


@pytest.mark.parametrize("code", ["refresh_reused", "token_invalid"])
def test_a_dead_session_asks_for_a_login_and_keeps_the_outbox(tablet, server, code):
    tablet.household()
    server.expire_access_tokens()
    token = tablet.store.get("refresh_token")
    if code == "refresh_reused":
        server.rotated.add(token)
    else:
        server.refresh.pop(token)
    with pytest.raises(LoginRequired) as caught:
        tablet.client.push()
    assert caught.value.code == code and "Log in again" in caught.value.message
    assert tablet.store.pending_count() == 1
    tablet.household("Số 99")  # recording still works offline
    tablet.client.login("cv.hy.001", "secret")
    assert tablet.client.push().acknowledged == 2


def test_a_revoked_device_is_told_to_log_in(tablet, server):
    server.devices[tablet.client.device_id].revoked = True
    with pytest.raises(LoginRequired) as caught:
        tablet.client.status()
    assert caught.value.code == "device_revoked"


# --- clock ------------------------------------------------------------------------------


def test_the_device_clock_merges_the_servers_hlc(tmp_path, server, net):
    t = Tablet(tmp_path / "t.db", net, wall_ms=server.wall_ms - 3_600_000)  # an hour slow
    t.client.login("cv.hy.001", "secret")
    first = t.client.add_household(ward=WARD, address="Số 1")
    assert parse_hlc(first.hlc).ms == t.now
    t.client.push()
    server_hlc = server.clock.last  # the server_hlc of the push answer
    assert server_hlc.ms > t.now
    second = t.client.add_household(ward=WARD, address="Số 2")
    assert parse_hlc(second.hlc)[:2] > server_hlc[:2]
    t.store.close()
    restarted = Tablet(tmp_path / "t.db", net, wall_ms=t.now)
    third = restarted.client.add_household(ward=WARD, address="Số 3")
    assert parse_hlc(third.hlc)[:2] > parse_hlc(second.hlc)[:2]


# --- pull -------------------------------------------------------------------------------


def replica(t: Tablet, entity: str = "household") -> dict[str, int]:
    return {r["id"]: r["version"] for r in t.store.records(entity)}


def test_pull_pages_to_the_end_and_stores_each_cursor(tablet, server):
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for i in ids:
        server.put("household", i, {"ward": WARD, "address": i})
    seen: list[tuple[int, bool]] = []
    report = tablet.client.pull(limit=2, progress=lambda n, more: seen.append((n, more)))
    assert seen == [(2, True), (2, True), (1, False)] and report.pages == 3
    assert replica(tablet) == dict.fromkeys(ids, 1)
    server.put("household", ids[0], {"ward": WARD, "address": "moved"})
    server.put("visit", "v1", {"household_id": ids[1]}, op="upsert")
    server.merge(ids[2], into=ids[1])
    report = tablet.client.pull(limit=2)
    assert report.changes == 3 and not report.full_copy
    assert replica(tablet) == {ids[0]: 2, ids[1]: 1, ids[3]: 1, ids[4]: 1}
    assert tablet.store.survivor(ids[2]) == ids[1]


def test_a_pull_page_is_applied_whole_or_not_at_all(tablet, server, monkeypatch):
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    server.put("household", a, {"ward": WARD, "address": "A"})
    server.put("household", b, {"ward": WARD, "address": "B"})
    tablet.client.pull()
    cursor = tablet.store.cursor
    server.put("household", a, {"ward": WARD, "address": "A, updated"})
    server.put("household", c, {"ward": WARD, "address": "C"})

    original = tablet.store._apply_change
    calls = []

    def fail_on_second(table, change):
        calls.append(change["id"])
        if len(calls) == 2:
            raise OSError("disk full")
        original(table, change)

    monkeypatch.setattr(tablet.store, "_apply_change", fail_on_second)
    with pytest.raises(OSError):
        tablet.client.pull()
    assert replica(tablet) == {a: 1, b: 1}  # the first change of the page was rolled back
    assert tablet.store.record("household", a)["data"]["address"] == "A"
    assert tablet.store.cursor == cursor
    monkeypatch.undo()
    tablet.client.pull()
    assert replica(tablet) == {a: 2, b: 1, c: 1}


def test_a_change_the_client_does_not_understand_stops_the_page_unapplied(tablet, server):
    server.put("household", "h1", {"ward": WARD, "address": "A"})
    server.put("household", "h2", {}, op="explode")
    with pytest.raises(ValueError):
        tablet.client.pull()
    assert tablet.store.records() == [] and tablet.store.cursor is None


def test_a_reset_is_built_beside_the_old_copy_and_swapped_only_at_its_end(tablet, server, net):
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for i in ids:
        server.put("household", i, {"ward": WARD, "address": i})
    tablet.client.pull(limit=2)
    local_visit = tablet.visit(ids[0])  # recorded, not pushed yet
    before = replica(tablet)
    newcomer = str(uuid.uuid4())
    server.drop_from_scope("household", ids[4])  # the scope changed: reset
    server.put("household", newcomer, {"ward": WARD, "address": "new"})

    net.then(PULL, "pass")  # the reset's first page arrives…
    for _ in range(6):
        net.then(PULL, "down")  # …then the link dies for good
    with pytest.raises(TransportError):
        tablet.client.pull(limit=2)
    assert tablet.store.copying
    assert replica(tablet) == before  # the old copy is still whole and usable
    assert tablet.store.record("visit", local_visit) is not None

    report = tablet.client.pull(limit=2)
    assert not tablet.store.copying and report.pages == 2
    assert replica(tablet) == {**dict.fromkeys(ids[:4], 1), newcomer: 1}
    assert tablet.store.record("visit", local_visit)["op"] == "local"  # kept across the swap
    assert tablet.store.pending_count() == 1  # the outbox is kept


def test_a_full_copy_drops_a_local_record_the_server_has_answered_for(tablet, server):
    hh = tablet.household()
    visit = tablet.visit(hh)
    tablet.client.void_visit(visit, "entered twice")
    assert tablet.store.record("visit", visit)["op"] == "local"
    tablet.client.push()
    tablet.client.pull()  # a full copy: the voided visit is gone on the server
    assert tablet.store.record("visit", visit) is None
    assert tablet.store.record("household", hh)["op"] == "upsert"


def test_an_invalid_cursor_is_dropped_and_a_full_copy_replaces_stale_records(tablet, server):
    server.put("household", "h1", {"ward": WARD, "address": "A"})
    tablet.client.pull()
    tablet.store.db.execute("INSERT INTO records VALUES ('household', 'ghost', 3, '{}', 'upsert')")
    tablet.store.set("cursor", "forged")
    report = tablet.client.pull()
    assert report.cursor_dropped and report.full_copy
    assert replica(tablet) == {"h1": 1}


def test_a_redirected_result_sends_later_visits_to_the_survivor(tablet, server):
    kept, merged = str(uuid.uuid4()), str(uuid.uuid4())
    server.put("household", kept, {"ward": WARD, "address": "A"})
    server.merge(merged, into=kept)
    tablet.visit(merged)  # the tablet does not know about the merge yet
    report = tablet.client.push()
    assert report.acknowledged == 1
    later = tablet.client.add_visit(household_id=merged, outcome="not_home")
    assert later.data["household_id"] == kept


def test_status_and_sync(tablet, server):
    tablet.household()
    pushed, pulled = tablet.client.sync()
    assert pushed.acknowledged == 1 and pulled.changes == 1
    assert tablet.client.status()["last_mutation_id"] == 1
    local = tablet.client.local_status()
    assert (local["outbox"], local["attention"], local["records"]) == (0, 0, 1)
    assert local["cursor"] == "up to date as of the last pull"


# --- the field-sync command -------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, server, monkeypatch):
    urls: list[str] = []

    def transport(url, timeout):
        urls.append(url)
        return server

    monkeypatch.setattr(cli_module, "HttpTransport", transport)
    runner = CliRunner()
    data = str(tmp_path / "cli.db")

    def run(*args, input=None):
        return runner.invoke(cli_module.cli, ["--data", data, *args], input=input)

    run.urls = urls
    return run


UUID_LINE = re.compile(r"^[0-9a-f-]{36}\n$")


def test_the_command_line_acts_as_a_tablet(cli, server):
    result = cli("--server", "http://field.example:8000", "login", "cv.hy.001",
                 "--password-stdin", "--device-name", "Tab 7", input="secret\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Logged in as cv.hy.001 (canvasser)")
    hh = cli("household", "add", "--ward", WARD, "--address", "Số 12", "--lat", "20.6",
             "--lon", "106.0")  # fmt: skip
    assert hh.exit_code == 0 and UUID_LINE.match(hh.stdout)
    household_id = hh.stdout.strip()
    visit = cli("visit", "add", "--household", household_id, "--outcome", "installed",
                "--adults", "4", "--smartphones", "3", "--installed-before", "1",
                "--installed-during", "2", "--priority-subjects", "0",
                "--priority-installed", "0")  # fmt: skip
    assert visit.exit_code == 0 and UUID_LINE.match(visit.stdout)
    sent = server.push_bodies
    pushed = cli("push")
    assert pushed.exit_code == 0
    assert pushed.stdout == "Pushed 2 mutations in 1 batch: 2 acknowledged, 0 rejected.\n"
    created = sent[0]["mutations"][1]["data"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", created["visited_at"])
    pulled = cli("pull")
    assert pulled.exit_code == 0
    assert pulled.stdout == "Pulled 2 changes in 1 page (full copy); the replica holds 2 records.\n"
    status = cli("status")
    assert status.exit_code == 0
    assert "outbox: 0 mutations waiting; next mutation 3" in status.stdout
    assert "server status: last mutation 2" in status.stdout
    assert cli("attention").stdout == "No mutations need attention.\n"
    assert cli("push").stdout == "Nothing to push.\n"
    assert set(cli.urls) == {"http://field.example:8000"}  # remembered after the login


def test_the_command_line_exit_codes(cli, server):
    assert cli("push").exit_code == 1  # not logged in
    wrong = cli("login", "cv.hy.001", "--password-stdin", input="nope\n")
    assert wrong.exit_code == 1 and "invalid_credentials" in wrong.output
    assert cli("login", "cv.hy.001", "--password-stdin", input="secret\n").exit_code == 0
    assert cli("household", "add", "--address", "x").exit_code == 2  # --ward missing
    bad = cli("visit", "add", "--household", str(uuid.uuid4()), "--outcome", "installed")
    assert bad.exit_code == 2 and "validation_failed" in bad.output  # counts required
    stray = cli("visit", "add", "--household", str(uuid.uuid4()), "--outcome", "not_home")
    assert stray.exit_code == 0
    pushed = cli("push")
    assert pushed.exit_code == 0 and "1 rejected" in pushed.stdout
    listed = cli("attention")
    assert "#1 visit.create" in listed.stdout and "household_unknown" in listed.stdout


def test_a_long_push_shows_progress_and_sends_in_batches(cli, server):
    cli("login", "cv.hy.001", "--password-stdin", input="secret\n")
    for n in range(3):
        cli("household", "add", "--ward", WARD, "--address", f"Số {n}")
    result = cli("push", "--batch-size", "1")
    assert result.exit_code == 0
    assert "Pushing" in result.stderr
    assert result.stdout == "Pushed 3 mutations in 3 batches: 3 acknowledged, 0 rejected.\n"


def commands(group: click.Group, prefix: str) -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            names += commands(command, f"{prefix} {name}")
        else:
            names.append(f"{prefix} {name}")
    return names


def test_every_field_sync_command_is_documented():
    text = DOCS.read_text()
    listed = commands(cli_module.cli, "field-sync")
    assert "field-sync visit add" in listed
    assert [c for c in listed if f"### {c}" not in text] == []


def test_a_batch_too_large_in_bytes_is_split_without_renumbering(tablet, server, net):
    for n in range(4):
        tablet.household(f"Số {n}")
    net.then(PUSH, Response(413, {}, envelope(413, "payload_too_large")))
    report = tablet.client.push()
    assert report.acknowledged == 4
    assert pushed_ids(server) == [[1, 2], [3, 4]]


def test_a_long_pull_shows_progress(cli, server):
    cli("login", "cv.hy.001", "--password-stdin", input="secret\n")
    for n in range(3):
        server.put("household", str(uuid.uuid4()), {"ward": WARD, "address": f"Số {n}"})
    result = cli("pull", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert "Pulling" in result.stderr
    assert result.stdout == (
        "Pulled 3 changes in 3 pages (full copy); the replica holds 3 records.\n"
    )


# --- HttpTransport, with urllib replaced (no network) -------------------------------------


class FakeAnswer:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status, self.body, self.headers = status, body, headers

    def read(self) -> bytes:
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_http_transport_sends_json_with_the_token_and_reads_every_answer(monkeypatch):
    import io
    import urllib.error
    import urllib.request

    from field_sync import HttpTransport

    sent = []

    def urlopen(req, timeout):
        sent.append((req, timeout))
        if req.full_url.endswith("/ok"):
            return FakeAnswer(200, b'{"ok": true}', {"Content-Type": "application/json"})
        if req.full_url.endswith("/down"):
            raise urllib.error.URLError("connection refused")
        body = io.BytesIO(b'{"ok": false, "code": "rate_limited", "message": "wait"}')
        raise urllib.error.HTTPError(req.full_url, 429, "Too Many", {"Retry-After": "9"}, body)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    transport = HttpTransport("http://field.example:8000/", timeout=12)
    ok = transport.request("POST", "/api/v1/ok", json={"a": "ạ"}, token="tok")
    assert ok.status == 200 and ok.body == {"ok": True}
    assert ok.header("content-type") == "application/json"
    req, timeout = sent[0]
    assert req.full_url == "http://field.example:8000/api/v1/ok" and timeout == 12
    assert req.get_header("Authorization") == "Bearer tok"
    assert req.get_header("Content-type") == "application/json"
    assert req.data == '{"a":"ạ"}'.encode()
    limited = transport.request("GET", "/api/v1/limited")
    assert (limited.status, limited.code, limited.header("Retry-After")) == (
        429,
        "rate_limited",
        "9",
    )
    with pytest.raises(TransportError):
        transport.request("GET", "/api/v1/down")
