"""Scripted expert for ``kitchen``: damped-least-squares IK skills composed in a given order.

The Franka is driven through the env's own action, 9 normalised joint velocities: the env turns
action ``a`` into the position target ``q + 2 a dt`` of its joint servos (``dt = 0.08 s``). A
Cartesian target for the ``end_effector`` site (position, and an orientation kept at the
reset pose) becomes a joint velocity by damped least squares,

    dq = J^T (J J^T + λ² I)^{-1} [K_p (p* - p); K_r e_R],

clipped to the action range. Each subtask is one *skill*, a list of waypoints that are placed
relative to the object's current pose when the skill starts:

* slide cabinet: straddle the vertical handle with the open fingers, push it along +x;
* light switch: straddle the lever, sweep it along -x (an arc about its hinge);
* microwave: straddle the vertical handle, close the fingers, pull along the door's arc;
* kettle: push the kettle's body from the front (-y side) across to the back burner.

Between skills the hand retreats toward the robot and passes a via point above the counter,
so any order of the four skills is collision-free. Per episode the expert draws small
waypoint offsets, gains and a speed limit, so no two demonstrations are identical.

The expert reads the true simulator state (``env.unwrapped.data``), like a scripted
demonstrator with privileged state should; the policy learns from the observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUBTASKS = ("microwave", "kettle", "light switch", "slide cabinet")

# action -> joint velocity (rad/s): FrankaRobot's act_rng
_ACT_RANGE = 2.0
_DT = 0.08  # seconds per env step (40 substeps of 2 ms)


@dataclass(frozen=True)
class Waypoint:
    """A Cartesian target for the end-effector site.

    Attributes:
        pos: Target position (world frame, metres).
        grip: Finger action while moving there (+1 open, -1 close).
        tol: Distance (m) at which the waypoint counts as reached.
        max_steps: Steps after which the expert moves on even if not reached.
        hold: Extra steps to stay after reaching it (e.g. to let the fingers close).
    """

    pos: np.ndarray
    grip: float = 1.0
    tol: float = 0.02
    max_steps: int = 60
    hold: int = 0


class KitchenExpert:
    """Completes the four subtasks in the order given by ``mode``.

    Args:
        env: The FrankaKitchen env (``env.unwrapped`` is used), already reset.
        mode: Subtask order, e.g. ``"microwave>kettle>light switch>slide cabinet"``.
        rng: Per-episode randomisation (waypoint offsets, gains, speed).
    """

    def __init__(self, env, mode: str, rng: np.random.Generator) -> None:
        import mujoco

        self._mj = mujoco
        self.env = env.unwrapped
        self.mode = mode
        order = mode.split(">")
        if sorted(order) != sorted(SUBTASKS):
            raise ValueError(f"kitchen expert: mode {mode!r} is not an order of {SUBTASKS}")
        self.order = order
        self.rng = rng
        m, d = self.env.model, self.env.data
        self.site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "end_effector")
        self.kp = float(rng.uniform(8.0, 11.0))
        self.kr = 2.0
        self.vmax = float(rng.uniform(0.55, 0.75))  # m/s cap on the Cartesian command
        self.ki = 4.0  # integral term: the position servos sag under gravity by ~3 cm
        self.damping = 0.05
        self._integral = np.zeros(3)
        self.rot0 = d.site_xmat[self.site].reshape(3, 3).copy()
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))
        self._skill = 0
        self._queue: list[Waypoint] = []
        self._wp_steps = 0
        self._hold = 0
        self.steps = 0

    # -- geometry of the objects -------------------------------------------------------------
    def _site(self, name: str) -> np.ndarray:
        m, d = self.env.model, self.env.data
        return d.site_xpos[self._mj.mj_name2id(m, self._mj.mjtObj.mjOBJ_SITE, name)].copy()

    def _body(self, name: str) -> np.ndarray:
        m, d = self.env.model, self.env.data
        return d.xpos[self._mj.mj_name2id(m, self._mj.mjtObj.mjOBJ_BODY, name)].copy()

    def _jitter(self, scale: float = 0.01) -> np.ndarray:
        return self.rng.uniform(-scale, scale, size=3)

    def _ee(self) -> np.ndarray:
        return self.env.data.site_xpos[self.site].copy()

    def _transit(self, target: np.ndarray) -> list[Waypoint]:
        """Retreat toward the robot, then approach ``target`` from the front."""
        ee = self._ee()
        back = np.array([ee[0], min(ee[1], 0.25) - 0.05, ee[2]])
        front = np.array([target[0], min(target[1], 0.35) - 0.12, target[2]])
        return [Waypoint(back, 1.0, 0.05, 30), Waypoint(front, 1.0, 0.04, 60)]

    def _skill_waypoints(self, name: str) -> list[Waypoint]:
        j = self._jitter
        if name == "slide cabinet":
            h = self._site("slide_site")
            grasp = h + np.array([0.0, -0.035, 0.0]) + j(0.01)
            path = self._transit(grasp)
            path += [Waypoint(grasp, 1.0, 0.015, 60)]
            path += [Waypoint(grasp + np.array([0.22 + self.rng.uniform(0, 0.04), 0.0, 0.0]),
                              1.0, 0.03, 60)]
            return path
        if name == "light switch":
            h = self._site("light_site")
            grasp = h + np.array([0.0, -0.015, 0.0]) + j(0.006)
            path = self._transit(grasp)
            path += [Waypoint(grasp, 1.0, 0.015, 60)]
            path += [Waypoint(grasp + np.array([-0.14 - self.rng.uniform(0, 0.03), 0.0, 0.0]),
                              1.0, 0.03, 60)]
            return path
        if name == "microwave":
            h = self._site("microhandle_site")
            # finger pads sit 1.5-4 cm ahead of the site: put the bar between them
            grasp = h + np.array([0.0, -0.018, 0.0]) + j(0.006)
            path = self._transit(grasp)
            path += [Waypoint(grasp, 1.0, 0.012, 60), Waypoint(grasp, -1.0, 0.02, 20, hold=6)]
            hinge = self._body("microdoorroot")
            r = grasp[:2] - hinge[:2]
            # the door counts as open past -0.45 rad (goal -0.75, tolerance 0.3)
            target_angle = -0.75 - self.rng.uniform(0, 0.1)
            for a in np.linspace(0, target_angle, 5)[1:]:
                c, s = np.cos(a), np.sin(a)
                xy = hinge[:2] + np.array([c * r[0] - s * r[1], s * r[0] + c * r[1]])
                path.append(Waypoint(np.array([xy[0], xy[1], grasp[2]]), -1.0, 0.03, 30))
            last = path[-1].pos
            path.append(Waypoint(last, 1.0, 0.05, 8, hold=4))  # let go before leaving
            return path
        if name == "kettle":
            h = self._site("kettle_site")  # the handle bar, horizontal along x
            contact = h + np.array([0.0, -0.07, -0.01]) + j(0.006)
            path = self._transit(contact)
            path += [Waypoint(contact, -1.0, 0.02, 60)]
            push = contact + np.array([0.03, 0.40 + self.rng.uniform(0, 0.03), 0.0])
            path += [Waypoint(push, -1.0, 0.03, 90)]
            return path
        raise ValueError(name)

    # -- control -----------------------------------------------------------------------------
    def _command(self, target: np.ndarray, grip: float) -> np.ndarray:
        m, d = self.env.model, self.env.data
        self._mj.mj_jacSite(m, d, self._jacp, self._jacr, self.site)
        jac = np.vstack([self._jacp[:, :7], self._jacr[:, :7]])
        err = target - d.site_xpos[self.site]
        self._integral = np.clip(self._integral + err * _DT, -0.02, 0.02)
        v = self.kp * err + self.ki * self.kp * self._integral
        speed = np.linalg.norm(v)
        if speed > self.vmax:
            v *= self.vmax / speed
        rot = d.site_xmat[self.site].reshape(3, 3)
        # orientation error (world frame) toward the reset orientation
        w = self.kr * 0.5 * sum(np.cross(rot[:, i], self.rot0[:, i]) for i in range(3))
        twist = np.concatenate([v, w])
        jjt = jac @ jac.T + self.damping**2 * np.eye(6)
        dq = jac.T @ np.linalg.solve(jjt, twist)
        action = np.zeros(9)
        action[:7] = dq / _ACT_RANGE
        action[7:] = grip
        return np.clip(action, -1.0, 1.0)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Return the action (9,) for the current state (``obs`` is not needed)."""
        self.steps += 1
        while not self._queue:
            if self._skill >= len(self.order):
                # all done: hold still with open fingers
                return self._command(self._ee(), 1.0)
            self._queue = self._skill_waypoints(self.order[self._skill])
            self._skill += 1
            self._wp_steps = 0
        wp = self._queue[0]
        self._wp_steps += 1
        dist = np.linalg.norm(wp.pos - self._ee())
        if dist < wp.tol or self._wp_steps >= wp.max_steps:
            if self._hold < wp.hold:
                self._hold += 1
            else:
                self._queue.pop(0)
                self._wp_steps = 0
                self._hold = 0
        return self._command(wp.pos, wp.grip)
