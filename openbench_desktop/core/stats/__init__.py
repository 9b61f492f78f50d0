"""Statistics over stored runs (Qt-free). See docs/METRICS.md, "Comparing runs"."""

from openbench_desktop.core.stats.compare import (
    Comparison,
    Estimate,
    PairStats,
    RunColumns,
    RunInput,
    RunStats,
    bootstrap_ci,
    compare_runs,
    empirical_cdf,
    load_comparison,
    load_run_columns,
    mcnemar_exact_p,
    paired_accuracy_diff,
    paired_median_diff,
    percentile_cis,
)

__all__ = [
    "Comparison",
    "Estimate",
    "PairStats",
    "RunColumns",
    "RunInput",
    "RunStats",
    "bootstrap_ci",
    "compare_runs",
    "empirical_cdf",
    "load_comparison",
    "load_run_columns",
    "mcnemar_exact_p",
    "paired_accuracy_diff",
    "paired_median_diff",
    "percentile_cis",
]
