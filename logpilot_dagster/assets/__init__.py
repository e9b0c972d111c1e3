"""The Dagster layer: one module per stage, each asset a thin call into the domain packages."""

import warnings

from dagster import BetaWarning

# Single-run backfills (`BackfillPolicy.single_run()`) are how a range of landing files becomes one run;
# we rely on them knowingly, so their beta notice should not read as a problem with the definitions.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=BetaWarning)
