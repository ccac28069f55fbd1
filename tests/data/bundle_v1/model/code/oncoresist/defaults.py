"""The default cohort: what ``make run`` simulates and trains on when nothing is configured.

Kept in one light module (no numpy/pandas) so the CLI's defaults and ``--help`` read it
without importing the simulator.

10,000 patient-treatments, not fewer: the explanations must name the simulator's planted
causes for their carriers (issue 5's fidelity bar), and the rarer ones (EML4-ALK variant 3
in one ALK setting, TP53 + RB1 co-loss) only reach enough labelled carriers for a model to
learn them from about 10,000 treatments (at 5,000 the v3 → on_target shift went unlearnt).
"""

#: Patient-treatments in the default simulated cohort.
DEFAULT_COHORT_SIZE = 10_000
#: Seed of the default simulated cohort.
DEFAULT_SEED = 7

__all__ = ["DEFAULT_COHORT_SIZE", "DEFAULT_SEED"]
