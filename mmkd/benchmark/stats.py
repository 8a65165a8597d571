"""The statistics of the benchmarks: mean and sample standard deviation,
the paired difference from a baseline with its 95 % t-interval over seeds,
and the median of per-round ratios."""
import math
import statistics
from typing import List, Sequence, Tuple

__all__ = ['mean_and_std', 'paired_interval', 'median_ratio']


def mean_and_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(
        sum((v - mean)**2 for v in values) / (len(values) - 1))


def paired_interval(values: List[float],
                    baseline: List[float]) -> Tuple[float, float, float]:
    """Mean of the per-seed differences ``values - baseline`` and its 95 %
    t-interval ``(mean, low, high)``; for one pair the interval is
    unbounded."""
    if len(values) != len(baseline):
        raise ValueError(f'{len(values)} values against {len(baseline)} '
                         'baseline values: pairs need one of each per seed')
    differences = [v - b for v, b in zip(values, baseline)]
    mean, std = mean_and_std(differences)
    if len(differences) < 2:
        return mean, -math.inf, math.inf
    from scipy.stats import t  # scikit-learn's dependency
    half = t.ppf(0.975, len(differences) - 1) * std / math.sqrt(
        len(differences))
    return mean, mean - half, mean + half


def median_ratio(numerators: Sequence[float],
                 denominators: Sequence[float]) -> float:
    """The median of the ratios of paired measurements (e.g. two phases
    timed in the same rounds): robust to a slow spell that hits a round."""
    return statistics.median(n / d for n, d in zip(numerators, denominators))
