"""Benchmark of the maturity scoring engine (pure Python, no database).

Scores random answer sets against the default model (both kinds, both gating policies) and
prints results per second, with and without the roadmap's share of the cost.
Run: ``.venv/bin/python benchmarks/bench_scoring.py`` (or ``make bench``).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assessments.definitions import MODELS_DIR, model_spec, read_definition  # noqa: E402
from assessments.scoring import ModelSpec, RatingInput, score  # noqa: E402

N = 500


def main() -> None:
    base = model_spec(read_definition(MODELS_DIR / "digital_factory_maturity.yaml"))
    keys = [c.key for d in base.dimensions for c in d.criteria]
    rng = random.Random(4711)
    answer_sets = [
        {k: RatingInput(rng.choice([None, 1, 2, 3, 4, 5]), rng.random() < 0.7) for k in keys}
        for _ in range(N)
    ]
    for gating in ("one_below", "strict"):
        model = ModelSpec(base.key, base.name, 1, gating, base.dimensions)
        for kind in ("manufacturing", "software"):
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                for answers in answer_sets:
                    score(model, kind, answers)
                runs.append(time.perf_counter() - start)
            best = statistics.median(runs)
            print(
                f"score() {gating:<9} {kind:<13} {N} answer sets: median {best:.3f} s "
                f"= {N / best:,.0f} results/s ({1000 * best / N:.2f} ms each, roadmap included)"
            )


if __name__ == "__main__":
    main()
