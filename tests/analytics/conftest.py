"""Fixtures shared by the analytics tests."""
import datetime as dt
from decimal import Decimal

import pytest

from tests.factories import BiomarkerFactory, OutcomeFactory, PatientFactory, RegimenFactory, SiteFactory


@pytest.fixture
def cohort():
    """40 patients at site A: OS falls with PD-L1 TPS (deaths early at low TPS, late or none at high TPS)."""
    site = SiteFactory(code="A")
    start = dt.date(2022, 1, 1)
    for i in range(40):
        tps = (i * 37) % 100
        patient = PatientFactory(site=site, sex="M" if i % 2 else "F")
        RegimenFactory(patient=patient, start_date=start)
        BiomarkerFactory(patient=patient, value_numeric=Decimal(tps), measured_on=start - dt.timedelta(days=20))
        days = 60 + 8 * tps + (i % 7) * 20
        dies = i % 3 != 0
        end = start + dt.timedelta(days=days)
        OutcomeFactory(patient=patient, last_contact_date=end, vital_status="dead" if dies else "alive",
                       death_date=end if dies else None)
    return site
