"""Reports comparing computed response patterns with the demo cohort's ground truth."""
from collections import Counter, defaultdict

from .models import ResponseAssessment
from .selectors import alert_flags

FLAGS = ("pseudoprogression", "pseudoprogression_candidate", "hyperprogression_alert", "dissociated_alert")


def pattern_confusion():
    """Rows: planted pattern; columns: flags, BOR and each published HPD / dissociated definition."""
    rows = defaultdict(Counter)
    definitions = set()
    assessments = ResponseAssessment.objects.filter(status="done", patient__demo_truth__isnull=False).select_related(
        "patient__demo_truth")
    for a in assessments:
        row = rows[a.patient.demo_truth.pattern]
        row["n"] += 1
        row["pseudoprogression"] += a.pseudoprogression
        row["pseudoprogression_candidate"] += a.pseudoprogression_candidate
        for flag, value in alert_flags(a).items():
            row[flag] += value
        for name in a.hyperprogression_definitions:
            row[f"hpd:{name}"] += 1
            definitions.add(f"hpd:{name}")
        for name in a.dissociated_definitions:
            row[f"dr:{name}"] += 1
            definitions.add(f"dr:{name}")
        row[f"BOR {a.recist_bor}"] += 1
        definitions.add(f"BOR {a.recist_bor}")
    columns = list(FLAGS) + sorted(definitions)
    table = [{"pattern": p, "n": c["n"], **{col: c[col] for col in columns}} for p, c in sorted(rows.items())]
    truth = {"pseudoprogression": "pseudoprogression", "hyperprogression_alert": "hyperprogression",
             "dissociated_alert": "dissociated_response"}
    summary = {}
    total = sum(r["n"] for r in table)
    for flag, pattern in truth.items():
        positives = sum(r["n"] for r in table if r["pattern"] == pattern)
        tp = sum(r[flag] for r in table if r["pattern"] == pattern)
        fp = sum(r[flag] for r in table if r["pattern"] != pattern)
        negatives = total - positives
        summary[flag] = {"tp": tp, "positives": positives, "tn": negatives - fp, "negatives": negatives,
                         "sensitivity": tp / positives if positives else 0.0,
                         "specificity": (negatives - fp) / negatives if negatives else 0.0}
    return {"columns": columns, "rows": table, "summary": summary}
