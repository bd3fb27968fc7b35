"""The scoring engine: the DESIGN.md rules, and property tests (hypothesis) of its guarantees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessments.definitions import MODELS_DIR, model_spec, read_definition
from assessments.scoring import (
    STAGE_NAMES,
    CriterionSpec,
    DimensionSpec,
    ModelSpec,
    RatingInput,
    score,
)


def small_model(gating: str = "one_below") -> ModelSpec:
    return ModelSpec(
        key="m",
        name="M",
        version=1,
        gating=gating,
        dimensions=(
            DimensionSpec(
                key="strategy",
                name="Strategy",
                weight=1,
                criteria=(CriterionSpec("s1", "S1", 1), CriterionSpec("s2", "S2", 3)),
            ),
            DimensionSpec(
                key="data",
                name="Data integration",
                weight=2,
                criteria=(CriterionSpec("d1", "D1", 1), CriterionSpec("d2", "D2", 1)),
            ),
            DimensionSpec(
                key="ops",
                name="Connected operations",
                applies_to="manufacturing",
                criteria=(CriterionSpec("o1", "O1", 1),),
            ),
            DimensionSpec(
                key="dora",
                name="Delivery",
                applies_to="software",
                criteria=(CriterionSpec("x1", "X1", 1),),
            ),
        ),
    )


def rated(**values) -> dict[str, RatingInput]:
    return {k: RatingInput(v) for k, v in values.items()}


def test_dimension_score_is_the_weighted_mean_of_rated_criteria_and_na_is_left_out():
    result = score(small_model(), "manufacturing", rated(s1=1, s2=5, d1=4, d2=None, o1=3))
    dims = {d.key: d for d in result.dimensions}
    assert dims["strategy"].score == 4.0  # (1*1 + 5*3) / 4
    assert dims["data"].score == 4.0  # N/A left out
    assert dims["ops"].score == 3.0
    assert "dora" not in dims  # does not apply to manufacturing
    # index = (1*4 + 2*4 + 1*3) / 4
    assert result.index == 3.75 and result.stage == 3


def test_one_below_caps_at_lowest_dimension_plus_one_and_names_it():
    result = score(small_model(), "manufacturing", rated(s1=5, s2=5, d1=2, d2=1, o1=5))
    assert result.uncapped_stage == 3  # index (5 + 2*1.5 + 5) / 4 = 3.25
    assert result.stage == 2 and result.stage_name == "Developing"
    assert result.capped_by == "data"
    assert "capped at Developing by Data integration at 1.5" in result.explanation


def test_strict_makes_the_overall_stage_the_lowest_dimension_stage():
    result = score(small_model("strict"), "manufacturing", rated(s1=5, s2=5, d1=2, d2=2, o1=5))
    assert result.stage == 2 and result.capped_by == "data"
    relaxed = score(small_model(), "manufacturing", rated(s1=5, s2=5, d1=2, d2=2, o1=5))
    assert relaxed.stage == 3 and relaxed.capped_by is None  # index 3.5, data at 2: no cap


def test_dimensions_without_ratings_are_left_out_of_the_index_and_the_gate():
    result = score(small_model(), "software", rated(s1=4, s2=4, d1=None, d2=None, x1=4))
    assert result.index == 4.0 and result.stage == 4
    assert {d.key: d.score for d in result.dimensions}["data"] is None


def test_confidence_counts_rated_criteria_backed_by_fresh_evidence():
    ratings = {
        "s1": RatingInput(3, True),
        "s2": RatingInput(3, False),
        "d1": RatingInput(3, True),
        "d2": RatingInput(None, True),  # N/A does not count
        "o1": RatingInput(3, True),
    }
    result = score(small_model(), "manufacturing", ratings)
    assert result.confidence == 0.75
    assert {d.key: d.confidence for d in result.dimensions}["strategy"] == 0.5


def test_roadmap_lists_the_raises_that_lift_the_stage_with_the_gate_first():
    ratings = rated(s1=5, s2=5, d1=2, d2=1, o1=5)
    result = score(small_model(), "manufacturing", ratings)
    assert result.roadmap, result
    assert all(item.dimension == "data" for item in result.roadmap)
    lifted = dict(ratings)
    for item in result.roadmap:
        assert item.target > item.current
        lifted[item.criterion] = RatingInput(item.target)
    assert score(small_model(), "manufacturing", lifted).stage == result.stage + 1
    gains = [item.gain for item in result.roadmap]
    assert gains == sorted(gains, reverse=True)


def test_optimized_has_no_roadmap_and_no_ratings_give_no_score():
    top = score(small_model(), "software", rated(s1=5, s2=5, d1=5, d2=5, x1=5))
    assert top.stage_name == "Optimized" and top.roadmap == []
    empty = score(small_model(), "software", rated(s1=None))
    assert empty.stage is None and empty.index is None and "No criterion" in empty.explanation


def test_ratings_outside_one_to_five_are_refused():
    with pytest.raises(ValueError):
        score(small_model(), "software", rated(s1=6))


# --- properties over the real default model ----------------------------------------------

DEFAULT = model_spec(read_definition(MODELS_DIR / "digital_factory_maturity.yaml"))
KEYS = [c.key for d in DEFAULT.dimensions for c in d.criteria]
rating_values = st.one_of(st.none(), st.integers(min_value=1, max_value=5))
answers = st.fixed_dictionaries({k: st.tuples(rating_values, st.booleans()) for k in KEYS})
kinds = st.sampled_from(["software", "manufacturing"])
gatings = st.sampled_from(["one_below", "strict"])


def as_inputs(raw: dict) -> dict[str, RatingInput]:
    return {k: RatingInput(r, e) for k, (r, e) in raw.items()}


def with_gating(gating: str) -> ModelSpec:
    return ModelSpec(DEFAULT.key, DEFAULT.name, 1, gating, DEFAULT.dimensions)


@settings(max_examples=150, deadline=None)
@given(raw=answers, kind=kinds, gating=gatings, data=st.data())
def test_raising_any_rating_never_lowers_any_score_or_stage(raw, kind, gating, data):
    model = with_gating(gating)
    rated_keys = [k for k, (r, _) in raw.items() if r is not None and r < 5]
    if not rated_keys:
        return
    key = data.draw(st.sampled_from(rated_keys))
    higher = data.draw(st.integers(min_value=raw[key][0] + 1, max_value=5))
    before = score(model, kind, as_inputs(raw))
    after = score(model, kind, as_inputs({**raw, key: (higher, raw[key][1])}))
    assert after.index >= before.index
    assert after.stage >= before.stage
    for b, a in zip(before.dimensions, after.dimensions, strict=True):
        if b.score is not None:
            assert a.score >= b.score and a.stage >= b.stage


@settings(max_examples=150, deadline=None)
@given(raw=answers, kind=kinds, gating=gatings)
def test_result_is_deterministic_and_gated_and_stage_is_a_named_stage(raw, kind, gating):
    model = with_gating(gating)
    first = score(model, kind, as_inputs(raw))
    assert first == score(model, kind, as_inputs(dict(reversed(list(raw.items())))))
    if first.stage is None:
        assert all(d.score is None for d in first.dimensions)
        return
    assert first.stage_name == STAGE_NAMES[first.stage]
    assert first.stage_name in ("Ad hoc", "Developing", "Established", "Advanced", "Optimized")
    lowest = min(d.stage for d in first.dimensions if d.stage is not None)
    if gating == "strict":
        assert first.stage == lowest
    else:
        assert first.stage <= lowest + 1
        assert first.stage <= int(first.index) or first.index >= 5
    assert first.stage <= first.uncapped_stage
    assert (first.capped_by is not None) == (first.stage < first.uncapped_stage)
    for d in first.dimensions:
        if d.stage is not None:
            assert d.stage_name == STAGE_NAMES[d.stage]


@settings(max_examples=60, deadline=None)
@given(raw=answers, kind=kinds, gating=gatings)
def test_following_the_roadmap_reaches_the_next_stage(raw, kind, gating):
    model = with_gating(gating)
    result = score(model, kind, as_inputs(raw))
    if result.stage is None or result.stage == 5:
        assert result.roadmap == []
        return
    lifted = dict(raw)
    for item in result.roadmap:
        assert 1 <= item.current < item.target <= 5
        lifted[item.criterion] = (item.target, raw[item.criterion][1])
    assert score(model, kind, as_inputs(lifted)).stage >= result.stage + 1
