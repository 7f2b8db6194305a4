"""Survival figures: SVG with the groups, the terms and a numbers-at-risk table."""
from datetime import date, timedelta

from analytics.compute.survival import SubjectRecord, forest_plot_svg, km_plot_svg, run

T0 = date(2021, 1, 4)


def records():
    out = []
    for i in range(90):
        group = ["never", "former", "current"][i % 3]
        end = 40 + (i * 53) % 700 + (200 if group == "never" else 0)
        out.append(SubjectRecord(i, T0, death_date=T0 + timedelta(days=end) if i % 4 else None,
                                 last_contact=T0 + timedelta(days=end),
                                 covariates={"smoking_status": group, "age_at_start": 40 + i % 35}))
    return out


def test_km_plot_has_groups_censor_ticks_and_risk_table():
    result = run({"kind": "km", "endpoint": "os", "group_by": "smoking_status"}, records())
    svg = km_plot_svg(result)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "Number at risk" in svg
    for group in result["groups"]:
        assert group["group"] in svg
        assert str(group["at_risk"][0]["n"]) in svg
    assert "censored" in svg and "log-rank p" in svg


def test_forest_plot_has_every_term():
    result = run({"kind": "cox", "endpoint": "os", "covariates": ["smoking_status", "age_at_start"]}, records())
    svg = forest_plot_svg(result)
    assert svg.startswith("<svg")
    for term in ("smoking_status[former]", "smoking_status[never]", "age_at_start"):
        assert term in svg
    assert "hazard ratio" in svg
