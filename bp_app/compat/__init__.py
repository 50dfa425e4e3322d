"""Every private Lightning, Lightning Fabric, torch or Hydra API bp_app uses, in one place.

Each use is wrapped in a function named for what it does, beside the version it was checked
against; ``tests/test_compat.py`` fails when an installed version leaves the checked series or
a private name changes, so an upgrade starts here.
"""

# Checked against these releases, by import name (the pyproject ranges and constraints.txt
# allow these series).
CHECKED_AGAINST = {
    "pytorch_lightning": "2.6.6",
    "lightning_fabric": "2.6.6",
    "torch": "2.14.1",
    "hydra": "1.3.8",
}
