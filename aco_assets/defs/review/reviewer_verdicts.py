"""``reviewer_verdicts``: the reviewers' verdicts as an observable source asset.

The verdicts come from outside the graph (`aco review import` writes the ``reviews`` table); the
observation's data version is a hash of them, so the lineage shows that a new import makes the
typical selection (``typical_windows`` depends on this asset) and everything after it stale.
"""

import dagster as dg

from aco_assets.defs.resources import StorageResource
from aco_assets.storage.typical_selection_store import verdicts_version


@dg.observable_source_asset(
    group_name="review",
    description="Reviewer verdicts imported into the reviews table (`aco review import`). Its "
    "data version changes with the verdicts; confirmed events leave the next typical selection.",
)
def reviewer_verdicts(storage: StorageResource) -> dg.ObserveResult:
    """Observe ``reviews``: a hash of its verdicts, with their counts."""
    state = verdicts_version(storage.warehouse())
    return dg.ObserveResult(
        data_version=dg.DataVersion(state.version),
        metadata={"n_verdicts": state.n_verdicts, "n_true_events": state.n_true_events},
    )
