"""Endpoint derivation, case by case (analytics/compute/survival/endpoints.py)."""
from datetime import date, timedelta

import pytest

from analytics.compute.survival import SubjectRecord, derive_endpoint
from analytics.compute.survival.endpoints import (MISSED_ASSESSMENT_WINDOW_DAYS, NO_ASSESSMENT, NO_OUTCOME,
                                                  NO_TIME_ZERO, NOT_AFTER_TIME_ZERO)

T0 = date(2021, 3, 1)


def day(n):
    return T0 + timedelta(days=n)


def one(endpoint, **fields):
    fields.setdefault("time_zero", T0)
    rows, excluded = derive_endpoint([SubjectRecord(patient_id=7, **fields)], endpoint)
    if rows:
        assert not excluded
        return rows[0]["duration_days"], rows[0]["event"]
    (reason, count), = excluded.items()
    assert count == 1
    return reason


def test_os_death_is_an_event():
    assert one("os", death_date=day(300), last_contact=day(290)) == (300, 1)


def test_os_alive_is_censored_at_last_contact():
    assert one("os", last_contact=day(410)) == (410, 0)


def test_pfs_progression_is_the_event_even_if_death_follows():
    assert one("pfs_recist", progression_recist=day(120), death_date=day(200), last_adequate_assessment=day(120),
               assessed=True) == (120, 1)


def test_pfs_death_before_progression_is_the_event():
    assert one("pfs_recist", progression_recist=None, death_date=day(150), last_adequate_assessment=day(112),
               last_contact=day(140), assessed=True) == (150, 1)


def test_pfs_without_event_is_censored_at_last_adequate_assessment_not_last_contact():
    assert one("pfs_recist", last_contact=day(500), last_adequate_assessment=day(336), assessed=True) == (336, 0)


def test_pfs_death_after_two_missed_assessments_is_censored_at_last_adequate_assessment():
    late = 56 + MISSED_ASSESSMENT_WINDOW_DAYS + 1
    assert one("pfs_recist", death_date=day(late), last_adequate_assessment=day(56), assessed=True) == (56, 0)
    # exactly at the window the death still counts
    edge = 56 + MISSED_ASSESSMENT_WINDOW_DAYS
    assert one("pfs_recist", death_date=day(edge), last_adequate_assessment=day(56), assessed=True) == (edge, 1)


def test_pfs_early_death_without_any_adequate_assessment_is_an_event():
    assert one("pfs_recist", death_date=day(30), last_adequate_assessment=None, assessed=True) == (30, 1)
    # ... but with no assessment at all and a late death, PFS is censored at time zero -> excluded
    assert one("pfs_recist", death_date=day(400), last_adequate_assessment=None, assessed=True) == NOT_AFTER_TIME_ZERO


def test_ipfs_uses_the_irecist_dates_icpd_dated_at_iupd():
    # RECIST 1.1 PD (= the first iUPD) at day 84; the iUPD is confirmed (iCPD) at day 140: iPFS is dated at the
    # iUPD it confirms, so both PFS and iPFS are 84 days here.
    record = {"progression_recist": day(84), "progression_irecist": day(84), "last_adequate_assessment": day(84),
              "last_adequate_assessment_irecist": day(140), "last_contact": day(300), "assessed": True}
    assert one("pfs_recist", **record) == (84, 1)
    assert one("ipfs_irecist", **record) == (84, 1)


def test_ipfs_pseudoprogression_is_not_an_event():
    # RECIST PD at day 84, never confirmed under iRECIST (pseudoprogression): iPFS censored at the last iRECIST scan
    record = {"progression_recist": day(84), "progression_irecist": None, "last_adequate_assessment": day(84),
              "last_adequate_assessment_irecist": day(252), "last_contact": day(300), "assessed": True}
    assert one("pfs_recist", **record) == (84, 1)
    assert one("ipfs_irecist", **record) == (252, 0)


def test_ttf_regimen_end_for_any_reason_or_death():
    assert one("ttf", regimen_end=day(90), regimen_end_reason="toxicity", last_contact=day(400)) == (90, 1)
    assert one("ttf", regimen_end=day(200), regimen_end_reason="completed", last_contact=day(400)) == (200, 1)
    assert one("ttf", regimen_end=None, death_date=day(150), last_contact=day(140)) == (150, 1)
    assert one("ttf", regimen_end=day(160), death_date=day(150)) == (150, 1)


def test_ttf_ongoing_is_censored_at_last_contact():
    assert one("ttf", regimen_end=None, last_contact=day(365)) == (365, 0)


@pytest.mark.parametrize("endpoint", ["os", "pfs_recist", "ipfs_irecist", "ttf"])
def test_no_time_zero_is_excluded(endpoint):
    assert one(endpoint, time_zero=None, death_date=day(10), assessed=True) == NO_TIME_ZERO


@pytest.mark.parametrize("endpoint", ["os", "pfs_recist", "ipfs_irecist", "ttf"])
def test_missing_outcome_is_excluded(endpoint):
    assert one(endpoint, regimen_end=day(50), last_adequate_assessment=day(40), assessed=True) == NO_OUTCOME


@pytest.mark.parametrize("endpoint", ["pfs_recist", "ipfs_irecist"])
def test_pfs_without_assessment_is_excluded(endpoint):
    assert one(endpoint, death_date=day(100), assessed=False) == NO_ASSESSMENT


def test_event_on_or_before_time_zero_is_excluded():
    assert one("os", death_date=T0) == NOT_AFTER_TIME_ZERO
    assert one("os", last_contact=day(-3)) == NOT_AFTER_TIME_ZERO


def test_rows_are_sorted_and_exclusions_counted():
    records = [SubjectRecord(3, T0, last_contact=day(10)), SubjectRecord(1, T0, death_date=day(5)),
               SubjectRecord(2, None), SubjectRecord(4, None), SubjectRecord(5, T0)]
    rows, excluded = derive_endpoint(records, "os")
    assert rows == [{"patient_id": 1, "duration_days": 5, "event": 1},
                    {"patient_id": 3, "duration_days": 10, "event": 0}]
    assert excluded == {NO_TIME_ZERO: 2, NO_OUTCOME: 1}


def test_unknown_endpoint():
    with pytest.raises(ValueError, match="unknown endpoint"):
        derive_endpoint([], "dfs")
