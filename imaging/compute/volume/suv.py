"""PET: the factor from activity concentration (Bq/mL) to SUVbw, with the QIBA rules for the decay reference.

Pure Python; no Django imports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from .errors import AssemblyWarning


class SUVError(ValueError):
    """A PET series lacks what SUVbw needs (units, decay correction, dose, weight, times)."""



def suv_bw_factor(
    header: dict[str, Any],
    *,
    acquisition_datetimes: Sequence[dt.datetime | None] = (),
) -> tuple[float, list[AssemblyWarning]]:
    """Factor converting PET activity concentration (Bq/mL) to SUVbw (g/mL).

    .. math::

        \\mathrm{SUV_{bw}} = \\frac{C(t)\\,[\\mathrm{Bq/mL}] \\times W\\,[\\mathrm{g}]}
                                 {D_{inj}\\,[\\mathrm{Bq}] \\times 2^{-\\Delta t / T_{1/2}}}

    where :math:`C` is the rescaled pixel value, :math:`W` the patient weight
    (``PatientWeight`` kg × 1000), :math:`D_{inj}` ``RadionuclideTotalDose``
    and :math:`T_{1/2}` ``RadionuclideHalfLife`` (s). The injected dose is
    decayed to the time the image values are decay-corrected to, following
    the QIBA vendor-neutral SUV pseudo-code:

    * ``DecayCorrection == "START"``: images are corrected to the scan start,
      :math:`\\Delta t` = scan start − injection time. The scan start is
      SeriesDate/SeriesTime, unless the series time is later than the earliest
      acquisition time (a post-processed series re-stamped after the scan), in
      which case the earliest AcquisitionDate/Time is used.
    * ``DecayCorrection == "ADMIN"``: images are corrected to the injection
      time, :math:`\\Delta t = 0`.
    * ``"NONE"`` (each frame would need its own correction) is not supported.

    The injection time is RadiopharmaceuticalStartDateTime, else
    SeriesDate + RadiopharmaceuticalStartTime. ``Units`` must be ``BQML``
    (``GML`` means the values already are SUVbw: factor 1). Tissue density is
    taken as 1 g/mL, as usual for SUV.

    Parameters
    ----------
    header : dict
        A :func:`~imaging.compute.dicom_headers.read_dicom_header` dict of a PT
        instance (uses ``header["pet"]`` and ``header["patient_weight_kg"]``).
    acquisition_datetimes : sequence of datetime
        Acquisition date-times of all slices (for the re-stamped-series rule).

    Returns
    -------
    factor : float
        Multiply Bq/mL by this to get SUVbw.
    warnings : list of AssemblyWarning

    Raises
    ------
    SUVError
        With a message naming the missing or unusable attribute.
    """
    pet = header.get("pet")
    if not pet:
        raise SUVError(f"modality is {header.get('modality')!r}, not PT: SUV applies to PET only")
    warnings_: list[AssemblyWarning] = []
    units = (pet.get("units") or "").upper()
    if units == "GML":
        return 1.0, warnings_
    if units != "BQML":
        raise SUVError(
            f"PET Units (0054,1001) is {pet.get('units')!r}; SUVbw needs BQML (activity "
            "concentration). CNTS and other vendor units need vendor-specific factors that "
            "are not supported - export the series in Bq/mL"
        )
    corrected = set(pet.get("corrected_image") or ())
    if corrected:
        missing = {"ATTN", "DECY"} - corrected
        if missing:
            raise SUVError(
                f"CorrectedImage (0028,0051) lacks {', '.join(sorted(missing))}: the image is not "
                "attenuation- and decay-corrected, SUV would be meaningless"
            )
    else:
        warnings_.append(
            AssemblyWarning(
                "pet_corrected_image_absent",
                "CorrectedImage (0028,0051) is absent; assuming attenuation and decay correction",
            )
        )
    weight = header.get("patient_weight_kg")
    if not weight or weight <= 0:
        raise SUVError(f"PatientWeight (0010,1030) is {weight!r}; SUVbw needs the weight in kg")
    dose = pet.get("radionuclide_total_dose_bq")
    if not dose or dose <= 0:
        raise SUVError(
            f"RadionuclideTotalDose (0018,1074) is {dose!r}; SUVbw needs the injected activity in Bq"
        )
    decay = (pet.get("decay_correction") or "").upper()
    if decay == "ADMIN":
        decayed_dose = dose
    elif decay == "START":
        half_life = pet.get("radionuclide_half_life_s")
        if not half_life or half_life <= 0:
            raise SUVError(f"RadionuclideHalfLife (0018,1075) is {half_life!r}; needed for decay")
        injection = pet.get("radiopharmaceutical_start_datetime")
        if injection is None and pet.get("radiopharmaceutical_start_time") and pet.get("series_date"):
            injection = dt.datetime.combine(pet["series_date"], pet["radiopharmaceutical_start_time"])
        if injection is None:
            raise SUVError(
                "injection time unknown: neither RadiopharmaceuticalStartDateTime (0018,1078) nor "
                "SeriesDate + RadiopharmaceuticalStartTime (0018,1072) is present"
            )
        injection = injection.replace(tzinfo=None)
        scan = pet.get("series_datetime")
        acq = [t for t in acquisition_datetimes if t is not None]
        if scan is None and not acq:
            raise SUVError("scan start unknown: SeriesDate/SeriesTime and AcquisitionDate/Time absent")
        if acq and (scan is None or scan > min(acq)):
            if scan is not None:
                warnings_.append(
                    AssemblyWarning(
                        "pet_series_time_after_acquisition",
                        f"SeriesTime {scan.time()} is after the earliest AcquisitionTime "
                        f"{min(acq).time()}; decay referenced to the earliest acquisition (QIBA)",
                    )
                )
            scan = min(acq)
        delta = (scan - injection).total_seconds()
        if delta < 0:
            raise SUVError(
                f"the scan start ({scan}) is before the injection ({injection}); check "
                "RadiopharmaceuticalStartTime/DateTime and SeriesDate/Time (a scan past "
                "midnight needs RadiopharmaceuticalStartDateTime)"
            )
        decayed_dose = dose * 2.0 ** (-delta / half_life)
    else:
        raise SUVError(
            f"DecayCorrection (0054,1102) is {pet.get('decay_correction')!r}; only START and "
            "ADMIN are supported for SUVbw"
        )
    return weight * 1000.0 / decayed_dose, warnings_
