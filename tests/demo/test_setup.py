"""``demo_setup`` (what ``make run`` runs): seed, the login line, then the demo radiomics out of the way."""
import io
import os
import time

import pytest

from demo.services.clinic import CLINIC
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from demo.services import demo_radiomics_log_path
from demo.services.radiomics import _pid_path
from imaging.models import FeatureSet
from patients.models import Patient
from tests.demo.test_imaging import small_profile  # noqa: F401 - fixture
from tests.worker import database_url


def setup(**options):
    out = io.StringIO()
    call_command("demo_setup", patients=4, imaging_patients=1, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


@pytest.mark.django_db
def test_refused_outside_local_development(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="local development"):
        setup(radiomics="later")
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_seeds_once_and_prints_the_login_before_the_radiomics_are_extracted(debug, small_profile):  # noqa: F811
    text = setup(radiomics="later")
    assert Patient.objects.count() == 4 + len(CLINIC)  # the cohort, and the patients in the clinic today
    user = get_user_model().objects.get(username="demo")
    assert user.is_superuser and user.check_password("radimmuno-demo")
    pending = FeatureSet.objects.filter(status="pending").count()
    assert pending and pending == FeatureSet.objects.count()  # nothing extracted before the login line
    assert text.index("Demo login") < text.index(f"Demo radiomics: {pending} feature sets pending")
    assert "extract_features --missing-only" in text
    again = setup(radiomics="later")  # a second `make run`: no new cohort, the same login
    assert Patient.objects.count() == 4 + len(CLINIC) and "seeding" not in again and "Demo login" in again


@pytest.mark.django_db
def test_the_patients_in_the_clinic_today_give_the_worklist_its_work(debug, small_profile,  # noqa: F811
                                                                    django_capture_on_commit_callbacks):
    from analytics.selectors import worklist_counts

    with django_capture_on_commit_callbacks(execute=True):  # as in `make run`: each recording commits
        text = setup(radiomics="later")
    assert "patients in the clinic today" in text
    assert worklist_counts() == {"to-read": 2, "confirmations": 1, "overdue": 1, "hyperprogression": 1,
                                 "dissociated": 0, "irae": 1}


@pytest.mark.django_db
def test_an_extraction_still_running_is_not_started_twice(debug, small_profile):  # noqa: F811
    setup(radiomics="later")
    _pid_path().parent.mkdir(parents=True, exist_ok=True)
    _pid_path().write_text(str(os.getpid()))  # a live process holds the pid file
    try:
        text = setup(radiomics="background")
    finally:
        _pid_path().unlink()
    assert f"still being extracted by process {os.getpid()}" in text
    assert set(FeatureSet.objects.values_list("status", flat=True)) == {"pending"}


@pytest.mark.django_db(transaction=True)
def test_background_extraction_runs_after_the_login_line_and_logs_its_progress(
        debug, small_profile, vocabularies, monkeypatch, settings):  # noqa: F811
    # the background process is `manage.py extract_features`: point it at this test's database and media root
    monkeypatch.setenv("DATABASE_URL", database_url())
    monkeypatch.setenv("RADIMMUNO_TEST_MEDIA_ROOT", str(settings.MEDIA_ROOT))
    demo_radiomics_log_path().unlink(missing_ok=True)
    started = time.monotonic()
    text = setup()
    assert time.monotonic() - started < 60
    assert "Demo login" in text and "extracting in a background process" in text
    assert text.index("Demo login") < text.index("Demo radiomics:")
    pid = int(_pid_path().read_text())
    deadline = time.monotonic() + 180
    while FeatureSet.objects.exclude(status__in=["done", "failed"]).exists():
        assert time.monotonic() < deadline, demo_radiomics_log_path().read_text()[-3000:]
        time.sleep(0.5)
    try:
        os.waitpid(pid, 0)  # reap it (it is this process's child)
    except ChildProcessError:
        pass
    assert FeatureSet.objects.filter(status="done").exists()
    log = demo_radiomics_log_path().read_text()
    assert "demo_setup: extracting" in log and "feature sets done" in log, log[-3000:]
