"""Validation, canonical hashing and YAML (de)serialisation of pyradiomics parameter sets.

A parameter set is the dict pyradiomics' ``RadiomicsFeatureExtractor`` accepts (top-level keys ``setting``,
``imageType``, ``featureClass`` and ``voxelSetting``). It is validated with pyradiomics' *own* schema
(``radiomics/schemas/paramSchema.yaml`` plus the extension functions in ``schemaFuncs.py``, checked by pykwalify --
exactly what ``RadiomicsFeatureExtractor._applyParams`` does), so anything pyradiomics would reject is rejected here,
with all messages collected into one readable :class:`InvalidParameters`.

The parameter hash identifies the *effective* configuration: pyradiomics' defaults are filled in the way the
extractor fills them (``_getDefaultSettings``; ``Original`` when no image type is given; every feature class when none
is given), then the result is serialised as canonical JSON (sorted keys, no whitespace) and hashed with SHA-256.
Numbers keep their type (``1`` and ``1.0`` hash differently) on purpose: pyradiomics names LoG images from
``str(sigma)``, so ``sigma: [1]`` and ``sigma: [1.0]`` produce differently named features.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import re
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "InvalidParameters",
    "validate_params",
    "effective_params",
    "params_hash",
    "canonical_json",
    "load_params",
    "dump_params",
]

TOP_LEVEL_KEYS = ("setting", "imageType", "featureClass", "voxelSetting")
_MAX_MESSAGE = 240


class InvalidParameters(ValueError):
    """A pyradiomics parameter set failed validation.

    Attributes
    ----------
    errors : list of str
        One readable message per problem found (e.g. ``"setting.binWidth: value -1 is below the minimum (exclusive)
        0"``).
    """

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("invalid radiomics parameters:\n  - " + "\n  - ".join(self.errors))

    def __reduce__(self):  # keep picklable across worker processes
        return (type(self), (self.errors,))


@contextmanager
def _quiet_pykwalify():
    """pykwalify logs every validation error at ERROR level; we report them through the exception instead."""
    loggers = [logging.getLogger(name) for name in ("pykwalify", "pykwalify.core", "pykwalify.rule")]
    saved = [(lg, lg.level, lg.propagate, lg.disabled) for lg in loggers]
    try:
        for lg in loggers:
            lg.disabled = True
        yield
    finally:
        for lg, level, propagate, disabled in saved:
            lg.setLevel(level)
            lg.propagate = propagate
            lg.disabled = disabled


def _shorten(message: str) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


_RANGE_WORDING = [
    # pykwalify's range messages -> plain comparisons
    (re.compile(r"type '\w+' has size of '(?P<v>[^']*)', less than or equals to min limit\(exclusive\) '(?P<l>[^']*)'",
                re.I), "value {v} must be > {l}"),
    (re.compile(r"type '\w+' has size of '(?P<v>[^']*)', less than min limit '(?P<l>[^']*)'", re.I),
     "value {v} must be >= {l}"),
    (re.compile(r"type '\w+' has size of '(?P<v>[^']*)', greater than or equals to max limit\(exclusive\) "
                r"'(?P<l>[^']*)'", re.I), "value {v} must be < {l}"),
    (re.compile(r"type '\w+' has size of '(?P<v>[^']*)', greater than max limit '(?P<l>[^']*)'", re.I),
     "value {v} must be <= {l}"),
    (re.compile(r"key '(?P<v>[^']*)' was not defined", re.I), "unknown key '{v}'"),
]


def _readable_pykwalify(message: str) -> str:
    """``"Value 'x' is not of type 'float'. Path: '/setting/binWidth'"`` -> ``"setting.binWidth: value 'x' ..."``."""
    message = str(message).strip()
    path = ""
    located = re.match(r"^(?P<msg>.*?)\.? Path: '(?P<path>[^']*)'\.?(?P<rest>.*)$", message, re.S)
    if located:
        path = located["path"].strip("/").replace("/", ".")
        message = (located["msg"] + " " + located["rest"].strip()).strip()
    enum = re.match(r"^enum '(?P<v>[^']*)' does not exist\.? *enum: *(?P<allowed>\[.*\])", message, re.I)
    if enum:
        message = f"value '{enum['v']}' is not one of {enum['allowed']}"
    for pattern, wording in _RANGE_WORDING:
        match = pattern.search(message)
        if match:
            message = wording.format(**match.groupdict())
            break
    message = message[:1].lower() + message[1:]
    return _shorten(f"{path or '<root>'}: {message}")


def _plain(obj: Any) -> Any:
    """Deep copy into plain JSON-like Python types (tuples -> lists, numpy scalars -> Python scalars)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and not isinstance(obj, (str, bytes)):
        try:
            return obj.item()
        except (TypeError, ValueError):
            pass
    return copy.deepcopy(obj)


def _semantic_errors(params: Mapping[str, Any]) -> list[str]:
    """Checks pyradiomics' schema does not make but that would otherwise silently change or drop features."""
    errors = []
    settings = params.get("setting") or {}
    image_types = params.get("imageType") or {}
    for name, custom in image_types.items():
        merged = dict(settings)
        merged.update(custom or {})
        if name == "LoG" and not merged.get("sigma"):
            # pyradiomics logs a warning and yields no LoG image at all.
            errors.append("imageType.LoG: enabled but no 'sigma' given (setting.sigma or imageType.LoG.sigma); "
                          "pyradiomics would silently compute no LoG features")
    for key in ("setting", "imageType", "featureClass", "voxelSetting"):
        value = params.get(key)
        if value is not None and not isinstance(value, Mapping):
            errors.append(f"{key}: must be a mapping, got {type(value).__name__}")
    for where, mapping in [("setting", settings)] + [(f"imageType.{k}", v or {}) for k, v in image_types.items()]:
        for key, value in mapping.items():
            if isinstance(value, float) and not math.isfinite(value):
                errors.append(f"{where}.{key}: value {value} is not finite")
    return errors


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a pyradiomics parameter dict against pyradiomics' own schema.

    Parameters
    ----------
    params : mapping
        ``{"setting": {...}, "imageType": {...}, "featureClass": {...}, "voxelSetting": {...}}``; every top-level key is
        optional, as in pyradiomics.

    Returns
    -------
    dict
        A validated deep copy in plain Python types (the input is not modified).

    Raises
    ------
    InvalidParameters
        With one readable message per problem: unknown keys, wrong types, out-of-range values, unknown wavelet,
        interpolator, image type, feature class or feature name, and LoG enabled without sigma.
    """
    import pykwalify.core
    from radiomics import getParameterValidationFiles

    if not isinstance(params, Mapping):
        raise InvalidParameters([f"parameters must be a mapping, got {type(params).__name__}"])
    data = _plain(params)
    errors: list[str] = []
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        errors.append(f"unknown top-level key(s) {unknown}; allowed: {list(TOP_LEVEL_KEYS)}")
    for key in TOP_LEVEL_KEYS:
        if key in data and data[key] is None:
            data[key] = {}  # YAML "featureClass:" with nothing under it

    schema_file, schema_funcs = getParameterValidationFiles()
    with _quiet_pykwalify(), warnings.catch_warnings():
        # pykwalify loads pyradiomics' schemaFuncs with the deprecated SourceFileLoader.load_module()
        warnings.filterwarnings("ignore", message=r".*load_module\(\) method is deprecated",
                                category=DeprecationWarning)
        core = pykwalify.core.Core(source_data=copy.deepcopy(data), schema_files=[schema_file],
                                   extensions=[schema_funcs])
        try:
            core.validate(raise_exception=False)
            for message in core.validation_errors:
                readable = _readable_pykwalify(message)
                if unknown and readable.startswith("<root>: unknown key"):
                    continue  # already reported with the list of allowed keys
                errors.append(readable)
        except (ValueError, TypeError) as exc:
            # pyradiomics' extension functions (wavelet, interpolator, weightingNorm, imageType, featureClass)
            # raise directly instead of reporting through pykwalify.
            errors.append(_shorten(str(exc)))
        except Exception as exc:  # pykwalify's own SchemaError and friends
            errors.append(_shorten(f"{type(exc).__name__}: {exc}"))
    if not errors:
        errors.extend(_semantic_errors(data))
    if errors:
        raise InvalidParameters(errors)
    return data


def effective_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration pyradiomics will actually run with, after validation.

    Mirrors ``RadiomicsFeatureExtractor._applyParams``: defaults from ``_getDefaultSettings()`` overlaid with
    ``setting`` and ``voxelSetting``; ``{"Original": {}}`` when no image type is enabled; every feature class (all
    non-deprecated features, value ``[]``) when none is given; ``None`` feature lists become ``[]``.
    """
    from radiomics import getFeatureClasses
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    data = validate_params(params)
    settings = RadiomicsFeatureExtractor._getDefaultSettings()
    settings.update(data.get("setting") or {})
    settings.update(data.get("voxelSetting") or {})
    image_types = data.get("imageType") or {"Original": {}}
    image_types = {name: dict(custom or {}) for name, custom in image_types.items()}
    features = data.get("featureClass") or {name: [] for name in getFeatureClasses()}
    features = {name: (list(names) if names else []) for name, names in features.items()}
    return {"setting": _plain(settings), "imageType": _plain(image_types), "featureClass": _plain(features)}


def canonical_json(params: Mapping[str, Any]) -> str:
    """Canonical JSON of the effective configuration: sorted keys, compact separators, ASCII only."""
    return json.dumps(effective_params(params), sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def params_hash(params: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical_json` -- stable across processes, dict order and YAML round trips."""
    return hashlib.sha256(canonical_json(params).encode("ascii")).hexdigest()


def load_params(source: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """Load and validate a parameter set from a YAML file path, a YAML string, or a mapping.

    A ``str`` is treated as a path when such a file exists, otherwise as YAML text.

    Raises
    ------
    InvalidParameters
        On unreadable YAML or a parameter set that fails :func:`validate_params`.
    """
    if isinstance(source, Mapping):
        return validate_params(source)
    text: str
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source and os.path.isfile(source)):
        path = Path(source)
        if not path.is_file():
            raise InvalidParameters([f"parameter file {str(path)!r} does not exist"])
        text = path.read_text(encoding="utf-8")
    else:
        text = str(source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidParameters([_shorten(f"not valid YAML: {exc}")]) from exc
    if data is None:
        data = {}
    return validate_params(data)


def dump_params(params: Mapping[str, Any]) -> str:
    """Validated YAML text of a parameter set (block style, keys in the given order); ``load_params`` inverts it."""
    data = validate_params(params)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=False)
