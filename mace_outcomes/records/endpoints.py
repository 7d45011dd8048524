"""Clinical endpoints as sets of ARC-2 event types.

The built-in endpoints follow the Academic Research Consortium-2 consensus
(Garcia-Garcia et al., Circulation 2018;137:2635-2650):

* ``mace``: cardiac death, myocardial infarction, target-vessel revascularisation,
  definite or probable stent thrombosis (first event per unit).
* ``cardiac_death``, ``mi``, ``tvr``, ``stent_thrombosis``: each component alone.
* ``all_cause_death``.
* ``target_lesion_failure``: cardiac death, target-vessel MI, target-lesion
  revascularisation.
* each remaining ARC-2 type alone (``noncardiac_death``, ``undetermined_death``,
  ``tlr``, ``stroke``, ``bleeding``).

Two ARC-2 rules are applied to every endpoint:

* an undetermined death counts as a cardiac death (so ``cardiac_death`` also
  counts ``undetermined_death``);
* a target-lesion revascularisation is also a target-vessel revascularisation (so
  ``tvr`` also counts ``tlr``).

Only ``definite`` and ``probable`` stent thromboses count, unless an endpoint says
otherwise (``st_certainty=``). A target-vessel MI is an MI not clearly attributable
to a non-target vessel (ARC-2): blank ``target_vessel`` counts, a vessel not treated
at the index procedure (no lesion of the patient in it) does not. Without a lesions
table the treated vessels are unknown, so every MI counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import InputError, Problem
from .schema import DEATH_TYPES, EVENT_TYPES, ST_CERTAINTY, normalise_code

# ARC-2: an undetermined death is cardiac; a TLR is also a TVR.
_IMPLIED = {"cardiac_death": ("undetermined_death",), "tvr": ("tlr",)}


@dataclass(frozen=True)
class Endpoint:
    """An endpoint: the event types that count, first event per unit.

    Parameters
    ----------
    name : the endpoint's name (used for ``event_type`` messages and reports).
    event_types : ARC-2 event types that count, or built-in endpoint names standing for
        theirs (``["mace", "stroke"]``). ``cardiac_death`` implies
        ``undetermined_death`` and ``tvr`` implies ``tlr`` (ARC-2), unless
        ``implied=False``.
    st_certainty : stent-thrombosis certainty levels that count
        (default ``("definite", "probable")``).
    target_vessel_only : event types that count only when they happen in a target
        (treated) vessel, e.g. ``("mi",)`` for target-lesion failure.
    description : a sentence for reports.
    implied : apply the ARC-2 implications above.

    Examples
    --------
    >>> import mace_outcomes as mo
    >>> ep = mo.Endpoint("hard_mace", ["cardiac_death", "mi"])
    >>> sorted(ep.counted)
    ['cardiac_death', 'mi', 'undetermined_death']
    """

    name: str
    event_types: tuple[str, ...]
    st_certainty: tuple[str, ...] = ("definite", "probable")
    target_vessel_only: tuple[str, ...] = ()
    description: str = ""
    implied: bool = True
    counted: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        # Built-in endpoint names stand for their event types ("mace" + "stroke").
        types = []
        for t in _as_tuple(self.event_types):
            known = globals().get("ENDPOINTS", {})
            if t not in EVENT_TYPES and t in known:
                types.extend(x for x in known[t].event_types if x not in types)
            elif t not in types:
                types.append(t)
        types = tuple(types)
        cert = _as_tuple(self.st_certainty)
        tvo = _as_tuple(self.target_vessel_only)
        problems = []
        for t in types + tvo:
            if t not in EVENT_TYPES:
                problems.append(Problem(f"unknown event type '{t}' in endpoint "
                                        f"'{self.name}'", fix=f"use {', '.join(EVENT_TYPES)}"))
        for c in cert:
            if c not in ST_CERTAINTY:
                problems.append(Problem(f"unknown stent-thrombosis certainty '{c}'",
                                        fix=f"use {', '.join(ST_CERTAINTY)}"))
        if not types:
            problems.append(Problem(f"endpoint '{self.name}' has no event types"))
        if problems:
            raise InputError(problems)
        counted = set(types)
        if self.implied:
            for t in types:
                counted.update(_IMPLIED.get(t, ()))
        object.__setattr__(self, "event_types", types)
        object.__setattr__(self, "st_certainty", cert)
        object.__setattr__(self, "target_vessel_only", tvo)
        object.__setattr__(self, "counted", frozenset(counted))

    @property
    def competing(self) -> frozenset:
        """Deaths that end follow-up without counting: competing risks (status 2)."""
        return frozenset(DEATH_TYPES) - self.counted

    @property
    def tlr_is_vessel_event(self) -> bool:
        """Whether a TLR counts here as a TVR of its vessel (lesion level)."""
        return "tvr" in self.event_types and self.implied


def _as_tuple(values) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    return tuple(normalise_code(v) for v in (values or ()))


def _builtin() -> dict[str, Endpoint]:
    eps = [
        Endpoint("mace", ("cardiac_death", "mi", "tvr", "stent_thrombosis"),
                 description="cardiac death, myocardial infarction, target-vessel "
                             "revascularisation or definite/probable stent thrombosis"),
        Endpoint("cardiac_death", ("cardiac_death",),
                 description="cardiac death (including undetermined death, ARC-2)"),
        Endpoint("mi", ("mi",), description="myocardial infarction"),
        Endpoint("tvr", ("tvr",),
                 description="target-vessel revascularisation (including TLR)"),
        Endpoint("stent_thrombosis", ("stent_thrombosis",),
                 description="definite or probable stent thrombosis"),
        Endpoint("all_cause_death", DEATH_TYPES, description="death from any cause"),
        Endpoint("target_lesion_failure", ("cardiac_death", "mi", "tlr"),
                 target_vessel_only=("mi",),
                 description="cardiac death, target-vessel MI or target-lesion "
                             "revascularisation"),
        Endpoint("noncardiac_death", ("noncardiac_death",), description="non-cardiac death"),
        Endpoint("undetermined_death", ("undetermined_death",),
                 description="death of undetermined cause"),
        Endpoint("tlr", ("tlr",), description="target-lesion revascularisation"),
        Endpoint("stroke", ("stroke",), description="stroke"),
        Endpoint("bleeding", ("bleeding",), description="bleeding"),
    ]
    return {e.name: e for e in eps}


#: The built-in endpoints by name.
ENDPOINTS: dict[str, Endpoint] = _builtin()


def get_endpoint(endpoint: str | Endpoint | Iterable[str]) -> Endpoint:
    """An :class:`Endpoint` from a name, an Endpoint, or a list of event types."""
    if isinstance(endpoint, Endpoint):
        return endpoint
    if isinstance(endpoint, str):
        key = normalise_code(endpoint)
        if key in ENDPOINTS:
            return ENDPOINTS[key]
        raise InputError(Problem(f"unknown endpoint '{endpoint}'",
                                 fix=f"use one of {', '.join(ENDPOINTS)} or mo.Endpoint(...)"))
    types = list(endpoint)
    return Endpoint("+".join(map(str, types)), tuple(types))
