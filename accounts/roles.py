"""The roles (Django groups) and what each may do; the sites they may do it at are the user's memberships.

``roles_sync`` makes the groups hold exactly these permissions; it runs after every ``migrate`` (post_migrate, once
every app's permissions exist), so a fresh database, an upgrade and a new model all end with the same roles.
"""
VIEW = "view"


def _perms(app, actions, *models):
    return [f"{app}.{action}_{model}" for model in models for action in actions]


CLINICAL_READ = [
    *_perms("patients", ["view"], "site", "patient", "treatmentregimen", "biomarker", "adverseevent", "outcome",
            "drug", "biomarkerkind", "careteammember"),
    *_perms("imaging", ["view"], "timepoint", "lesion", "lesionmeasurement", "study", "series", "segmentation",
            "segment", "featureset", "extractionprofile", "externalfeatureset"),
    *_perms("analytics", ["view"], "responseassessment", "timepointresponse", "alert", "deltafeature",
            "featurerobustness", "analysisrun"),
    "analytics.view_cohort",
]
RECORDING = [
    *_perms("imaging", ["add", "change"], "timepoint", "lesion", "lesionmeasurement"),
    "analytics.change_alert",  # acknowledge a worklist alert
    "analytics.add_analysisrun",
]
CURATION = [
    *_perms("patients", ["add", "change"], "patient", "treatmentregimen", "biomarker", "adverseevent", "outcome"),
    *_perms("patients", ["view", "add", "change"], "patientidentity"),
    "patients.view_importrun",
    *_perms("imaging", ["view", "add"], "ingestjob"),
    *_perms("imaging", ["view", "change"], "quarantinedfile", "segment", "featureset"),
    "imaging.delete_lesionmeasurement",
]
ROLES = {
    "clinician": CLINICAL_READ + RECORDING,
    "curator": CLINICAL_READ + RECORDING + CURATION,
    "researcher": ["analytics.view_cohort", "analytics.view_analysisrun", "analytics.add_analysisrun",
                   "analytics.view_featurerobustness", "imaging.view_extractionprofile",
                   "exports.view_datasetexport", "exports.add_datasetexport"],  # de-identified exports
    "site admin": CLINICAL_READ + _perms("accounts", ["view", "add", "change", "delete"], "sitemembership")
    + _perms("auth", ["view", "add", "change"], "user")
    + _perms("accounts", ["view", "change"], "apitoken"),  # revoke their sites' users' tokens
}
STAFF_ROLES = {"curator", "site admin"}  # the admin site is theirs (is_staff); a researcher never gets it


def role_permissions(Permission, names):
    """The Permission rows for "app.codename" names; raises LookupError naming any that does not exist."""
    wanted = {tuple(name.split(".", 1)) for name in names}
    found = {(p.content_type.app_label, p.codename): p for p in Permission.objects.select_related("content_type")
             .filter(codename__in={codename for _, codename in wanted})}
    missing = sorted(f"{app}.{codename}" for app, codename in wanted - found.keys())
    if missing:
        raise LookupError(f"Role permissions that do not exist: {', '.join(missing)}")
    return [found[key] for key in sorted(wanted)]


def roles_sync(*, Group=None, Permission=None):
    """Create the role groups and give each exactly its permissions. Returns {role: number of permissions}."""
    if Group is None:
        from django.contrib.auth.models import Group, Permission  # noqa: PLC0415 - also called from migrations
    counts = {}
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(role_permissions(Permission, perms))
        counts[name] = len(set(perms))
    return counts
