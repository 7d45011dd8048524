"""regression room: Cox (Efron/Breslow, weights, strata, clusters, robust, Firth,
PH test) and Fine-Gray, one module per estimator.

Public names (``mo.cox``, ``mo.fine_gray``) are re-exported lazily by
``mace_outcomes/__init__.py``. The room is not called ``cox`` so that importing one of
its modules can never shadow the function ``mo.cox`` on the package.
"""
