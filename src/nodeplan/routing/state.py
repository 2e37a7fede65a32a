"""The router's mutable live state: :class:`~nodeplan.model.network.NetworkState` plus the random
generator the ``random`` policy draws from.

Everything about time (warmth and LRU cache, queue, liveness, RTT rows and hops, verifier times) is the
network model's (:mod:`nodeplan.model.network`); the router adds nothing to it.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from nodeplan.model.network import NetworkState
from nodeplan.model.rtt import RttModel
from nodeplan.model.timing import TimingParams
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Scenario

__all__ = ["RouterState"]


class RouterState(NetworkState):
    """Live state of the network for routing; build it with :meth:`from_scenario`.

    Examples
    --------
    >>> from nodeplan.scenario.model import Scenario, Node, Model
    >>> sc = Scenario(nodes=[Node(id="a", lat=0, lon=0, roles={"execution"}, capacity=2)],
    ...               models=[Model(id="m", size_bytes=0, service_s={"cpu": 0.1})])
    >>> st = RouterState.from_scenario(sc)
    >>> st.n_nodes, st.in_flight_of("a"), st.is_up("a")
    (1, 0, True)
    """

    def __init__(
        self,
        scenario: Scenario,
        arrays: ScenarioArrays,
        rtt: RttModel,
        params: TimingParams,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(scenario, arrays, rtt, params)
        self.rng = rng if rng is not None else np.random.default_rng(0)

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        *,
        rtt: RttModel | None = None,
        params: TimingParams | None = None,
        seed: int | np.random.Generator | None = 0,
    ) -> RouterState:
        """Initial state of ``scenario`` (node status and warm models as the scenario says).

        ``seed`` drives the ``random`` policy; same seed, same choices.
        """
        state = cast(RouterState, super().from_scenario(scenario, rtt=rtt, params=params))
        state.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return state

    def copy(self) -> RouterState:
        """An independent copy (the random generator is copied too, so both make the same draws)."""
        new = cast(RouterState, super().copy())
        new.rng = np.random.Generator(type(self.rng.bit_generator)())
        new.rng.bit_generator.state = self.rng.bit_generator.state
        return new
