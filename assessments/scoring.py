"""The maturity scoring engine: plain data in, an explained result out (no ORM, no Django).

Exactly as DESIGN.md "Scoring" states:

- A criterion is rated 1–5 or not applicable (``None``); N/A criteria are left out.
- Dimension score = weighted mean of its rated criteria; dimension stage = floor(score).
- Overall index = weighted mean of the scores of the dimensions that apply to the
  factory's kind and have at least one rating; the index alone gives floor(index).
- Gating: ``one_below`` caps the overall stage at the lowest dimension stage + 1;
  ``strict`` makes it the lowest dimension stage. ``capped_by`` names the dimension.
- Confidence = share of rated criteria backed by fresh evidence (per dimension, overall).
- Roadmap = the raises that together lift the overall stage by one, found greedily
  (each step raises one criterion by one point, choosing the step that most reduces the
  distance to the next stage, then the biggest index gain), merged per criterion and
  ordered by their gain in index points.

All arithmetic is exact (``fractions.Fraction``), so floors never suffer from float
rounding and the result is monotone: raising any rating never lowers a score or a stage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction

STAGE_NAMES: dict[int, str] = {
    1: "Ad hoc",
    2: "Developing",
    3: "Established",
    4: "Advanced",
    5: "Optimized",
}
GATINGS = ("one_below", "strict")


@dataclass(frozen=True)
class CriterionSpec:
    key: str
    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class DimensionSpec:
    key: str
    name: str
    weight: float = 1.0
    applies_to: str = "both"  # software | manufacturing | both
    criteria: tuple[CriterionSpec, ...] = ()

    def applies(self, kind: str) -> bool:
        return self.applies_to in ("both", kind)


@dataclass(frozen=True)
class ModelSpec:
    key: str
    name: str
    version: int
    gating: str = "one_below"
    dimensions: tuple[DimensionSpec, ...] = ()


@dataclass(frozen=True)
class RatingInput:
    """One criterion's answer: a rating 1–5 or ``None`` (not applicable)."""

    rating: int | None
    evidenced: bool = False  # backed by evidence within the model's freshness limit


@dataclass(frozen=True)
class DimensionResult:
    key: str
    name: str
    weight: float
    score: float | None
    stage: int | None
    stage_name: str | None
    confidence: float | None
    rated: int
    evidenced: int


@dataclass(frozen=True)
class RoadmapItem:
    criterion: str
    dimension: str
    current: int
    target: int
    gain: float


@dataclass(frozen=True)
class ScoreResult:
    model: str
    model_version: int
    gating: str
    index: float | None
    stage: int | None
    stage_name: str | None
    uncapped_stage: int | None
    capped_by: str | None
    confidence: float | None
    rated: int
    evidenced: int
    dimensions: list[DimensionResult] = field(default_factory=list)
    roadmap: list[RoadmapItem] = field(default_factory=list)
    explanation: str = ""

    def to_dict(self) -> dict:
        """JSON-ready form (stored on a final assessment)."""
        return asdict(self)


def stage_name(stage: int | None) -> str | None:
    return STAGE_NAMES.get(stage) if stage is not None else None


def _stage_of(score: Fraction) -> int:
    return max(1, min(5, math.floor(score)))


def _round(value: Fraction | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _trunc1(value: Fraction) -> str:
    """One decimal, truncated, so the text never shows a score of the next stage."""
    return f"{math.floor(value * 10) / 10:.1f}"


class _Aggregate:
    """Dimension scores and the index for one set of ratings (exact fractions).

    Keeps each dimension's weighted sum and weight so one raised rating updates it in
    constant time (the roadmap search raises ratings one point at a time).
    """

    def __init__(self, dims: list[DimensionSpec], ratings: Mapping[str, int]):
        self.num: dict[str, Fraction] = {}
        self.den: dict[str, Fraction] = {}
        self.weight: dict[str, Fraction] = {}
        for dim in dims:
            num, den = Fraction(0), Fraction(0)
            for crit in dim.criteria:
                value = ratings.get(crit.key)
                if value is not None:
                    weight = Fraction(crit.weight)
                    num += weight * value
                    den += weight
            if den:
                self.num[dim.key], self.den[dim.key] = num, den
                self.weight[dim.key] = Fraction(dim.weight)
        self.scores: dict[str, Fraction] = {k: self.num[k] / self.den[k] for k in self.num}
        self.total_weight = sum(self.weight.values(), Fraction(0))
        self.index: Fraction | None = self._index()

    def _index(self) -> Fraction | None:
        if not self.total_weight:
            return None
        weighted = sum((self.weight[k] * s for k, s in self.scores.items()), Fraction(0))
        return weighted / self.total_weight

    def raise_rating(self, dim_key: str, criterion_weight: float) -> None:
        """One criterion of ``dim_key`` (of that weight) goes up by one point."""
        self.num[dim_key] += Fraction(criterion_weight)
        self.scores[dim_key] = self.num[dim_key] / self.den[dim_key]
        self.index = self._index()

    def stages(self, gating: str, order: list[str]) -> tuple[int | None, int | None, str | None]:
        """``(overall stage, stage of the index alone, capping dimension key)``."""
        if self.index is None:
            return None, None, None
        uncapped = _stage_of(self.index)
        lowest_key = min(
            self.scores, key=lambda k: (_stage_of(self.scores[k]), self.scores[k], order.index(k))
        )
        lowest = _stage_of(self.scores[lowest_key])
        stage = lowest if gating == "strict" else min(uncapped, lowest + 1)
        return stage, uncapped, (lowest_key if stage < uncapped else None)


def _validate(model: ModelSpec, ratings: Mapping[str, RatingInput]) -> None:
    if model.gating not in GATINGS:
        raise ValueError(f"unknown gating policy {model.gating!r}")
    for key, answer in ratings.items():
        value = answer.rating
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5
        ):
            raise ValueError(f"{key}: a rating is 1–5 or None, got {value!r}")


def _roadmap(
    model: ModelSpec, dims: list[DimensionSpec], ratings: dict[str, int], stage: int
) -> list[RoadmapItem]:
    """Greedy plan to the next stage: raise one criterion by one point at a time, each time
    the one that most reduces the distance to the target (the gap of the index plus the
    gaps of the dimensions below the gate), then the one with the biggest index gain.

    Candidates are ranked with floats (cheap); the stopping test and the reported gains
    use the exact fractions.
    """
    if stage >= 5:
        return []
    target = stage + 1
    need = target if model.gating == "strict" else target - 1
    order = [d.key for d in dims]
    candidates = [(d, c) for d in dims for c in d.criteria if ratings.get(c.key) is not None]
    current = dict(ratings)
    agg = _Aggregate(dims, current)
    fnum = {k: float(v) for k, v in agg.num.items()}
    fden = {k: float(v) for k, v in agg.den.items()}
    fshare = {k: float(agg.weight[k] / agg.total_weight) for k in agg.weight}
    findex = float(agg.index)
    gains: dict[str, Fraction] = {}
    while agg.stages(model.gating, order)[0] < target:
        best = None
        for position, (dim, crit) in enumerate(candidates):
            if current[crit.key] >= 5:
                continue
            score_now = fnum[dim.key] / fden[dim.key]
            score_new = (fnum[dim.key] + crit.weight) / fden[dim.key]
            gain = fshare[dim.key] * crit.weight / fden[dim.key]
            reduction = (
                max(0.0, need - score_now)
                - max(0.0, need - score_new)
                + max(0.0, target - findex)
                - max(0.0, target - findex - gain)
            )
            rank = (round(reduction, 9), round(gain, 9), -position)
            if best is None or rank > best[0]:
                best = (rank, dim, crit)
        if best is None:  # every rated criterion is at 5 already
            break
        _, dim, crit = best
        before = agg.index
        agg.raise_rating(dim.key, crit.weight)
        fnum[dim.key] += crit.weight
        findex = float(agg.index)
        current[crit.key] += 1
        gains[crit.key] = gains.get(crit.key, Fraction(0)) + (agg.index - before)
    positions = {c.key: i for i, (_, c) in enumerate(candidates)}
    dim_of = {c.key: d.key for d, c in candidates}
    items = [
        RoadmapItem(
            criterion=key,
            dimension=dim_of[key],
            current=ratings[key],
            target=current[key],
            gain=round(float(gain), 2),
        )
        for key, gain in gains.items()
    ]
    return sorted(items, key=lambda item: (-gains[item.criterion], positions[item.criterion]))


def score(model: ModelSpec, kind: str, ratings: Mapping[str, RatingInput]) -> ScoreResult:
    """Score one factory's answers against one model version.

    ``kind`` is the factory kind (software | manufacturing): dimensions that do not apply
    to it are left out. ``ratings`` maps criterion keys to answers; unknown keys and
    criteria of dimensions that do not apply are ignored; a missing key is unanswered.
    """
    _validate(model, ratings)
    dims = [d for d in model.dimensions if d.applies(kind)]
    order = [d.key for d in dims]
    values = {k: a.rating for k, a in ratings.items() if a.rating is not None}
    agg = _Aggregate(dims, values)
    stage, uncapped, capped_by = agg.stages(model.gating, order)

    dimension_results = []
    rated_total = evidenced_total = 0
    for dim in dims:
        rated = [c for c in dim.criteria if values.get(c.key) is not None]
        evidenced = sum(1 for c in rated if ratings[c.key].evidenced)
        rated_total += len(rated)
        evidenced_total += evidenced
        dim_score = agg.scores.get(dim.key)
        dim_stage = _stage_of(dim_score) if dim_score is not None else None
        dimension_results.append(
            DimensionResult(
                key=dim.key,
                name=dim.name,
                weight=dim.weight,
                score=_round(dim_score),
                stage=dim_stage,
                stage_name=stage_name(dim_stage),
                confidence=round(evidenced / len(rated), 2) if rated else None,
                rated=len(rated),
                evidenced=evidenced,
            )
        )
    roadmap = _roadmap(model, dims, values, stage) if stage is not None else []
    confidence = round(evidenced_total / rated_total, 2) if rated_total else None
    return ScoreResult(
        model=model.key,
        model_version=model.version,
        gating=model.gating,
        index=_round(agg.index),
        stage=stage,
        stage_name=stage_name(stage),
        uncapped_stage=uncapped,
        capped_by=capped_by,
        confidence=confidence,
        rated=rated_total,
        evidenced=evidenced_total,
        dimensions=dimension_results,
        roadmap=roadmap,
        explanation=_explain(model, dims, agg, stage, uncapped, capped_by, roadmap, confidence),
    )


def _explain(
    model: ModelSpec,
    dims: list[DimensionSpec],
    agg: _Aggregate,
    stage: int | None,
    uncapped: int | None,
    capped_by: str | None,
    roadmap: list[RoadmapItem],
    confidence: float | None,
) -> str:
    """One paragraph a business owner can read: the stage, what caps it, what lifts it."""
    if stage is None:
        return "No criterion is rated yet, so there is no score."
    parts = [f"{STAGE_NAMES[stage]} (index {float(agg.index):.2f} of 5)."]
    if capped_by is not None:
        dim = next(d for d in dims if d.key == capped_by)
        rule = (
            "the overall stage equals the lowest dimension stage"
            if model.gating == "strict"
            else "the overall stage is at most one above the lowest dimension"
        )
        parts.append(
            f"The index alone would be {STAGE_NAMES[uncapped]}, but it is capped at "
            f"{STAGE_NAMES[stage]} by {dim.name} at {_trunc1(agg.scores[capped_by])} ({rule})."
        )
    if roadmap:
        names = {c.key: c.name for d in dims for c in d.criteria}
        first = roadmap[0]
        parts.append(
            f"To reach {STAGE_NAMES[stage + 1]}: raise {len(roadmap)} "
            f"criteri{'on' if len(roadmap) == 1 else 'a'}, starting with "
            f"{names[first.criterion]} from {first.current} to {first.target}."
        )
    elif stage == 5:
        parts.append("This is the highest stage.")
    if confidence is not None:
        parts.append(f"{round(confidence * 100)} % of the rated criteria are backed by evidence.")
    return " ".join(parts)
