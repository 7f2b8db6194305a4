"""Models of the imaging app, one module per area; import them from here."""
from .assessment import (  # noqa: F401
    MAX_TARGETS,
    MAX_TARGETS_PER_ORGAN,
    MIN_TARGET_NODAL_MM,
    MIN_TARGET_NON_NODAL_MM,
    Lesion,
    LesionMeasurement,
    Timepoint,
)
from .dicom import (  # noqa: F401,E402
    IngestJob,
    Instance,
    QuarantinedFile,
    Segment,
    Segmentation,
    Series,
    Study,
)
from .radiomics import LESION_REGION, ExternalFeatureSet, ExtractionProfile, FeatureSet  # noqa: F401,E402
