"""Site-scoped access (issue 15), proven by a matrix: every URL pattern and API route, enumerated from the resolver
(so a new route is covered the day it is added), requested by every role of site A and anonymously, with the ids
of site B's records: never a 200 that shows site B's data, never a 5xx. Lists and counts hold site A only. And the
one place that scopes (``accounts.access``) knows every model of patient data; every admin uses it."""
import datetime as dt
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from accounts.access import OWNER_PATHS, SITE_PATHS, scope
from accounts.admin_scope import SiteScopedAdmin
from django.contrib.auth import get_user_model

from accounts.models import ApiToken, SiteMembership
from accounts.roles import ROLES, roles_sync
from analytics.models import Alert, AnalysisRun, ResponseAssessment
from analytics.models import FeatureRobustness
from exports.models import DatasetExport, ExportProject
from imaging.models import ExternalFeatureSet, FeatureSet, IngestJob, Instance, QuarantinedFile, Segment, Series
from patients.models import CareTeamMember, DemoGroundTruth, ImportRun, Patient
from tests.analytics.builders import patient_with_scans
from tests.factories import (
    AdverseEventFactory,
    BiomarkerFactory,
    IdentityFactory,
    OutcomeFactory,
    SiteFactory,
    UserFactory,
)
from tests.imaging.test_api_filtersets import _segment, _series

FOREIGN = "ACCESS-B-1"  # site B's patient: must never appear in a site-A user's answer
OWN = "ACCESS-A-1"
NOT_PATIENT_DATA = {"accounts.apitoken", "exports.exportproject"}
EXTERNAL_APPS = {"admin", "auth", "contenttypes", "sessions", "messages", "staticfiles", "humanize", "rest_framework",
                 "django_filters", "drf_spectacular", "drf_spectacular_sidecar", "django_htmx", "simple_history",
                 "axes"}  # axes: login attempts (usernames, addresses), superusers' admin only


def test_every_model_of_patient_data_says_how_it_reaches_its_site():
    missing = []
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label in EXTERNAL_APPS or label.split(".")[1].startswith("historical"):
            continue
        if label not in SITE_PATHS and label not in OWNER_PATHS and label not in NOT_PATIENT_DATA:
            missing.append(label)
    assert missing == []


def test_every_admin_of_patient_data_is_site_scoped():
    unscoped = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        scoped = SITE_PATHS.get(label) is not None or label in OWNER_PATHS
        if scoped and not isinstance(model_admin, SiteScopedAdmin):
            unscoped.append(label)
        for inline in model_admin.inlines:
            inline_label = inline.model._meta.label_lower
            if (SITE_PATHS.get(inline_label) is not None or inline_label in OWNER_PATHS) and not issubclass(
                    inline, SiteScopedAdmin):
                unscoped.append(f"{label} inline {inline_label}")
    assert unscoped == []


def test_the_roles_hold_exactly_their_permissions(db):
    from django.contrib.auth.models import Group

    roles_sync()
    for name, perms in ROLES.items():
        held = {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=name).permissions.all()}
        assert held == set(perms), name
    assert not any(p.startswith("patients.view_patientidentity") for p in ROLES["researcher"] + ROLES["clinician"])


# -- the world: two sites, each with a patient and everything hanging off it --------------------------------------
def _site_world(code, study_id, owner):
    site = SiteFactory(code=code, name=f"Hospital {code}")
    patient, regimen, lesions, timepoints = patient_with_scans([(-5, 100), (56, 130)], start=dt.date.today()
                                                               - dt.timedelta(days=70), study_id=study_id)
    Patient.objects.filter(pk=patient.pk).update(site=site)
    series = _series(patient, 7000 + site.pk, modality="CT", volume_status="ok")
    series.study.timepoint = timepoints[0]
    series.study.save()
    segment = _segment(series, lesion=lesions[0], proposal_status="proposed")
    from imaging.models import ExtractionProfile  # noqa: PLC0415

    profile, _ = ExtractionProfile.objects.get_or_create(name="access", version=1, params={}, params_hash="a" * 64)
    feature_set = FeatureSet.objects.create(segment=segment, profile=profile, status="done", feature_count=1,
                                            features={"original_firstorder_Mean": 1.0})
    job = IngestJob.objects.create(source="upload", status="done", started_by=owner)
    run = AnalysisRun.objects.create(spec={"kind": "km", "endpoint": "os"}, kind="km", endpoint="os", created_by=owner)
    token, _ = ApiToken.objects.get_or_create(user=owner, name=f"access-{code}", defaults={
        "prefix": code[:8], "digest": code.ljust(64, "0"), "expires_at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)})
    BiomarkerFactory(patient=patient)
    AdverseEventFactory(patient=patient, regimen=regimen)
    OutcomeFactory(patient=patient)
    IdentityFactory(patient=patient)
    DemoGroundTruth.objects.create(patient=patient, pattern="access", parameters={}, seed=1)
    ImportRun.objects.create(kind=ImportRun.Kind.CLINICAL, filename=f"{code}.csv", sha256="0" * 64, status="done",
                             started_by=owner)
    Instance.objects.create(series=series, sop_instance_uid=f"1.2.826.0.3.{site.pk}", instance_number=1,
                            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                            file=f"i-{site.pk}.dcm", sha256=f"{site.pk:064x}", size_bytes=1)
    ExternalFeatureSet.objects.create(lesion=lesions[0], timepoint=timepoints[0], profile=profile, features={"x": 1.0})
    FeatureRobustness.objects.get_or_create(profile=profile)
    CareTeamMember.objects.create(patient=patient, user=owner)
    QuarantinedFile.objects.create(reason_code="unknown_patient", reason="no such MRN", file=f"q/{code}",
                                   sha256=f"{site.pk:064x}", size_bytes=1, source="upload")
    project, _ = ExportProject.objects.get_or_create(slug="access", defaults={"name": "access"})
    DatasetExport.objects.create(source="page", requested_by=owner, project=project, selection={"site": [code]})
    SiteMembership.objects.create(user=owner, site=site)
    return {"site": site, "patient": patient, "regimen": regimen, "lesion": lesions[0], "timepoint": timepoints[1],
            "series": series, "segment": segment, "feature_set": feature_set, "job": job, "run": run, "token": token,
            "owner": owner}


@pytest.fixture
def world(db, django_capture_on_commit_callbacks, settings):
    settings.RADIMMUNO_AUTO_EXTRACT = False
    roles_sync()
    owner_b = UserFactory(username="owner-b", role="clinician", sites=[])
    with django_capture_on_commit_callbacks(execute=True):
        b = _site_world("SITE-B", FOREIGN, owner_b)
        a = _site_world("SITE-A", OWN, UserFactory(username="owner-a", role="clinician", sites=[]))
    for side in (a, b):  # raised by the recomputation after commit
        side["assessment"] = ResponseAssessment.objects.get(patient=side["patient"])
        side["alert"] = Alert.objects.filter(patient=side["patient"]).first()
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog  # noqa: PLC0415

    seen = {"username": "owner-b", "ip_address": "127.0.0.1", "user_agent": "test", "http_accept": "*/*",
            "path_info": "/accounts/login/"}
    AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
    AccessFailureLog.objects.create(**seen)
    AccessLog.objects.create(**seen)
    users = {role: UserFactory(username=f"{role.replace(' ', '-')}-a", role=role, sites=[a["site"]],
                               is_staff=role in ("curator", "site admin")) for role in ROLES}
    return {"a": a, "b": b, "users": users}


# -- the URLs --------------------------------------------------------------------------------------------------------
def _patterns(resolver=None, namespace=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _patterns(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            if isinstance(pattern.pattern, RoutePattern):
                params = set(pattern.pattern.converters)
            else:
                regex = pattern.pattern.regex
                params = set(regex.groupindex) | {f"_{i}" for i in range(regex.groups - len(regex.groupindex))}
            yield f"{namespace}{pattern.name}", params, pattern


ROUTE_MODELS = [("api:analytics:model-score", AnalysisRun), ("patients:", Patient), ("imaging:ingest-job", IngestJob),
                ("imaging:series-", Series), ("analytics:worklist-acknowledge", Alert),
                ("analytics:analysis-run", AnalysisRun), ("accounts:api-token", ApiToken),
                ("exports:export", DatasetExport)]


def _model_of(name, pattern):
    """The model a URL's ``pk`` names."""
    for prefix, model in ROUTE_MODELS:
        if name.startswith(prefix):
            return model
    if str(pattern.pattern).startswith("patients/<int:pk>/"):  # the apps' patient panels
        return Patient
    if name.startswith("admin:"):
        match = re.match(r"admin:([a-z]+)_([a-z]+)_(change|delete|history|simple_history|password_change)$", name)
        return apps.get_model(match.group(1), match.group(2)) if match else None
    cls = getattr(pattern.callback, "cls", None)
    if cls is not None and name.startswith("api:"):
        for source in (getattr(cls, "queryset", None), getattr(cls, "serializer_class", None),
                       getattr(cls, "filterset_class", None)):
            model = getattr(source, "model", None) or getattr(getattr(source, "Meta", None), "model", None)
            if model is not None:
                return model
    return None


def _object_for(model, world):
    by_model = {Patient: "patient", Series: "series", IngestJob: "job", Alert: "alert", AnalysisRun: "run",
                ApiToken: "token", Segment: "segment", FeatureSet: "feature_set", ResponseAssessment: "assessment",
                get_user_model(): "owner"}
    if model in by_model:
        return world[by_model[model]]
    label = model._meta.label_lower
    path = SITE_PATHS.get(label)
    if path is None and label not in OWNER_PATHS:
        return model._default_manager.order_by("pk").first()  # not patient data: any row
    rows = model._default_manager.all()
    owner = OWNER_PATHS.get(label)
    if owner:
        return rows.filter(**{owner: world["owner"]}).order_by("pk").first()
    if path is not None:
        rows = rows.filter(**({path: world["site"]} if path else {"pk": world["site"].pk}))
    return rows.order_by("pk").first()


SKIP = {"admin:view_on_site", "admin:app_list", "admin:autocomplete", "api:imaging:series-slice", "logout",
        "api:api-root", "api:patients:api-root", "api:imaging:api-root", "api:analytics:api-root"}


def _urls(world, side):
    """(name, url) for every named pattern, with the ids of ``side``'s records."""
    data = world[side]
    out, unmapped = [], []
    for name, params, pattern in _patterns():
        if name in SKIP or "format" in params:
            continue
        if name.endswith("_simple_history"):  # admin/<app>/<model>/<pk>/history/<history id>/
            row = _object_for(_model_of(name, pattern), data)
            if row is None or not hasattr(row, "history"):
                unmapped.append(name)
                continue
            record = row.history.order_by("-history_id").first()
            if record is not None:  # vocabulary rows loaded by a data migration have no history
                out.append((name, reverse(name, args=[row.pk, record.history_id])))
            continue
        kwargs = {}
        for param in params:
            if param in ("pk", "object_id", "id"):
                model = _model_of(name, pattern)
                row = _object_for(model, data) if model is not None else None
                if row is None:
                    unmapped.append(name)
                    break
                kwargs[param] = row.pk
            elif param in ("lesion_pk", "timepoint_pk", "segment_pk"):
                kwargs[param] = data[param[:-3]].pk
            elif param == "z":
                kwargs[param] = 0
            elif param == "table":
                kwargs[param] = "patients"
            else:
                unmapped.append(f"{name} ({param})")
                break
        else:
            out.append((name, reverse(name, kwargs=kwargs)))
    return out, unmapped


def test_every_route_is_in_the_matrix(world):
    _, unmapped = _urls(world, "b")
    assert unmapped == [], "\n".join(unmapped)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_no_role_of_site_a_sees_site_b(world, client, role):
    client.force_login(world["users"][role])
    urls, _ = _urls(world, "b")
    leaks, errors = [], []
    for name, url in urls:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if response.status_code >= 500:
            errors.append((name, response.status_code))
        elif response.status_code == 200 and FOREIGN.encode() in body:
            leaks.append(name)
    assert errors == [], errors
    assert leaks == [], leaks


def test_anonymous_gets_nothing(world, client):
    open_pages = {"login", "admin:login", "api:token"}
    shown = []
    for name, url in _urls(world, "b")[0] + _urls(world, "a")[0]:
        if name in open_pages:
            continue
        response = client.get(url)
        if response.status_code == 200:
            shown.append(name)
        assert response.status_code < 500, name
    assert shown == []


def test_a_clinician_sees_their_site(world, client):
    client.force_login(world["users"]["clinician"])
    own = world["a"]["patient"]
    assert OWN in client.get("/patients/").content.decode()
    assert FOREIGN not in client.get("/patients/").content.decode()
    assert client.get(f"/patients/{own.pk}/").status_code == 200
    assert client.get(f"/patients/{world['b']['patient'].pk}/").status_code == 404
    api = client.get("/api/v1/patients/patients/").json()
    assert [row["study_id"] for row in api["results"]] == [OWN] and api["count"] == 1
    worklist = client.get("/analytics/worklist/").content.decode()
    assert OWN in worklist and FOREIGN not in worklist


def test_a_researcher_gets_analyses_never_patient_pages(world, client):
    client.force_login(world["users"]["researcher"])
    assert client.get(f"/patients/{world['a']['patient'].pk}/").status_code == 403
    assert client.get("/patients/").status_code == 403
    assert client.get("/api/v1/patients/patients/").status_code == 403
    assert client.get("/analytics/analyses/").status_code == 200
    assert client.get("/admin/").status_code == 302  # never the admin


def test_an_analysis_reads_only_the_authors_sites(world, client):
    from analytics.services import analysis_run_create

    run = analysis_run_create(spec={"kind": "km", "endpoint": "os"}, user=world["users"]["researcher"])
    assert run.spec["cohort"]["site"] == ["SITE-A"]
    with pytest.raises(Exception, match="your sites only"):
        analysis_run_create(spec={"kind": "km", "endpoint": "os", "cohort": {"site": ["SITE-B"]}},
                            user=world["users"]["researcher"])


def test_api_writes_cannot_reach_another_site(world):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(world["users"]["curator"])
    b = world["b"]
    refused = client.post("/api/v1/imaging/measurements/", {"lesion": b["lesion"].pk, "timepoint": b["timepoint"].pk,
                                                            "size_mm": "10"})
    assert refused.status_code == 400 and "lesion" in refused.json()
    assert b["lesion"].measurements.get(timepoint=b["timepoint"]).size_mm != Decimal("10")


def test_scope_is_the_one_filter(world):
    user = world["users"]["clinician"]
    assert list(scope(Patient.objects.all(), user).values_list("study_id", flat=True)) == [OWN]
    assert list(scope(Segment.objects.all(), user)) == [world["a"]["segment"]]
    assert list(scope(IngestJob.objects.all(), user)) == []  # not theirs
