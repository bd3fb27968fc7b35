"""Maturity model definition files: parse, validate, hash (pure: no ORM).

A definition is a YAML (or JSON) file in ``assessments/models_data/``::

    key, name, description?, gating (one_below | strict), evidence_freshness_days,
    dimensions: [{key, name, weight, applies_to (software | manufacturing | both),
                  criteria: [{key, name, weight, descriptors: {"1".."5": text},
                              signal?: {key, direction, thresholds: [t2, t3, t4, t5]}}]}]

``direction`` is ``higher`` or ``lower`` (which way a better value goes).

Criterion keys are unique within a model. A signal's thresholds are the values at which
the suggested rating reaches 2, 3, 4 and 5 (``higher``: value ≥ threshold; ``lower``:
value ≤ threshold).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from assessments.scoring import CriterionSpec, DimensionSpec, ModelSpec

MODELS_DIR = Path(__file__).resolve().parent / "models_data"
GATINGS = ("one_below", "strict")
APPLIES_TO = ("software", "manufacturing", "both")
STAGE_KEYS = ("1", "2", "3", "4", "5")


class DefinitionError(ValueError):
    """A maturity model file that cannot be used; the message names the place."""


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise DefinitionError(f"{where}: weight must be a positive number, got {value!r}")
    return float(value)


def _text(mapping: Mapping, field: str, where: str) -> str:
    value = mapping.get(field)
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(f"{where}: '{field}' is required")
    return value.strip()


def _signal(raw, where: str) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{where}: signal must be a mapping")
    key = _text(raw, "key", f"{where}.signal")
    direction = raw.get("direction", "higher")
    if direction not in ("higher", "lower"):
        raise DefinitionError(f"{where}.signal: direction must be higher or lower")
    thresholds = raw.get("thresholds")
    if (
        not isinstance(thresholds, list)
        or len(thresholds) != 4
        or not all(isinstance(t, int | float) and not isinstance(t, bool) for t in thresholds)
    ):
        raise DefinitionError(f"{where}.signal: thresholds must be four numbers (stages 2–5)")
    ordered = sorted(thresholds) if direction == "higher" else sorted(thresholds, reverse=True)
    if list(thresholds) != ordered:
        raise DefinitionError(
            f"{where}.signal: thresholds must "
            + ("rise" if direction == "higher" else "fall")
            + " from stage 2 to stage 5"
        )
    return {"key": key, "direction": direction, "thresholds": [float(t) for t in thresholds]}


def validate_definition(raw) -> dict:
    """The definition in its normal form (every default filled in), or ``DefinitionError``."""
    if not isinstance(raw, Mapping):
        raise DefinitionError("the file must hold a mapping")
    gating = raw.get("gating", "one_below")
    if gating not in GATINGS:
        raise DefinitionError(f"gating must be one of {', '.join(GATINGS)}, got {gating!r}")
    freshness = raw.get("evidence_freshness_days", 365)
    if isinstance(freshness, bool) or not isinstance(freshness, int) or freshness <= 0:
        raise DefinitionError("evidence_freshness_days must be a positive whole number")
    dimensions_raw = raw.get("dimensions")
    if not isinstance(dimensions_raw, list) or not dimensions_raw:
        raise DefinitionError("dimensions: at least one dimension is required")
    seen_dimensions: set[str] = set()
    seen_criteria: set[str] = set()
    dimensions = []
    for i, dim in enumerate(dimensions_raw):
        where = f"dimensions[{i}]"
        if not isinstance(dim, Mapping):
            raise DefinitionError(f"{where}: must be a mapping")
        dkey = _text(dim, "key", where)
        if dkey in seen_dimensions:
            raise DefinitionError(f"{where}: duplicate dimension key {dkey!r}")
        seen_dimensions.add(dkey)
        applies_to = dim.get("applies_to", "both")
        if applies_to not in APPLIES_TO:
            raise DefinitionError(f"{where}: applies_to must be one of {', '.join(APPLIES_TO)}")
        criteria_raw = dim.get("criteria")
        if not isinstance(criteria_raw, list) or not criteria_raw:
            raise DefinitionError(f"{where}: at least one criterion is required")
        criteria = []
        for j, crit in enumerate(criteria_raw):
            cwhere = f"{where}.criteria[{j}]"
            if not isinstance(crit, Mapping):
                raise DefinitionError(f"{cwhere}: must be a mapping")
            ckey = _text(crit, "key", cwhere)
            if ckey in seen_criteria:
                raise DefinitionError(f"{cwhere}: duplicate criterion key {ckey!r}")
            seen_criteria.add(ckey)
            descriptors_raw = crit.get("descriptors")
            if not isinstance(descriptors_raw, Mapping):
                raise DefinitionError(f"{cwhere}: descriptors for stages 1–5 are required")
            descriptors = {str(k): v for k, v in descriptors_raw.items()}
            missing = [s for s in STAGE_KEYS if not isinstance(descriptors.get(s), str)]
            if missing or set(descriptors) - set(STAGE_KEYS):
                raise DefinitionError(f"{cwhere}: descriptors need exactly the stages 1–5")
            criteria.append(
                {
                    "key": ckey,
                    "name": _text(crit, "name", cwhere),
                    "weight": _number(crit.get("weight", 1), cwhere),
                    "descriptors": {s: descriptors[s].strip() for s in STAGE_KEYS},
                    "signal": _signal(crit.get("signal"), cwhere),
                }
            )
        dimensions.append(
            {
                "key": dkey,
                "name": _text(dim, "name", where),
                "weight": _number(dim.get("weight", 1), where),
                "applies_to": applies_to,
                "criteria": criteria,
            }
        )
    return {
        "key": _text(raw, "key", "model"),
        "name": _text(raw, "name", "model"),
        "description": str(raw.get("description") or "").strip(),
        "gating": gating,
        "evidence_freshness_days": freshness,
        "dimensions": dimensions,
    }


def read_definition(path: Path) -> dict:
    """Parse and validate one definition file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path.name}: not valid YAML ({exc})") from exc
    try:
        return validate_definition(raw)
    except DefinitionError as exc:
        raise DefinitionError(f"{path.name}: {exc}") from exc


def definition_files(directory: Path = MODELS_DIR) -> list[Path]:
    """The definition files of a directory, in name order."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def content_hash(definition: dict) -> str:
    """SHA-256 of the normalised definition: comments and layout do not make a new version."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def model_spec(definition: dict, *, version: int = 1) -> ModelSpec:
    """The scoring engine's view of a definition."""
    return ModelSpec(
        key=definition["key"],
        name=definition["name"],
        version=version,
        gating=definition["gating"],
        dimensions=tuple(
            DimensionSpec(
                key=d["key"],
                name=d["name"],
                weight=d["weight"],
                applies_to=d["applies_to"],
                criteria=tuple(
                    CriterionSpec(key=c["key"], name=c["name"], weight=c["weight"])
                    for c in d["criteria"]
                ),
            )
            for d in definition["dimensions"]
        ),
    )


def rating_from_thresholds(value: float, signal: dict) -> int:
    """The suggested rating (1–5) a measured value earns under a signal's thresholds."""
    if signal["direction"] == "higher":
        met = sum(1 for t in signal["thresholds"] if value >= t)
    else:
        met = sum(1 for t in signal["thresholds"] if value <= t)
    return 1 + met


def applicable_criteria(definition: dict, kind: str) -> list[tuple[dict, dict]]:
    """``(dimension, criterion)`` pairs of the dimensions that apply to a factory kind."""
    return [
        (d, c)
        for d in definition["dimensions"]
        if d["applies_to"] in ("both", kind)
        for c in d["criteria"]
    ]
