"""cox room: one module per estimator.

Public names are re-exported lazily by ``mace_outcomes/__init__.py``.
"""
