"""Extraction profiles from the command line (issue 9, defect 9): an exported profile loads back as the same
profile (rings, modality and description included), and a profile can be switched off and on without a new
version."""
import io

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from imaging.models import ExtractionProfile

pytestmark = pytest.mark.django_db

SMALL = {"setting": {"binWidth": 25, "label": 1}, "imageType": {"Original": {}},
         "featureClass": {"firstorder": ["Mean", "Energy"]}}


def run(*args):
    out = io.StringIO()
    call_command("load_extraction_profile", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def small_profile(tmp_path):
    params = tmp_path / "small.yaml"
    params.write_text(yaml.safe_dump(SMALL))
    run("ct-small", str(params), "--modality", "CT", "--ring", "0-6", "--ring", "6-12", "--description", "two rings")
    return ExtractionProfile.objects.get(name="ct-small")


def test_an_exported_profile_loads_back_unchanged_with_its_rings_and_modality(small_profile, tmp_path):
    exported = tmp_path / "exported.yaml"
    exported.write_text(run("ct-small", "--export"))
    document = yaml.safe_load(exported.read_text())
    assert document["radimmuno"] == {"modality": "CT", "rings_mm": [[0.0, 6.0], [6.0, 12.0]],
                                     "description": "two rings"}
    assert document["setting"]["binWidth"] == 25

    assert "Unchanged" in run("ct-small", str(exported))  # no flags: the file says it all
    assert ExtractionProfile.objects.filter(name="ct-small").count() == 1

    run("ct-small-copy", str(exported))
    copy = ExtractionProfile.objects.get(name="ct-small-copy")
    assert (copy.params_hash, copy.rings_mm, copy.modality, copy.description) == (
        small_profile.params_hash, small_profile.rings_mm, small_profile.modality, small_profile.description)


def test_flags_override_what_the_exported_file_says(small_profile, tmp_path):
    exported = tmp_path / "exported.yaml"
    exported.write_text(run("ct-small", "--export"))
    assert "Created" in run("ct-small", str(exported), "--ring", "0-3")
    latest = ExtractionProfile.objects.filter(name="ct-small").order_by("-version").first()
    assert (latest.version, latest.rings_mm, latest.modality) == (2, [[0.0, 3.0]], "CT")


def test_a_profile_is_deactivated_and_activated_without_a_new_version(small_profile):
    assert "deactivated" in run("ct-small", "--deactivate")
    small_profile.refresh_from_db()
    assert not small_profile.active
    assert "activated" in run("ct-small", "--activate")
    small_profile.refresh_from_db()
    assert small_profile.active
    assert ExtractionProfile.objects.filter(name="ct-small").count() == 1


def test_deactivating_an_unknown_profile_or_mixing_actions_is_refused():
    with pytest.raises(CommandError, match="No extraction profile named 'nope'"):
        run("nope", "--deactivate")
    with pytest.raises(CommandError, match="one of"):
        run("nope", "--deactivate", "--export")


def test_a_malformed_radimmuno_section_is_refused_with_the_reason(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**SMALL, "radimmuno": {"rings_mm": "wide"}}))
    with pytest.raises(CommandError, match="not a valid"):
        run("bad", str(bad))
    assert not ExtractionProfile.objects.filter(name="bad").exists()
