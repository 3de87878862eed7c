"""The campaign of the demo at scale, generated: the units, the people and what the tablets
record. Pure data, from a fixed seed: nothing here touches the database, and the same call
gives the same records, ids included. The run (demo_scale.py) loads and pushes them.

The units are the real GSO-2020 list (``demo_data/gso-2020-units.csv``), a province of it
or the whole country, with five residential groups per ward made up here. The people: an
admin, an officer per province and per district, a supervisor and two canvassers per ward,
and three tablets per ward. What the tablets record over the eight days of the August 2020
drive, ward by ward (``Campaign``):

- households at addresses of the shapes written in the field: ``Số 12, ngõ 34, đường Lê
  Lợi`` in the north, ``ngách`` in Hà Nội, ``K54/12`` in Huế and Đà Nẵng, ``123/45``
  (hẻm) paths in the south, ``Số 7, xóm 3, thôn 2`` and ``Số 7, ấp 2`` in the
  countryside; every address unique in its ward, so the only duplicates are the ones
  made on purpose;
- visits with skewed outcomes (wards more or less advanced, installs more likely where
  the ward is), counts that agree with the outcome, some priority households (people in
  quarantine or awaiting a test), GPS near the household, now and then far from it;
- revisits: a ``not_home`` or ``come_back`` visit followed by a later one to the same
  household;
- duplicates: a house recorded again by another tablet of the ward, its address written
  differently (``SN 12 ng. 34``, ``so nha 12 ngo 034``) but the same once normalised, so
  the server answers ``conflict`` / ``possible_duplicate`` for the supervisor;
- a few corrections (``visit.update``) and voided visits (``visit.void``);
- tablets whose clocks are off: by seconds, minutes, the seven hours of a tablet left on
  UTC, or a day.
"""

from __future__ import annotations

import csv
import io
import math
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from domain.address import normalise_address

from ..services.demo import DemoUser
from ..services.demo_scale import DemoTablet

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"
GSO_UNITS_FILE = DEMO_DATA / "gso-2020-units.csv"
SCHEME = "gso-2020"
SEED = 2020
GROUPS_PER_WARD = 5

LOCAL = timezone(timedelta(hours=7))
# The eight days of the drive (13 to 20 August 2020), local time.
FIRST_DAY = datetime(2020, 8, 13, tzinfo=LOCAL)
DAYS = 8
VISITS_PER_DAY = 40  # what one canvasser walks in a day, roughly

# Rough centres of the provinces (their capitals), for plausible GPS positions.
PROVINCE_CENTRES: dict[str, tuple[float, float]] = {
    "01": (21.03, 105.85), "02": (22.82, 104.98), "04": (22.67, 106.26),
    "06": (22.15, 105.83), "08": (21.82, 105.21), "10": (22.48, 103.97),
    "11": (21.39, 103.02), "12": (22.40, 103.45), "14": (21.33, 103.91),
    "15": (21.72, 104.90), "17": (20.82, 105.34), "19": (21.59, 105.85),
    "20": (21.85, 106.76), "22": (21.00, 107.30), "24": (21.27, 106.19),
    "25": (21.32, 105.40), "26": (21.31, 105.60), "27": (21.19, 106.07),
    "30": (20.94, 106.33), "31": (20.86, 106.68), "33": (20.65, 106.05),
    "34": (20.45, 106.34), "35": (20.54, 105.91), "36": (20.42, 106.17),
    "37": (20.25, 105.97), "38": (19.81, 105.78), "40": (18.67, 105.68),
    "42": (18.34, 105.90), "44": (17.47, 106.60), "45": (16.75, 107.19),
    "46": (16.46, 107.59), "48": (16.05, 108.20), "49": (15.57, 108.47),
    "51": (15.12, 108.80), "52": (13.78, 109.22), "54": (13.09, 109.30),
    "56": (12.24, 109.19), "58": (11.56, 108.99), "60": (10.93, 108.10),
    "62": (14.35, 108.00), "64": (13.98, 108.00), "66": (12.67, 108.04),
    "67": (12.00, 107.69), "68": (11.94, 108.44), "70": (11.75, 106.72),
    "72": (11.31, 106.10), "74": (10.98, 106.65), "75": (10.95, 106.82),
    "77": (10.35, 107.08), "79": (10.78, 106.70), "80": (10.54, 106.41),
    "82": (10.36, 106.36), "83": (10.24, 106.38), "84": (9.93, 106.34),
    "86": (10.25, 105.97), "87": (10.46, 105.63), "89": (10.38, 105.44),
    "91": (10.01, 105.08), "92": (10.03, 105.78), "93": (9.78, 105.47),
    "94": (9.60, 105.97), "95": (9.29, 105.72), "96": (9.18, 105.15),
}  # fmt: skip

STREETS = (
    "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Quang Trung", "Hai Bà Trưng", "Lý Thường Kiệt",
    "Nguyễn Du", "Hùng Vương", "Phan Chu Trinh", "Lê Duẩn", "Trần Phú", "Nguyễn Văn Cừ",
    "Điện Biên Phủ", "Bà Triệu", "Hoàng Hoa Thám", "Võ Thị Sáu", "Ngô Quyền", "Lê Hồng Phong",
    "Nguyễn Thái Học", "Phạm Văn Đồng", "Chu Văn An", "Lê Thánh Tông", "Tô Hiến Thành",
    "Nguyễn Huệ", "Cách Mạng Tháng Tám", "Ngô Gia Tự", "Trần Quốc Toản", "Yết Kiêu",
)  # fmt: skip
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
          "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý")  # fmt: skip
MIDDLE = {"m": ("Văn", "Đức", "Hữu", "Minh", "Quang", "Công"),
          "f": ("Thị", "Thị", "Ngọc", "Thanh", "Thu")}  # fmt: skip
GIVEN = {"m": ("An", "Bình", "Dũng", "Hùng", "Minh", "Sơn", "Tuấn", "Long", "Hải", "Nam",
               "Thắng", "Phúc", "Hòa", "Khoa", "Toàn"),
         "f": ("Chi", "Hà", "Lan", "Nga", "Tâm", "Hoa", "Hương", "Thủy", "Linh", "Trang",
               "Mai", "Yến", "Hạnh", "Loan", "Phượng")}  # fmt: skip

# First-visit outcomes and their weights (roughly the drive's); a ward's progress moves
# weight between installed and refused.
OUTCOME_WEIGHTS = (
    ("installed", 40.0), ("already_installed", 14.0), ("partial", 9.0), ("not_home", 14.0),
    ("refused", 8.0), ("come_back", 6.0), ("no_smartphone", 7.0), ("vacant", 1.5),
    ("language_barrier", 0.5),
)  # fmt: skip
# A revisit finds someone at home.
REVISIT_WEIGHTS = tuple(
    (o, w)
    for o, w in OUTCOME_WEIGHTS
    if o in ("installed", "already_installed", "partial", "refused", "no_smartphone")
)
REVISIT_SHARE = 0.65  # of not_home / come_back visits, revisited later
DUPLICATE_SHARE = 0.015  # of households, recorded again by another tablet
VOID_SHARE = 0.003  # of visits, voided later by their tablet
UPDATE_SHARE = 0.005  # of visits with counts, corrected later by their tablet
PRIORITY_SHARE = 0.04  # of households, with someone in quarantine or awaiting a test
PHONE_SHARE = 0.6
GPS_FAR_SHARE = 0.015


@dataclass(frozen=True)
class Ward:
    code: str
    name: str
    district: str
    province: str
    adults: int
    centre: tuple[float, float]

    @property
    def ref(self) -> str:
        return f"{SCHEME}:{self.code}"

    @property
    def urban(self) -> bool:
        return not self.name.startswith("Xã")

    @property
    def south(self) -> bool:
        return self.province >= "70"

    def group_ref(self, number: int) -> str:
        return f"{SCHEME}:{self.code}-{number:02d}"


@dataclass
class Geography:
    """The units a scale loads: the CSV text for the importer and the wards to canvass."""

    csv_text: str
    provinces: list[tuple[str, str]]  # (code, name)
    districts: list[tuple[str, str, str]]  # (code, name, province code)
    wards: list[Ward]

    @property
    def unit_count(self) -> int:
        return len(self.provinces) + len(self.districts) + len(self.wards) * (1 + GROUPS_PER_WARD)


def _group_name(ward: Ward, number: int) -> str:
    if ward.urban:
        kind = "Khu phố" if ward.south else "Tổ dân phố"
    else:
        kind = "Ấp" if ward.south else "Thôn"
    return f"{kind} {number} (demo)"


def geography(province: str | None, path: Path = GSO_UNITS_FILE) -> Geography:
    """The units of one province (its code) or of the whole country (None), with five
    made-up residential groups per ward, as a units file for `units import`."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    provinces, districts, wards = [], [], []
    district_province: dict[str, str] = {}
    kept: list[dict[str, str]] = []
    for row in rows:
        level, code = row["level"], row["code"]
        if level == "province":
            if province not in (None, code):
                continue
            provinces.append((code, row["name"]))
        elif level == "district":
            if province not in (None, row["parent_code"]):
                continue
            district_province[code] = row["parent_code"]
            districts.append((code, row["name"], row["parent_code"]))
        elif level == "ward":
            if row["parent_code"] not in district_province:
                continue
            home = district_province[row["parent_code"]]
            rng = random.Random(f"{SEED}:{code}:centre")
            lat, lon = PROVINCE_CENTRES[home]
            wards.append(
                Ward(
                    code=code,
                    name=row["name"],
                    district=row["parent_code"],
                    province=home,
                    adults=int(row["adult_population"]),
                    centre=(lat + rng.uniform(-0.25, 0.25), lon + rng.uniform(-0.25, 0.25)),
                )
            )
        else:
            continue
        kept.append(row)
    if not provinces:
        raise LookupError(f"no province {province} in {path.name}")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    for ward in wards:
        for number in range(1, GROUPS_PER_WARD + 1):
            name = _group_name(ward, number)
            writer.writerow(
                {
                    "scheme": SCHEME,
                    "code": f"{ward.code}-{number:02d}",
                    "name": name,
                    "level": "group",
                    "parent_code": ward.code,
                    "adult_population": "",
                    "target_rate": "",
                }
            )
    return Geography(out.getvalue(), provinces, districts, wards)


def province_codes(path: Path = GSO_UNITS_FILE) -> dict[str, str]:
    """The provinces of the list: code -> name."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {r["code"]: r["name"] for r in csv.DictReader(handle) if r["level"] == "province"}


# --- people and tablets ------------------------------------------------------------------


def canvassers(ward: Ward) -> tuple[str, str]:
    return (f"cv.{ward.code}.1", f"cv.{ward.code}.2")


def people(geo: Geography) -> tuple[list[DemoUser], list[DemoTablet]]:
    """An admin, an officer per province and per district (role ``district``), a
    supervisor and two canvassers per ward; three tablets per ward (the first canvasser
    has two: their own and one borrowed), with ids from the seed."""
    rng = random.Random(f"{SEED}:tablets")
    users = [DemoUser("admin", "admin", "Quản trị viên (demo)", ())]
    users += [
        DemoUser(f"dt.p{code}", "district", f"Cán bộ {name} (demo)", (f"{SCHEME}:{code}",))
        for code, name in geo.provinces
    ]
    users += [
        DemoUser(f"dt.{code}", "district", f"Cán bộ {name} (demo)", (f"{SCHEME}:{code}",))
        for code, name, _ in geo.districts
    ]
    tablets = []
    for ward in geo.wards:
        users.append(
            DemoUser(f"sv.{ward.code}", "supervisor", f"Giám sát {ward.name} (demo)", (ward.ref,))
        )
        first, second = canvassers(ward)
        for number, username in enumerate((first, second), 1):
            full_name = f"Người vận động {number} {ward.name} (demo)"
            users.append(DemoUser(username, "canvasser", full_name, (ward.ref,)))
        for username, name in (
            (first, "Máy tính bảng 1"),
            (first, "Máy mượn"),
            (second, "Máy tính bảng 2"),
        ):
            device_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            tablets.append(DemoTablet(device_id, username, f"{name} {ward.name}", ward.ref))
    return users, tablets


def visits_per_ward(wards: Sequence[Ward], total: int) -> list[int]:
    """``total`` visits shared among the wards by adult population and by how far each
    ward's drive has gone (some wards far ahead, some barely started); exact sum."""
    rng = random.Random(f"{SEED}:progress")
    weights = [w.adults * math.exp(rng.gauss(0, 0.6)) for w in wards]
    scale = total / sum(weights)
    shares = [weight * scale for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(wards)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


# --- addresses -----------------------------------------------------------------------------


@dataclass(frozen=True)
class House:
    """Where a household lives: the parts its address is written from (unique in its
    ward), its residential group and position."""

    kind: str  # "street", "lane", "alley" (ngách), "path" (hẻm), "kiet", "hamlet"
    house: int
    lane: int = 0
    alley: int = 0
    street: str = ""
    hamlet: int = 0  # the group's number in the countryside
    hamlet_part: int = 0  # xóm
    group: int = 1


def _street(ward_streets: Sequence[str], index: int, north_city: bool) -> str:
    prefix = "phố" if north_city and index % 2 == 0 else "đường"
    return f"{prefix} {ward_streets[index]}"


def _dotted_street(street: str) -> str:
    """``đường Lê Lợi`` may be written ``Đ. Lê Lợi``; ``phố`` is never abbreviated."""
    return "Đ. " + street[len("đường ") :] if street.startswith("đường ") else street.title()


def address(ward: Ward, house: House) -> str:
    """The address as most canvassers write it."""
    h = house
    if h.kind == "street":
        return f"Số {h.house} {h.street}" if not ward.south else f"{h.house} {h.street}"
    if h.kind == "lane":
        return f"Số {h.house}, ngõ {h.lane}, {h.street}"
    if h.kind == "alley":
        return f"Số {h.house}, ngách {h.alley}, ngõ {h.lane}, {h.street}"
    if h.kind == "path":
        return f"{h.lane}/{h.house} {h.street}"
    if h.kind == "kiet":
        return f"K{h.lane}/{h.house} {h.street}"
    if ward.south:
        return f"Số {h.house}, ấp {h.hamlet}"
    return f"Số {h.house}, xóm {h.hamlet_part}, thôn {h.hamlet}"


def written_otherwise(ward: Ward, house: House, rng: random.Random) -> str:
    """The same address written by someone else: other labels, abbreviations, leading
    zeros, spacing and case, the same once normalised (domain/address.py)."""
    h = house
    if h.kind == "street":
        choices = [f"SN {h.house} {h.street}", f"số nhà {h.house}, {_dotted_street(h.street)}",
                   f"{h.house} {h.street.upper()}", f"Số {h.house} {h.street}"]  # fmt: skip
    elif h.kind == "lane":
        choices = [f"SN {h.house} ng. {h.lane} {h.street}",
                   f"so nha {h.house}, ngo 0{h.lane}, {_dotted_street(h.street)}",
                   f"{h.house} Ngõ {h.lane} {h.street}"]  # fmt: skip
    elif h.kind == "alley":
        choices = [f"SN {h.house} ngh. {h.alley} ng. {h.lane} {h.street}",
                   f"số {h.house}, ngach {h.alley}, ngo {h.lane} {h.street}"]  # fmt: skip
    elif h.kind == "path":
        choices = [f"{h.lane} / {h.house} {h.street}", f"Số {h.lane}/0{h.house}, {h.street}",
                   f"{h.lane}/{h.house}, {_dotted_street(h.street)}"]  # fmt: skip
    elif h.kind == "kiet":
        choices = [f"kiệt {h.lane}/{h.house} {h.street}", f"Kiet {h.lane}/{h.house} {h.street}",
                   f"K.{h.lane}/{h.house}, {_dotted_street(h.street)}"]  # fmt: skip
    elif ward.south:
        choices = [f"SN {h.house} ap {h.hamlet}", f"{h.house} Ấp 0{h.hamlet}",
                   f"số nhà {h.house}, ấp {h.hamlet}"]  # fmt: skip
    else:
        choices = [f"SN {h.house} xom 0{h.hamlet_part} thon {h.hamlet}",
                   f"số nhà {h.house}, Xóm {h.hamlet_part}, Thôn {h.hamlet}",
                   f"{h.house} xóm {h.hamlet_part} thôn 0{h.hamlet}"]  # fmt: skip
    written = rng.choice(choices)
    if normalise_address(written) != normalise_address(address(ward, house)):
        raise AssertionError(f"{written!r} is not the same address as {address(ward, house)!r}")
    return written


class _Houses:
    """Draws houses of a ward, each once."""

    def __init__(self, ward: Ward, rng: random.Random) -> None:
        self.ward = ward
        self.rng = rng
        self.taken: set[House] = set()
        self.group = 1
        self.streets = rng.sample(STREETS, 6)
        self.north_city = ward.province in ("01", "31", "48") and ward.urban

    def draw(self) -> House:
        tries = 0
        while True:
            # A crowded ward gets longer streets: house numbers go higher the more tries.
            house = self._candidate(180 * (1 + tries // 20))
            tries += 1
            if house not in self.taken:
                self.taken.add(house)
                return replace(house, group=self.group)

    def _candidate(self, numbers: int) -> House:
        """A house as its address names it (group 0 when the address does not say it)."""
        rng, ward = self.rng, self.ward
        self.group = group = rng.randint(1, GROUPS_PER_WARD)
        number = rng.randint(1, numbers)
        if not ward.urban:
            part = 0 if ward.south else rng.randint(1, 9)  # ấp have no xóm
            return House("hamlet", number, hamlet=group, hamlet_part=part, group=group)
        index = rng.randrange(len(self.streets))
        street = _street(self.streets, index, self.north_city)
        roll = rng.random()
        if roll < 0.35:
            return House("street", number * 2, street=street)
        lane = rng.randint(1, 120)
        if ward.south:
            return House("path", number, lane=lane, street=street)
        if ward.province in ("46", "48"):
            return House("kiet", number, lane=lane, street=street)
        if ward.province == "01" and roll > 0.8:
            alley = rng.randint(1, 40)
            return House("alley", number, lane=lane, alley=alley, street=street)
        return House("lane", number, lane=lane, street=street)


# --- tablets' logs -------------------------------------------------------------------------


@dataclass
class _Tablet:
    device_id: str
    skew: timedelta  # how far its clock is off
    days: list[int]
    records: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)


@dataclass
class WardLogs:
    """What one ward's tablets recorded: each tablet's mutations, in order, numbered from 1."""

    ward: Ward
    logs: dict[str, list[dict[str, Any]]]
    households: int = 0
    visits: int = 0
    revisits: int = 0
    duplicates: int = 0
    voids: int = 0
    updates: int = 0
    priority: int = 0


def _skew(rng: random.Random) -> timedelta:
    roll = rng.random()
    if roll < 0.80:
        return timedelta(seconds=rng.randint(-90, 90))
    if roll < 0.90:
        return timedelta(minutes=rng.choice((-1, 1)) * rng.randint(2, 25))
    if roll < 0.95:
        return timedelta(hours=-7)  # left on UTC
    if roll < 0.99:
        return timedelta(days=-1)
    return timedelta(hours=rng.randint(2, 12))


def _name(rng: random.Random) -> str:
    sex = rng.choice("mf")
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"


def _counts(outcome: str, priority: bool, rng: random.Random) -> dict[str, int] | None:
    """Counts that agree with the outcome (no ``outcome_mismatch``)."""
    if outcome in ("not_home", "come_back", "language_barrier", "vacant"):
        return None
    adults = rng.choices((1, 2, 3, 4, 5, 6), weights=(8, 30, 25, 20, 10, 7))[0]
    phones = rng.randint(max(1, adults - 2), adults)
    before = during = 0
    if outcome == "no_smartphone":
        phones = 0
    elif outcome == "installed":
        before = rng.randint(0, phones - 1)
        during = phones - before
    elif outcome == "partial":
        phones = max(phones, 2)
        adults = max(adults, phones)
        during = rng.randint(1, phones - 1)
        before = rng.randint(0, phones - 1 - during)
    elif outcome == "already_installed":
        before = phones
    elif outcome == "refused":
        before = rng.randint(0, phones - 1)
    subjects = min(adults, rng.randint(1, 2)) if priority else 0
    installed = outcome in ("installed", "already_installed")
    return {
        "adults": adults,
        "smartphones": phones,
        "installed_before": before,
        "installed_during": during,
        "priority_subjects": subjects,
        "priority_installed": subjects if installed and phones else 0,
    }


class Campaign:
    """The drive over some wards, ward by ward (``logs``), from a fixed seed."""

    def __init__(self, geo: Geography, tablets: Sequence[DemoTablet], visits: int) -> None:
        self.geo = geo
        self.budgets = visits_per_ward(geo.wards, visits)
        self.tablets: dict[str, list[DemoTablet]] = {}
        for tablet in tablets:
            self.tablets.setdefault(tablet.ward, []).append(tablet)

    def __iter__(self) -> Iterator[WardLogs]:
        for ward, budget in zip(self.geo.wards, self.budgets, strict=True):
            yield self.ward_logs(ward, budget)

    def ward_logs(self, ward: Ward, budget: int) -> WardLogs:
        rng = random.Random(f"{SEED}:{ward.code}:visits")
        progress = rng.uniform(0.5, 1.5)
        outcomes = [o for o, _ in OUTCOME_WEIGHTS]
        weights = [
            w * (progress if o == "installed" else 1 / progress if o == "refused" else 1)
            for o, w in OUTCOME_WEIGHTS
        ]
        mine = self.tablets[ward.ref]
        share = (0.45, 0.2, 0.35)  # the borrowed tablet records least
        tablets = []
        for i, demo in enumerate(mine):
            expected = budget * share[i % len(share)]
            days = max(1, min(DAYS, math.ceil(expected / VISITS_PER_DAY)))
            tablets.append(
                _Tablet(demo.device_id, _skew(rng), sorted(rng.sample(range(DAYS), days)))
            )
        houses = _Houses(ward, rng)
        result = WardLogs(ward, {})
        # Each tablet's walk: (tablet index, next time) advanced visit by visit.
        clocks = [self._start(t.days[0], rng) for t in tablets]
        day_index = [0] * len(tablets)
        left = budget
        while left > 0:
            i = rng.choices(range(len(tablets)), weights=share[: len(tablets)])[0]
            tablet = tablets[i]
            when = clocks[i]
            clocks[i], day_index[i] = self._advance(tablet, when, day_index[i], rng)
            house = houses.draw()
            priority = rng.random() < PRIORITY_SHARE
            household = self._household(ward, house, address(ward, house), rng)
            result.households += 1
            result.priority += priority
            tablet.records.append((when - timedelta(seconds=30), household))
            outcome = rng.choices(outcomes, weights=weights)[0]
            if priority and outcome == "refused":
                outcome = "installed"  # they were asked to install it first
            visit = self._visit(household, when, outcome, priority, rng)
            tablet.records.append((when, visit))
            left -= 1
            if outcome in ("not_home", "come_back") and left and rng.random() < REVISIT_SHARE:
                later = when + timedelta(hours=rng.randint(3, 30), minutes=rng.randint(0, 59))
                again = rng.choices(
                    [o for o, _ in REVISIT_WEIGHTS], weights=[w for _, w in REVISIT_WEIGHTS]
                )[0]
                tablet.records.append((later, self._visit(household, later, again, priority, rng)))
                left -= 1
                result.revisits += 1
            if left and len(tablets) > 1 and rng.random() < DUPLICATE_SHARE:
                j = rng.choice([k for k in range(len(tablets)) if k != i])
                other = tablets[j]
                at = FIRST_DAY + timedelta(days=rng.choice(other.days), hours=rng.uniform(8, 18))
                copy = self._household(
                    ward,
                    house,
                    written_otherwise(ward, house, rng),
                    rng,
                    head=household["data"]["head_name"],
                )
                copy["data"]["lat"] = household["data"]["lat"] + rng.uniform(-2e-4, 2e-4)
                copy["data"]["lon"] = household["data"]["lon"] + rng.uniform(-2e-4, 2e-4)
                other.records.append((at - timedelta(seconds=30), copy))
                outcome = "already_installed" if outcome == "installed" else outcome
                other.records.append((at, self._visit(copy, at, outcome, priority, rng)))
                left -= 1
                result.duplicates += 1
        result.visits = budget
        for tablet in tablets:
            self._afterthoughts(tablet, result, rng)
            result.logs[tablet.device_id] = self._numbered(tablet)
        return result

    @staticmethod
    def _start(day: int, rng: random.Random) -> datetime:
        return FIRST_DAY + timedelta(days=day, hours=7, minutes=rng.randint(15, 75))

    def _advance(
        self, tablet: _Tablet, when: datetime, day_index: int, rng: random.Random
    ) -> tuple[datetime, int]:
        """The time of the tablet's next visit: a few minutes later, after lunch, or on
        its next working day."""
        nxt = when + timedelta(minutes=rng.randint(5, 16), seconds=rng.randint(0, 59))
        if nxt.hour == 11 and nxt.minute >= 30:
            nxt = nxt.replace(hour=14, minute=rng.randint(0, 20))
        if nxt.hour >= 19:
            # Its next working day; once all are walked, round again (a long drive).
            day_index += 1
            nxt = self._start(tablet.days[day_index % len(tablet.days)], rng)
        return nxt, day_index

    @staticmethod
    def _household(
        ward: Ward, house: House, written: str, rng: random.Random, head: str | None = None
    ) -> dict[str, Any]:
        lat, lon = ward.centre
        phone = None
        if rng.random() < PHONE_SHARE:
            phone = f"0{rng.choice('3579')}{rng.randint(0, 99_999_999):08d}"
        return {
            "type": "household.upsert",
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "base_version": 0,
            "data": {
                "ward": ward.ref,
                "group": ward.group_ref(house.group),
                "address": written,
                "lat": round(lat + rng.uniform(-0.012, 0.012), 6),
                "lon": round(lon + rng.uniform(-0.012, 0.012), 6),
                "head_name": head or _name(rng),
                "phone": phone,
            },
        }

    @staticmethod
    def _visit(
        household: dict[str, Any],
        when: datetime,
        outcome: str,
        priority: bool,
        rng: random.Random,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "household_id": household["id"],
            "visited_at": "",  # the tablet's clock: set when numbered
            "outcome": outcome,
        }
        counts = _counts(outcome, priority, rng)
        if counts is not None:
            data.update(counts)
        spread = 0.004 if rng.random() < GPS_FAR_SHARE else 0.0002
        data["lat"] = round(household["data"]["lat"] + rng.uniform(-spread, spread), 6)
        data["lon"] = round(household["data"]["lon"] + rng.uniform(-spread, spread), 6)
        data["accuracy_m"] = rng.randint(4, 35)
        if outcome == "come_back":
            back = when + timedelta(hours=rng.randint(3, 28))
            data["come_back_at"] = back.replace(minute=0, second=0).isoformat()
        if priority:
            data["notes"] = "Hộ có người cách ly tại nhà"
        return {
            "type": "visit.create",
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "data": data,
        }

    @staticmethod
    def _afterthoughts(tablet: _Tablet, result: WardLogs, rng: random.Random) -> None:
        """A few visits corrected or voided by their tablet an hour or a day later."""
        later: list[tuple[datetime, dict[str, Any]]] = []
        for when, record in tablet.records:
            if record["type"] != "visit.create":
                continue
            roll = rng.random()
            if roll < VOID_SHARE:
                later.append(
                    (
                        when + timedelta(hours=rng.randint(1, 20)),
                        {
                            "type": "visit.void",
                            "id": record["id"],
                            "base_version": 1,
                            "data": {"reason": rng.choice(("Nhầm nhà", "Ghi trùng", "Nhập thử"))},
                        },
                    )
                )
                result.voids += 1
            elif roll < VOID_SHARE + UPDATE_SHARE and "adults" in record["data"]:
                later.append(
                    (
                        when + timedelta(hours=rng.randint(1, 20)),
                        {
                            "type": "visit.update",
                            "id": record["id"],
                            "base_version": 1,
                            "data": {"notes": "Tổ trưởng xác nhận lại số người lớn"},
                        },
                    )
                )
                result.updates += 1
        tablet.records.extend(later)

    @staticmethod
    def _numbered(tablet: _Tablet) -> list[dict[str, Any]]:
        """The tablet's records in the order it made them, numbered from 1, stamped with
        its own (possibly wrong) clock: visited_at and the HLC."""
        tablet.records.sort(key=lambda item: item[0])
        mutations = []
        last_ms, counter = -1, 0
        for number, (when, record) in enumerate(tablet.records, 1):
            shown = when + tablet.skew
            ms = int(shown.timestamp() * 1000)
            if ms <= last_ms:
                ms, counter = last_ms, counter + 1
            else:
                counter = 0
            last_ms = ms
            mutation = {
                "mutation_id": number,
                **record,
                "hlc": f"{ms}-{counter:04d}-{tablet.device_id}",
            }
            if record["type"] == "visit.create":
                mutation["data"] = {
                    **record["data"],
                    "visited_at": shown.isoformat(timespec="seconds"),
                }
            mutations.append(mutation)
        return mutations
