"""Survival analyses (no Django): endpoints, covariates, Kaplan–Meier, Cox, landmark and time-varying irAEs.

Entry points:

* :func:`validate_spec` - spec mapping -> normalised spec dict, or :class:`SpecError`;
* :func:`derive_endpoint` - records, endpoint -> (rows ``{patient_id, duration_days, event}``, excluded Counter);
* :func:`run` - spec, records -> the JSON-safe result dict (or :class:`SpecError` / :class:`AnalysisError`);
* :func:`km_plot_svg` / :func:`forest_plot_svg` - result -> SVG text.

The rules live next to the code that implements them: endpoints and exclusions in :mod:`.endpoints`,
covariate coding and cut groups in :mod:`.covariates`, the immortal-time refusal in :mod:`.spec`, landmark
and time-varying designs in :mod:`.run`, lifelines settings in :mod:`.fitting`.

Result (every float finite or ``None``; ``json.dumps(result, allow_nan=False)`` always works):

* all kinds: ``kind``, ``endpoint``, ``endpoint_label``, ``method`` (``km``/``cox``/``cox_tv``; a landmark
  analysis is ``km`` or ``cox``), ``n``, ``events``, ``excluded`` (reason -> count), ``warnings``,
  ``patient_ids`` (the analysed patients' pks, sorted), ``input_sha256`` (SHA-256 of the analysed table as canonical CSV, sorted by patient_id — and by start for
  ``cox_tv``), ``versions`` (lifelines, pandas, numpy), ``seed``, ``spec`` (normalised); landmark:
  ``landmark_days`` (times are then counted from the landmark);
* KM: ``group_by``, ``groups`` [{``group``, ``n``, ``events``, ``median``, ``median_lower``, ``median_upper``
  (``None``: not reached), ``survival`` [{``time``, ``s``, ``lower``, ``upper``}] at ``times`` (``None`` beyond
  the group's last follow-up), ``at_risk`` [{``time``, ``n``}] at 0 and ``times``, ``curve`` (the whole step
  function, same keys as ``survival``), ``censored`` (censoring times)}], ``logrank`` {``statistic``, ``df``,
  ``p``} (multivariate log-rank for > 2 groups; ``None`` for one group);
* Cox: ``terms`` [{``term``, ``coef``, ``se``, ``hr``, ``hr_lower``, ``hr_upper``, ``p``}], ``reference``
  (categorical covariate -> reference level), ``concordance``, ``ph_test`` [{``term``, ``statistic``, ``p``,
  ``violated``}], ``ties: "efron"``, ``log_likelihood``; ``cox_tv`` also ``n_intervals`` and ``exposed``
  (patients whose irAE switched the covariate on), with ``concordance`` ``None`` and ``ph_test`` empty.
"""
from .endpoints import ENDPOINT_LABELS, ENDPOINTS, derive_endpoint
from .model import AnalysisError, SpecError, SubjectRecord
from .spec import KINDS, RESPONSE_GROUPS, validate_spec

#: The fitting (lifelines, scipy) and the figures (matplotlib) load on first use: importing this package for its
#: spec checks and errors (the analyses' forms, the prediction selectors) must not load them.
_LAZY = {"run": ".runner", "km_plot_svg": ".plots", "forest_plot_svg": ".plots"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "SubjectRecord", "SpecError", "AnalysisError", "validate_spec", "derive_endpoint", "run", "km_plot_svg",
    "forest_plot_svg", "ENDPOINTS", "ENDPOINT_LABELS", "KINDS", "RESPONSE_GROUPS",
]
