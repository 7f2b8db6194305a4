"""File imports: the clinical import and the machinery every file import of the project shares.

The code lives in ``patients.importing`` (``reports``, ``files``, ``values``, ``runs``, ``clinical``); this module
names what the rest of the project uses: ``import_clinical`` and its ``COLUMNS``, and for the imaging imports
(``imaging.services.measurement_import``, ``feature_import``) ``run_import``, ``record_run``, ``Problem``,
``ImportReport``, ``RowError``, the value parsers, ``header_problems`` and ``ignored_redcap``.
"""
from .importing.clinical import (  # noqa: F401
    AE_COLUMNS,
    AE_FIELD_COLUMNS,
    BIOMARKER_COLUMNS,
    BIOMARKER_FIELD_COLUMNS,
    COLUMNS,
    IDENTITY_FIELD_COLUMNS,
    INSTRUMENTS,
    OUTCOME_FIELD_COLUMNS,
    PATIENT_COLUMNS,
    PATIENT_FIELD_COLUMNS,
    REDCAP_COLUMNS,
    REGIMEN_FIELD_COLUMNS,
    TREATMENT_COLUMNS,
    import_clinical,
)
from .importing.files import open_rows  # noqa: F401
from .importing.reports import (  # noqa: F401
    ImportFileError,
    ImportReport,
    Problem,
    RowError,
    RowValidationError,
    validation_problems,
)
from .importing.runs import (  # noqa: F401
    MAX_PROBLEMS,
    header_problems,
    ignored_redcap,
    max_import_bytes,
    record_run,
    run_import,
)
from .importing.values import (  # noqa: F401
    FALSE,
    IDENTIFYING,
    TRUE,
    parse_bool,
    parse_choice,
    parse_date,
    parse_decimal,
    parse_int,
    parse_optional_bool,
)
