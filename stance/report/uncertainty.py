"""Intervals by bootstrap over articles: paragraphs of one article are not independent, so the
unit that is resampled is the article (a cluster bootstrap).

One `ArticleBootstrap` draws RESAMPLES resamples of a fixed list of articles (with replacement,
as many articles as there are, numpy's PCG64 seeded with SEED), and every interval computed from it
uses those same resamples: an outlet's tone, its difference from the other outlets, the difference
between two outlets and a time bin's tone are all read off one set of resampled article weights.
An interval is the percentile interval (2.5th to 97.5th percentile of the statistic over the
resamples in which it is defined). Resamples are drawn in chunks, each from its own seeded
generator, so memory stays bounded for large corpora and the numbers do not depend on the order in
which statistics are asked for.

The statistics are ratios of sums over articles: for a tone, (paragraphs of positive polarity
minus paragraphs of negative polarity) over the paragraphs that mention the target; for a
correction rate, corrected labels over reviewed labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RESAMPLES = 2000
SEED = 17
LEVEL = 0.95
CHUNK = 250  # resamples drawn at once: CHUNK x articles weights in memory
MIN_ARTICLES = 2  # fewer articles than this: no interval (the resamples could only repeat one article)


@dataclass(frozen=True)
class Estimate:
    """A ratio over articles with its bootstrap interval (None where it is undefined or from too few articles)."""

    value: float | None
    low: float | None
    high: float | None
    articles: int  # articles contributing to the denominator
    numerator: float = 0.0
    denominator: float = 0.0

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely above or below 0 (a difference that the resampling does not explain away)."""
        return self.has_interval and (self.low > 0 or self.high < 0)  # type: ignore[operator]


class ArticleBootstrap:
    """Resampled article weights for a fixed list of articles; `sums` turns per-article values into per-resample sums."""

    def __init__(self, articles: Sequence[str], resamples: int = RESAMPLES, seed: int = SEED) -> None:
        self.articles = list(articles)
        self.index = {a: i for i, a in enumerate(self.articles)}
        self.resamples = resamples
        self.seed = seed

    def _weights(self, chunk: int) -> Any:
        """The weights of one chunk of resamples: how often each article was drawn in each resample."""
        import numpy as np

        k = len(self.articles)
        start = chunk * CHUNK
        size = min(CHUNK, self.resamples - start)
        rng = np.random.default_rng([self.seed, chunk])
        draws = rng.integers(0, k, size=(size, k)) + (np.arange(size) * k)[:, None]
        return np.bincount(draws.ravel(), minlength=size * k).reshape(size, k).astype(np.float64)

    def sums(self, values: Any) -> Any:
        """`values`: articles x columns; returns resamples x columns, each column's sum in each resample."""
        import numpy as np

        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] != len(self.articles):
            raise ValueError(f"expected {len(self.articles)} rows (one per article), got shape {values.shape}")
        if not self.articles:
            return np.zeros((self.resamples, values.shape[1]))
        chunks = -(-self.resamples // CHUNK)
        return np.vstack([self._weights(c) @ values for c in range(chunks)])


def percentile_interval(samples: Any, level: float = LEVEL) -> tuple[float | None, float | None]:
    """The percentile interval of a statistic's resampled values (NaN: undefined in that resample, left out)."""
    import numpy as np

    finite = np.asarray(samples, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return None, None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def ratio(numerator: Any, denominator: Any) -> Any:
    """numerator / denominator element-wise, NaN where the denominator is 0."""
    import numpy as np

    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def estimate(numerator: float, denominator: float, articles: int, samples: Any) -> Estimate:
    """An `Estimate` from the observed sums and the statistic's resampled values."""
    value = numerator / denominator if denominator else None
    low, high = percentile_interval(samples) if articles >= MIN_ARTICLES and value is not None else (None, None)
    return Estimate(value, low, high, articles, numerator, denominator)


def difference(first: Estimate, second: Estimate, samples: Any) -> Estimate:
    """first - second with the interval of the resampled differences (both from the same resamples)."""
    if first.value is None or second.value is None:
        return Estimate(None, None, None, first.articles + second.articles)
    enough = first.articles >= MIN_ARTICLES and second.articles >= MIN_ARTICLES
    low, high = percentile_interval(samples) if enough else (None, None)
    return Estimate(first.value - second.value, low, high, first.articles + second.articles)


@dataclass(frozen=True)
class GroupSums:
    """Sums of a numerator and a denominator over groups of articles: observed, and in every resample."""

    numerator: Any  # (groups,)
    denominator: Any  # (groups,)
    articles: Any  # (groups,) articles with a non-zero denominator
    resampled_numerator: Any  # (resamples, groups)
    resampled_denominator: Any

    def estimate(self, group: int) -> Estimate:
        samples = ratio(self.resampled_numerator[:, group], self.resampled_denominator[:, group])
        return estimate(float(self.numerator[group]), float(self.denominator[group]), int(self.articles[group]), samples)

    def samples(self, group: int) -> Any:
        return ratio(self.resampled_numerator[:, group], self.resampled_denominator[:, group])

    def complement(self, group: int, whole: int) -> tuple[Estimate, Any]:
        """The ratio over the articles of group `whole` that are not in `group` (a subset of it), and its resampled values."""
        num = self.resampled_numerator[:, whole] - self.resampled_numerator[:, group]
        den = self.resampled_denominator[:, whole] - self.resampled_denominator[:, group]
        samples = ratio(num, den)
        observed = estimate(
            float(self.numerator[whole] - self.numerator[group]), float(self.denominator[whole] - self.denominator[group]),
            int(self.articles[whole] - self.articles[group]), samples,
        )
        return observed, samples


def grouped_sums(
    bootstrap: ArticleBootstrap, numerators: Sequence[float], denominators: Sequence[float], groups: Sequence[Sequence[int]]
) -> GroupSums:
    """Per group of articles (row indices into `bootstrap.articles`), the sums of the per-article
    `numerators` and `denominators`, observed and in each of the bootstrap's resamples."""
    import numpy as np

    k = len(bootstrap.articles)
    num = np.asarray(numerators, dtype=np.float64).reshape(k)
    den = np.asarray(denominators, dtype=np.float64).reshape(k)
    membership = np.zeros((k, len(groups)))
    for g, members in enumerate(groups):
        membership[np.asarray(list(members), dtype=int), g] = 1.0
    values = np.hstack([membership * num[:, None], membership * den[:, None]])
    sums = bootstrap.sums(values)
    size = len(groups)
    return GroupSums(
        numerator=membership.T @ num,
        denominator=membership.T @ den,
        articles=membership.T @ (den > 0).astype(np.float64),
        resampled_numerator=sums[:, :size],
        resampled_denominator=sums[:, size:],
    )
