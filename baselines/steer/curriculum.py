"""BMD's short-to-long horizon curriculum as a vector-env proxy.

:class:`HorizonLimit` wraps a same-step-autoreset ``SyncVectorEnv`` of chunked envs and
truncates every episode after ``horizon`` decisions: the env is reset at once and the step
reports ``truncated`` with the cut episode's last observation in ``infos["final_obs"]``, as
gymnasium does for its own time limits. A fine-tuner then bootstraps from it as from any
truncation. ``horizon = None`` lets episodes run to the task's own end.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class HorizonLimit:
    """Truncate each sub-env's episode after ``horizon`` decisions (set between steps).

    Args:
        venv: A gymnasium ``SyncVectorEnv`` with ``AutoresetMode.SAME_STEP``.
    """

    def __init__(self, venv: Any) -> None:
        self.venv = venv
        self.horizon: int | None = None
        self.counts = np.zeros(venv.num_envs, dtype=int)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venv, name)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-envs (counts restart)."""
        self.counts[:] = 0
        return self.venv.reset(**kwargs)

    def step(self, actions: np.ndarray) -> tuple[Any, ...]:
        """Step all sub-envs; cut the episodes that reached the horizon."""
        obs, reward, term, trunc, infos = self.venv.step(actions)
        term, trunc = np.asarray(term, dtype=bool), np.array(trunc, dtype=bool)
        self.counts += 1
        self.counts[term | trunc] = 0
        if self.horizon is None:
            return obs, reward, term, trunc, infos
        cut = np.flatnonzero(self.counts >= self.horizon)
        if cut.size:
            n = self.venv.num_envs
            final = np.array(infos.get("final_obs", np.full(n, None, dtype=object)),
                             dtype=object, copy=True)
            mask = np.array(infos.get("_final_obs", np.zeros(n, dtype=bool)), copy=True)
            obs = np.array(obs, copy=True)
            for i in cut:
                final[i] = obs[i].copy()
                mask[i] = True
                obs[i] = self.venv.envs[i].reset()[0]  # continues the env's own generator
                trunc[i] = True
                self.counts[i] = 0
            infos = {**infos, "final_obs": final, "_final_obs": mask}
        return obs, reward, term, trunc, infos
