"""Survival figures: SVG with the groups, the terms and a numbers-at-risk table."""
from datetime import date, timedelta

from analytics.compute.survival import SubjectRecord, forest_plot_svg, km_plot_svg, run
from analytics.compute.survival.plots import hr_axis

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


def test_hazard_ratio_axis_has_readable_ticks_however_narrow_the_intervals():
    # The demo's PD-L1 HR per point, 0.988 (0.981-0.995), once drew a log axis labelled only "1".
    for low, high in ((0.9812, 0.9954), (0.999, 1.0005), (0.3, 4.0), (0.001, 50.0), (1.2, 2.5)):
        left, right, ticks = hr_axis(low, high)
        assert left <= min(low, 1.0) and right >= max(high, 1.0)
        assert len(ticks) >= 3 and all(left <= t <= right for t in ticks) and 1 in ticks
    assert hr_axis(0.9812, 0.9954)[2] == [0.98, 0.99, 1]


def test_forest_plot_labels_the_ticks_of_a_narrow_axis():
    result = {"endpoint": "os", "terms": [{"term": "pdl1_tps", "hr": 0.9882, "hr_lower": 0.9812, "hr_upper": 0.9954,
                                           "p": 0.001}]}
    svg = forest_plot_svg(result)
    assert all(f">{label}</text>" in svg for label in ("0.98", "0.99", "1"))
    assert ">0.988 (0.981–0.995), p = 0.001</text>" in svg
