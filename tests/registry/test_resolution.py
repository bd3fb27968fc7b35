"""The name resolver on the variants factories really type."""

import pytest

from registry.resolution import Resolver, ToolEntry, normalize

REGISTRY = [
    ToolEntry(1, "Jenkins", "Jenkins project"),
    ToolEntry(2, "GitLab", "GitLab Inc."),
    ToolEntry(3, "Prometheus", "CNCF"),
    ToolEntry(4, "GitLab Runner", "GitLab Inc."),
    ToolEntry(5, "Opcenter MES", "Siemens"),
    ToolEntry(6, "PI System", "AVEVA", ("OSIsoft PI",)),
    ToolEntry(7, "GitHub Actions", "GitHub"),
    ToolEntry(8, "FactoryTalk View", "Rockwell Automation"),
    ToolEntry(9, "Grafana", "Grafana Labs"),
    ToolEntry(10, "Grafana Loki", "Grafana Labs"),
]


@pytest.fixture(scope="module")
def resolver():
    return Resolver(REGISTRY)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("jenkins-lts", "jenkins"),
        ("GitLab CI (self-managed)", "gitlab ci"),
        ("Prometheus server", "prometheus"),
        ("GitLab-EE 16.4.1", "gitlab"),
        ("Jenkins LTS 2.426.1", "jenkins"),
        ("Grafana Community Edition v10", "grafana"),
        ("Ignition 8.1 (on-prem)", "ignition"),
        ("Ánsys Twin-Builder", "ansys twin builder"),
        ("Server", "server"),
    ],
)
def test_normalisation_drops_case_punctuation_editions_and_versions(raw, key):
    assert normalize(raw) == key


@pytest.mark.parametrize(
    ("raw", "tool_id"),
    [
        ("jenkins-lts", 1),
        ("GitLab CI (self-managed)", 2),
        ("Prometheus server", 3),
        ("prometheus", 3),
        ("Siemens Opcenter MES", 5),  # vendor prefix
        ("Siemens Opcenter", 5),
        ("OSIsoft PI", 6),  # alias
        ("osisoft-pi 2018 SP3", 6),
        ("Github actions", 7),
        ("FactoryTalk View SE", 8),
        ("Rockwell FactoryTalk View", 8),
        ("Promethues", 3),  # typo
        ("Jenkns", 1),
        ("gitlab runner 16", 4),
    ],
)
def test_realistic_variants_resolve_to_the_registry_tool(resolver, raw, tool_id):
    match = resolver.resolve(raw)
    assert match.tool_id == tool_id, match
    assert 0.86 <= match.confidence <= 1.0


def test_exact_and_alias_matches_are_certain_and_fuzzy_ones_are_not(resolver):
    assert resolver.resolve("Jenkins").confidence == 1.0
    assert resolver.resolve("OSIsoft PI").method == "alias"
    fuzzy = resolver.resolve("Promethues")
    assert fuzzy.method == "fuzzy" and fuzzy.confidence < 1.0


@pytest.mark.parametrize("raw", ["TurbineWatch (in-house)", "Excel", "SAP PM", "", "  "])
def test_unknown_names_stay_unresolved_with_a_low_confidence(resolver, raw):
    match = resolver.resolve(raw)
    assert match.tool_id is None
    assert match.confidence < 0.86


def test_a_near_tie_between_two_tools_is_not_guessed():
    resolver = Resolver([ToolEntry(1, "Flux CD"), ToolEntry(2, "Flux CI")])
    match = resolver.resolve("Flux")
    assert match.tool_id is None
    assert match.method in {"ambiguous", "none"}
    assert match.candidate_id in {1, 2}


def test_resolve_many_scores_each_distinct_key_once_and_keeps_the_order(resolver):
    names = ["jenkins-lts", "Jenkins", "unknown thing", "Prometheus server"]
    assert [m.tool_id for m in resolver.resolve_many(names)] == [1, 1, None, 3]


def test_batch_scoring_decides_every_name_as_scoring_every_pair_does():
    """resolve_many runs the token-set scorer only on pairs that can matter; each name's
    tool (and a resolved name's confidence) is the one resolve gives by scoring all."""
    import random

    rng = random.Random(7)
    syllables = ["ka", "lo", "mi", "ra", "ven", "tor", "qua", "zi", "pel", "dor", "fin", "gar"]

    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3)))

    names = sorted({word() + rng.choice(["", " flow", " hub", " grid"]) for _ in range(400)})
    entries = [ToolEntry(i + 1, n, rng.choice(["", "Acme Labs"])) for i, n in enumerate(names)]
    fresh = Resolver(entries)
    queries = []
    for n in names[:150]:
        p = rng.randint(1, max(1, len(n) - 2))
        queries += [n[:p] + n[p + 1 :], n[:p] + n[p] + n[p:], n + " extra", word() + " " + word()]
    batch = fresh.resolve_many(queries)
    one_by_one = [fresh.resolve(q) for q in queries]
    assert [m.tool_id for m in batch] == [m.tool_id for m in one_by_one]
    assert [m.method for m in batch] == [m.method for m in one_by_one]
    resolved = [
        (a.confidence, b.confidence) for a, b in zip(batch, one_by_one, strict=True) if b.tool_id
    ]
    assert len(resolved) > 100 and all(a == b for a, b in resolved)
    assert sum(m.tool_id is None for m in batch) > 50


@pytest.mark.parametrize("segments", [40, 5000])  # the packed key, then the lexsort fallback
def test_batch_ordering_ranks_by_segment_best_score_then_index(segments):
    """The batch picks each name's best candidates from one sort; with ties in scores (many
    candidates score alike) the order is the segment, the best score, then the lower index,
    as scoring one name at a time orders them."""
    import numpy as np

    from registry.resolution import _order, _top

    rng = np.random.default_rng(3)
    segment = np.sort(rng.integers(0, segments, 20_000))
    score = rng.choice(np.array([0.0, 12.5, 50.0, 66.666664, 99.99999, 100.0], np.float32), 20_000)
    index = rng.integers(0, 300, 20_000)
    expected = sorted(range(20_000), key=lambda i: (segment[i], -score[i], index[i], i))
    got = _order(segment, score, index, segments).tolist()
    assert [(segment[i], score[i], index[i]) for i in got] == [
        (segment[i], score[i], index[i]) for i in expected
    ]
    top = set(_top(segment, score, index, segments, 3).tolist())
    firsts: dict[int, list[int]] = {}
    for i in expected:
        firsts.setdefault(int(segment[i]), []).append(i)
    assert {(segment[i], score[i], index[i]) for i in top} == {
        (segment[i], score[i], index[i]) for ids in firsts.values() for i in ids[:3]
    }
