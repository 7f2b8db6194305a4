"""Default pyradiomics parameter sets per imaging modality.

These are starting points for a longitudinal immunotherapy cohort, where the same lesion is measured on many scans
from different scanners and the features must stay comparable over time. Every set validates with
:func:`~imaging.compute.radiomics.params.validate_params`; call :func:`default_params` to get a fresh copy you may
modify. Persist the parameter set (or its hash, :func:`~imaging.compute.radiomics.params.params_hash`) with every
stored feature value -- changing any of these numbers changes the features.

References
----------
- van Griethuysen JJM et al. Computational radiomics system to decode the radiographic phenotype. Cancer Res
  2017;77:e104-7 (pyradiomics; its ``examples/exampleSettings/exampleCT.yaml`` and ``exampleMR_3mm.yaml`` are the
  origin of several values below).
- Zwanenburg A et al. The Image Biomarker Standardization Initiative. Radiology 2020;295:328-38 (IBSI).
- Leijenaar RTH et al. The effect of SUV discretization in quantitative FDG-PET radiomics: the need for standardized
  methodology in tumor texture analysis. Sci Rep 2015;5:11075 (fixed bin *width* for SUV).
- Duron L et al. Gray-level discretization impacts reproducible MRI radiomics texture features. PLoS One
  2019;14:e0213459 (fixed bin *number* is the more reproducible choice for MRI's arbitrary intensity units).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["CT_PARAMS", "MR_PARAMS", "PET_PARAMS", "default_params", "MODALITY_ALIASES"]

# Shape descriptors without the deprecated, redundant Compactness1/2 and SphericalDisproportion (all functions of
# Sphericity). Listing them explicitly also pins the set if pyradiomics adds features.
_SHAPE_FEATURES = [
    "MeshVolume", "VoxelVolume", "SurfaceArea", "SurfaceVolumeRatio", "Sphericity",
    "Maximum3DDiameter", "Maximum2DDiameterSlice", "Maximum2DDiameterColumn", "Maximum2DDiameterRow",
    "MajorAxisLength", "MinorAxisLength", "LeastAxisLength", "Elongation", "Flatness",
]

# All texture classes with all their (non-deprecated) features. An empty list means "all" to pyradiomics.
_ALL_INTENSITY_CLASSES = {name: [] for name in ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")}


CT_PARAMS: dict[str, Any] = {
    "setting": {
        # CT intensities are calibrated Hounsfield units, comparable across scanners: no normalisation.
        "normalize": False,
        # Voxel sizes differ between scans of the same patient (slice thickness 0.6-5 mm). Resampling to isotropic
        # 1 mm makes texture (which counts neighbouring voxels) and the LoG sigmas (in mm) mean the same thing on
        # every scan. B-spline for the image; pyradiomics always uses nearest neighbour for the mask.
        "resampledPixelSpacing": [1, 1, 1],
        "interpolator": "sitkBSpline",
        # Margin (in resampled voxels, i.e. mm here) kept around the lesion for the filters. The largest LoG sigma is
        # 5 mm; 10 mm follows pyradiomics' CT example ("if you include sigma values > 5, increase padDistance").
        "padDistance": 10,
        # Filter only the lesion's neighbourhood, never the whole volume (same numbers as stock preCrop).
        "preCrop": True,
        # Fixed bin width of 25 HU: bins keep the same HU meaning across patients and time points (IBSI, fixed bin
        # size), giving ~16-128 bins for the ~400-3000 HU range found inside typical solid lesions.
        "binWidth": 25,
        # Air is -1000 HU; shifting firstorder's Energy/TotalEnergy/RMS by +1000 keeps values non-negative before
        # squaring (pyradiomics CT example).
        "voxelArrayShift": 1000,
        # Reject degenerate segmentations (a line or a handful of voxels) instead of producing meaningless texture.
        "minimumROIDimensions": 2,
        "minimumROISize": 10,
        "label": 1,
        # Laplacian of Gaussian widths (mm): fine (1 mm) to coarse (5 mm) texture.
        "sigma": [1.0, 2.0, 3.0, 4.0, 5.0],
    },
    "imageType": {
        "Original": {},
        "LoG": {},
        # Single-level undecimated coif1 wavelet, 8 decompositions (pyradiomics default wavelet).
        "Wavelet": {},
    },
    "featureClass": {"shape": list(_SHAPE_FEATURES), **copy.deepcopy(_ALL_INTENSITY_CLASSES)},
}


MR_PARAMS: dict[str, Any] = {
    "setting": {
        # MR signal has arbitrary units that vary with scanner, coil and protocol: z-score the whole image
        # (pyradiomics normalize), scaled by 100 so first-order values keep a useful numeric range, with intensities
        # beyond 3 SD clipped so a few hot voxels (flow, fat) do not compress the rest.
        "normalize": True,
        "normalizeScale": 100,
        "removeOutliers": 3,
        # Typical MR slice thickness is 3-5 mm with ~1 mm in-plane: 2 mm isotropic is a compromise that neither
        # invents much through-plane detail nor discards in-plane detail (pyradiomics exampleMR_3mm).
        "resampledPixelSpacing": [2, 2, 2],
        "interpolator": "sitkBSpline",
        "padDistance": 10,
        "preCrop": True,
        # Fixed bin *count* rather than width: even after normalisation MR intensities are not an absolute scale,
        # and a fixed number of bins between the ROI's min and max was the more reproducible choice for MRI texture
        # (Duron et al. 2019). 32 bins sits in the 16-128 range recommended by pyradiomics.
        "binCount": 32,
        # After normalisation values below the mean are negative; +300 (3 SD * 100) keeps most voxels positive for
        # Energy/RMS (pyradiomics exampleMR_3mm).
        "voxelArrayShift": 300,
        "minimumROIDimensions": 2,
        "minimumROISize": 10,
        "label": 1,
        # Sigmas below the 2 mm resampled voxel size would only amplify interpolation noise.
        "sigma": [2.0, 3.0, 4.0, 5.0],
    },
    "imageType": {"Original": {}, "LoG": {}, "Wavelet": {}},
    "featureClass": {"shape": list(_SHAPE_FEATURES), **copy.deepcopy(_ALL_INTENSITY_CLASSES)},
}


PET_PARAMS: dict[str, Any] = {
    "setting": {
        # The image must already be in SUV (body-weight SUV computed from the DICOM radiopharmaceutical and patient
        # weight before extraction): SUV is the absolute, comparable scale, so no normalisation here.
        "normalize": False,
        # Clinical PET reconstructions use 2-4 mm voxels; 3 mm isotropic keeps the lesion's voxel count close to the
        # native one while making the texture neighbourhood isotropic.
        "resampledPixelSpacing": [3, 3, 3],
        "interpolator": "sitkBSpline",
        "padDistance": 5,
        "preCrop": True,
        # Fixed bin width in SUV units (Leijenaar et al. 2015: fixed bin width, not fixed bin number, for SUV).
        # 0.5 SUV gives ~10-40 bins for the SUVmax of 5-20 typical of FDG-avid tumours, and does not let a noisy
        # low-uptake lesion be stretched over many bins as a fixed bin number would.
        "binWidth": 0.5,
        "minimumROIDimensions": 2,
        "minimumROISize": 10,
        "label": 1,
    },
    # PET's spatial resolution (~5-7 mm FWHM) is coarser than what LoG/wavelet filters would emphasise at these
    # voxel sizes; filtered PET features mostly measure reconstruction noise. Original image only.
    "imageType": {"Original": {}},
    "featureClass": {"shape": list(_SHAPE_FEATURES), **copy.deepcopy(_ALL_INTENSITY_CLASSES)},
}


# DICOM Modality (0008,0060) codes and common spellings.
MODALITY_ALIASES = {"CT": "CT", "MR": "MR", "MRI": "MR", "PT": "PET", "PET": "PET"}

_BY_MODALITY = {"CT": CT_PARAMS, "MR": MR_PARAMS, "PET": PET_PARAMS}


def default_params(modality: str) -> dict[str, Any]:
    """A fresh (deep-copied) default parameter set for ``modality``.

    Parameters
    ----------
    modality : str
        DICOM modality code or common name: ``"CT"``, ``"MR"``/``"MRI"``, ``"PT"``/``"PET"`` (case-insensitive).

    Raises
    ------
    KeyError
        For any other modality, naming the supported ones.
    """
    key = MODALITY_ALIASES.get(str(modality).strip().upper())
    if key is None:
        raise KeyError(f"no default radiomics parameters for modality {modality!r}; "
                       f"supported: {sorted(MODALITY_ALIASES)}")
    return copy.deepcopy(_BY_MODALITY[key])
