"""The robustness table over the API: list (without the per-feature table) and detail (with it), by profile."""
import pytest

from analytics.models import FeatureRobustness
from imaging.models import ExtractionProfile

pytestmark = pytest.mark.django_db
URL = "/api/v1/analytics/feature-robustness/"


def test_list_and_detail_by_profile(client_logged_in, django_assert_max_num_queries):
    profile = ExtractionProfile.objects.get(name="ct-default", version=1)
    row = FeatureRobustness.objects.create(
        profile=profile, perturbations=["original", "erode", "dilate"], status="done", n_lesions=12, n_patients=3,
        n_features=2, n_robust=1, features={"original_shape_VoxelVolume": {"icc": 0.99, "ci_lower": 0.97,
                                                                           "ci_upper": 1.0, "robust": True, "n": 12},
                                             "original_glcm_Idmn": {"icc": 0.41, "ci_lower": 0.1, "ci_upper": 0.7,
                                                                    "robust": False, "n": 12}})
    with django_assert_max_num_queries(7):  # + the role's permissions and the user's sites (accounts.access), once per request
        listing = client_logged_in.get(URL, {"profile": "ct-default", "profile_version": 1}).json()
    (item,) = listing["results"]
    assert item["profile"] == "ct-default@v1" and item["n_robust"] == 1 and "features" not in item
    detail = client_logged_in.get(f"{URL}{row.pk}/").json()
    assert detail["features"]["original_glcm_Idmn"]["robust"] is False and detail["n_lesions"] == 12
    assert client_logged_in.get(URL, {"profile": "mr-default"}).json()["results"] == []
