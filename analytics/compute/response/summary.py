"""The part of an engine result that analyses read, stored beside the full result (``ResponseAssessment.summary``).

A survival analysis of 10,000 patients needs each result's progression and response blocks and each time point's
category, not its lesions and explanations (~16 KB of JSON per patient, which SQLite reads whole for any key).
The summary is derived from the result when it is stored, so the two never disagree.
"""

#: Result blocks copied whole: endpoints (PFS), response groups (BOR, DCB, pseudo- and hyperprogression).
SUMMARY_BLOCKS = ("recist_pfs", "irecist_pfs", "recist_bor", "irecist_ibor", "dcb", "pseudoprogression")
#: What each time point keeps.
TIMEPOINT_KEYS = ("date", "label", "kind", "recist_tpr", "irecist_tpr")


def result_summary(result):
    """``{block: ..., "hyperprogression_common": ..., "timepoints": [{date, label, kind, recist_tpr, irecist_tpr}]}``
    of an engine result (``{}`` for none)."""
    if not result:
        return {}
    summary = {block: result.get(block) for block in SUMMARY_BLOCKS}
    summary["hyperprogression_common"] = (result.get("hyperprogression") or {}).get("common")
    summary["timepoints"] = [{key: tp.get(key) for key in TIMEPOINT_KEYS} for tp in result.get("timepoints") or []]
    return summary
