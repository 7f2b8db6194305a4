"""factory_boy factories for every model the tests build."""
import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.models import SiteMembership
from accounts.roles import roles_sync

from imaging.models import Lesion, LesionMeasurement, Timepoint
from patients.models import (
    AdverseEvent,
    Biomarker,
    BiomarkerKind,
    Drug,
    Outcome,
    Patient,
    PatientIdentity,
    Site,
    TreatmentRegimen,
)


class UserFactory(factory.django.DjangoModelFactory):
    """A user with a role (``role="clinician"`` by default; ``role=""`` for none) at ``sites`` (by default every
    site: a network-wide member; ``sites=[site, ...]`` for some, ``sites=[]`` for none)."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        name = "clinician" if extracted is None else extracted
        if not create or not name:
            return
        group = Group.objects.filter(name=name).first()
        if group is None:  # a transactional test flushed the groups the migration made
            roles_sync()
            group = Group.objects.get(name=name)
        obj.groups.add(group)

    @factory.post_generation
    def sites(obj, create, extracted, **kwargs):
        if not create:
            return
        for site in ([None] if extracted is None else extracted):
            SiteMembership.objects.get_or_create(user=obj, site=site)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"SITE{n}")
    name = factory.LazyAttribute(lambda o: f"Hospital {o.code}")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    site = factory.SubFactory(SiteFactory)
    study_id = factory.Sequence(lambda n: f"PT-{n:04d}")
    sex = "F"
    year_of_birth = 1960
    tumour_type = "nsclc"
    diagnosis_date = dt.date(2023, 1, 10)
    ecog_baseline = 1


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientIdentity

    patient = factory.SubFactory(PatientFactory)
    family_name = "Testperson"
    given_name = "Alex"
    mrn = factory.Sequence(lambda n: f"MRN{n:07d}")
    date_of_birth = dt.date(1960, 5, 17)


def drug(name):
    return Drug.objects.get(name=name)


class RegimenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TreatmentRegimen
        skip_postgeneration_save = True

    patient = factory.SubFactory(PatientFactory)
    line_of_therapy = 1
    start_date = dt.date(2023, 2, 1)

    @factory.post_generation
    def agents(self, create, extracted, **kwargs):
        if create:
            self.agents.set([drug(n) for n in (extracted or ["pembrolizumab"])])


class BiomarkerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Biomarker

    patient = factory.SubFactory(PatientFactory)
    kind = factory.LazyFunction(lambda: BiomarkerKind.objects.get(code="pdl1_tps"))
    value_numeric = Decimal("50")
    measured_on = dt.date(2023, 1, 20)
    specimen = "tissue"


class AdverseEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdverseEvent

    patient = factory.SubFactory(PatientFactory)
    term = "colitis"
    grade = 2
    onset_date = dt.date(2023, 4, 1)


class OutcomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Outcome

    patient = factory.SubFactory(PatientFactory)
    last_contact_date = dt.date(2024, 1, 1)


class TimepointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Timepoint

    patient = factory.SubFactory(PatientFactory)
    date = factory.Sequence(lambda n: dt.date(2023, 1, 25) + dt.timedelta(days=56 * n))
    kind = "follow-up"


class LesionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lesion

    patient = factory.SubFactory(PatientFactory)
    label = factory.Sequence(lambda n: f"L{n}")
    organ = "lung"
    role = "target"


class MeasurementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LesionMeasurement

    lesion = factory.SubFactory(LesionFactory)
    timepoint = factory.SubFactory(TimepointFactory, patient=factory.SelfAttribute("..lesion.patient"))
    size_mm = Decimal("20")
    status = "present"
