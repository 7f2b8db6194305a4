"""The SDTM TU, TR and RS files validate against the documented SDTMIG v3.4 variable lists (exports.compute.sdtm):
variables present in order, Req values present, types, controlled terms; and they link up as SDTM expects."""
from decimal import Decimal

import pytest

from exports.compute import sdtm
from tests.exports.helpers import export, read_parquet

pytestmark = pytest.mark.django_db


@pytest.fixture
def sdtm_export(identified_cohort, project, tmp_path):
    return export(tmp_path, "out", "--format", "parquet", "--sdtm", "--project", project.slug)


def test_the_domains_validate_against_the_variable_lists(sdtm_export):
    for domain, name in sdtm.TABLE_NAMES.items():
        rows = read_parquet(sdtm_export / f"{name}.parquet")
        assert rows, domain
        columns = list(rows[0])
        assert columns == [v.name for v in sdtm.DOMAINS[domain]]
        required = [v.name for v in sdtm.DOMAINS[domain] if v.core in ("Req", "Exp")]
        assert set(required) <= set(columns)
        assert sdtm.validate(domain, columns, [list(r.values()) for r in rows]) == [], domain
        assert {r["STUDYID"] for r in rows} == {"LUNG-2026"} and {r["DOMAIN"] for r in rows} == {domain}
        assert all(r[f"{domain}DTC"] is None for r in rows)  # dates are de-identified: present, always empty


def test_the_domains_link_up(sdtm_export):
    tu = read_parquet(sdtm_export / "sdtm_tu.parquet")
    tr = read_parquet(sdtm_export / "sdtm_tr.parquet")
    rs = read_parquet(sdtm_export / "sdtm_rs.parquet")
    lesions = {(r["USUBJID"], r["TULNKID"]) for r in tu}
    assert {(r["USUBJID"], r["TRLNKID"]) for r in tr if r["TRLNKID"]} <= lesions
    groups = {(r["USUBJID"], r["TRLNKGRP"]) for r in tr}
    assert {(r["USUBJID"], r["RSLNKGRP"]) for r in rs} <= groups
    assert {r["TUORRES"] for r in tu} == {"TARGET", "NEW"}
    assert {r["RSCAT"] for r in rs} == {"RECIST 1.1", "iRECIST"}
    for r in rs:
        assert r["RSORRES"] in sdtm.CATEGORY_RESPONSES[r["RSCAT"]]
        assert r["RSDY"] >= 1  # follow-ups: study day 1 is the first ICI dose


def test_the_records_carry_the_measurements(sdtm_export):
    tr = read_parquet(sdtm_export / "sdtm_tr.parquet")
    sums = [r for r in tr if r["TRTESTCD"] == "SUMDIAM"]
    diameters = [r for r in tr if r["TRTESTCD"] == "LDIAM"]
    by_visit = {}
    for r in diameters:
        if r["TRGRPID"] == "TARGET":
            by_visit.setdefault((r["USUBJID"], r["VISITNUM"]), []).append(Decimal(r["TRORRES"]))
    for s in sums:  # the engine's sum of the target diameters, at baseline and follow-up
        assert Decimal(s["TRORRES"]) == sum(by_visit[(s["USUBJID"], s["VISITNUM"])])
        assert s["TRSTRESN"] == float(s["TRORRES"]) and s["TRORRESU"] == s["TRSTRESU"] == "mm"
    assert any(r["VISIT"] == "BASELINE" for r in sums)
    new = [r for r in tr if r["TRGRPID"] == "NEW"]
    assert {r["TRTESTCD"] for r in new} == {"LDIAM", "TUMSTATE"}
    assert {r["TRORRES"] for r in new if r["TRTESTCD"] == "TUMSTATE"} == {"UNEQUIVOCAL"}
    assert {r["TRDY"] for r in tr if r["VISIT"] == "BASELINE"} <= {-5, -4, -3}  # day -5 is study day -5


def test_validate_reports_what_is_wrong():
    columns = [v.name for v in sdtm.DOMAINS["RS"]]
    good = ["S", "RS", "S-P1", 1, "R1", "A2", "OVRLRESP", "Overall Response", "RECIST 1.1", "PR", "PR", None, 2,
            "FOLLOW-UP 1", None, 57]
    assert sdtm.validate("RS", columns, [good]) == []
    wrong = list(good)
    wrong[9] = wrong[10] = "iPR"  # an iRECIST response under RSCAT RECIST 1.1
    wrong[3] = "1"                # RSSEQ as text
    problems = sdtm.validate("RS", columns, [wrong, good])
    assert any("is not a RECIST 1.1 response" in p for p in problems)
    assert any("RSSEQ: '1' is not a number" in p for p in problems)
    missing = list(good)
    missing[2] = None
    assert any("USUBJID: required, missing" in p for p in sdtm.validate("RS", columns, [missing]))
    assert any("repeats" in p for p in sdtm.validate("RS", columns, [good, good]))
    assert sdtm.validate("RS", columns[:-1], [good[:-1]])  # a variable missing
