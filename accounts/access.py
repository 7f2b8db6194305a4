"""Who sees what: every queryset of patient data is narrowed to the user's sites here, in one place, by pages, the
API and the admin alike (issue 15).

A user belongs to sites through ``SiteMembership`` (a membership without a site is every site: a network-wide
coordinator, granted by a superuser); a superuser sees every site. What a user may *do* there is their role — a
Django group (``accounts.roles``) — checked with the usual permissions. ``SITE_PATHS`` names, for every model that
holds patient data, the lookup from it to its site; a model of patient data missing from it is an error, not an
unscoped list (``tests/test_access.py`` checks every model).
"""
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

from .models import SiteMembership

# model label -> lookup to its Site ("" for the Site itself); None: not patient data (vocabularies, profiles)
SITE_PATHS = {
    "patients.site": "",
    "accounts.sitemembership": "site",  # a site admin manages the memberships of their sites (never "every site")
    "patients.patient": "site",
    "patients.patientidentity": "patient__site",
    "patients.careteammember": "patient__site",
    "patients.treatmentregimen": "patient__site",
    "patients.biomarker": "patient__site",
    "patients.adverseevent": "patient__site",
    "patients.outcome": "patient__site",
    "patients.demogroundtruth": "patient__site",
    "patients.drug": None,
    "patients.biomarkerkind": None,
    "imaging.timepoint": "patient__site",
    "imaging.lesion": "patient__site",
    "imaging.lesionmeasurement": "lesion__patient__site",
    "imaging.study": "patient__site",
    "imaging.series": "study__patient__site",
    "imaging.instance": "series__study__patient__site",
    "imaging.segmentation": "image_series__study__patient__site",
    "imaging.segment": "segmentation__image_series__study__patient__site",
    "imaging.featureset": "segment__segmentation__image_series__study__patient__site",
    "imaging.externalfeatureset": "lesion__patient__site",
    "imaging.extractionprofile": None,
    # A quarantined file matched no patient, so no site: curators of any site see them (their role's permission
    # gates it) to resolve them; docs/imaging.md says so.
    "imaging.quarantinedfile": None,
    "analytics.responseassessment": "patient__site",
    "analytics.timepointresponse": "assessment__patient__site",
    "analytics.alert": "patient__site",
    "analytics.deltafeature": "patient__site",
    "analytics.deltarefresh": "patient__site",
    "analytics.featurerobustness": None,  # ICCs per profile over many lesions: no patient in it
}
# Rows that belong to the person who started them (they name no site, or several): a user sees their own, a
# superuser all.
OWNER_PATHS = {
    "imaging.ingestjob": "started_by",
    "patients.importrun": "started_by",
    "analytics.analysisrun": "created_by",
    "exports.datasetexport": "requested_by",
}
# ... of which a network-wide (every-site) member sees everyone's: analyses draw on every site's patients.
NETWORK_SEES_ALL = {"analytics.analysisrun"}
_CACHE = "_radimmuno_site_ids"


def site_ids(user):
    """The pks of the sites ``user`` may see, or None for every site (a superuser, or a membership without a site).
    Cached on the user object: one query per request."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return None
    if not hasattr(user, _CACHE):
        rows = list(SiteMembership.objects.filter(user=user).values_list("site_id", flat=True))
        setattr(user, _CACHE, None if None in rows else frozenset(rows))
    return getattr(user, _CACHE)


def site_path(model):
    label = model._meta.label_lower
    if label not in SITE_PATHS and label not in OWNER_PATHS:
        raise ImproperlyConfigured(f"accounts.access.SITE_PATHS does not say how {label} reaches its site.")
    return SITE_PATHS.get(label)


def site_q(model, user):
    """A Q keeping the rows of ``model`` the user may see: at their sites (Q() for every site); their own for the
    models of OWNER_PATHS; any row of a model that is not patient data, for any logged-in user."""
    path = site_path(model)
    ids = site_ids(user)
    if user is None or not user.is_authenticated:
        return Q(pk__in=[])
    label = model._meta.label_lower
    owner = OWNER_PATHS.get(label)
    if owner:
        everyone = user.is_superuser or (ids is None and label in NETWORK_SEES_ALL)
        return Q() if everyone else Q(**{owner: user})
    if path is None or ids is None:
        return Q()
    return Q(**{f"{path}__in" if path else "pk__in": ids})


def managed_users_q(user, *, prefix=""):
    """A Q keeping the accounts a site admin manages: members of one of their sites, never a superuser; for a
    superuser every account, for an every-site member every account but superusers'. ``prefix`` is the lookup from
    the queried model to the user ("user__" for API tokens: the tokens a site admin may revoke)."""
    if user is None or not user.is_authenticated:
        return Q(pk__in=[])
    if user.is_superuser:
        return Q()
    not_superuser = ~Q(**{f"{prefix}is_superuser": True})
    ids = site_ids(user)
    if ids is None:
        return not_superuser
    members = SiteMembership.objects.filter(site__in=ids).values("user_id")
    return Q(**{f"{prefix}pk__in": members}) & not_superuser


def scope(queryset, user):
    """``queryset`` narrowed to the rows at ``user``'s sites: every read of patient data goes through this."""
    return queryset.filter(site_q(queryset.model, user))


def can_see_site(user, site):
    ids = site_ids(user)
    return ids is None or (site is not None and site.pk in ids)
