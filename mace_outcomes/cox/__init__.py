"""cox room: one module per estimator.

Public names are re-exported lazily by ``mace_outcomes/__init__.py``.

The room shares its name with the public function ``mo.cox``. Python binds a
subpackage as an attribute of its parent once any of its modules is imported
(e.g. ``mace_outcomes.cox.fine_gray``), which would shadow the lazily loaded
function; the room module is therefore callable and forwards to
:func:`mace_outcomes.cox.fit.cox`, so ``mo.cox(df, ...)`` works in every import order.
"""

import sys
import types


class _CallableRoom(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from .fit import cox

        return cox(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableRoom
