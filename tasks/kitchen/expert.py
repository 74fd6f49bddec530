"""Scripted expert for ``kitchen``: damped-least-squares IK skills composed in a given order.

The Franka is driven through the env's own action, 9 normalised joint velocities: the env turns
action ``a`` into the position target ``q + 2 a dt`` of its joint servos (``dt = 0.08 s``). A
Cartesian target for the ``end_effector`` site (position, and an orientation kept at the
reset pose) becomes a joint velocity by damped least squares,

    dq = J^T (J J^T + λ² I)^{-1} [K_p (p* - p); K_r e_R],

clipped to the action range (plus a small integral term near the target: the position
servos sag ~3 cm under gravity). Each subtask is one *skill*, a list of waypoints placed
relative to the object's pose when the skill starts:

* slide cabinet: straddle the vertical handle with the open fingers, push it along +x;
* light switch: straddle the lever's tip, sweep it along -x;
* microwave: grasp the vertical handle, pull it along the door's arc, the hand turning with
  the door;
* kettle: push the kettle's handle bar from the front across to the back burner.

Between skills the hand retreats toward the robot, the arm returns to its reset posture in
joint space, and the hand re-approaches the next object from the front. During a skill the
arm's redundant joint is pulled toward the reset posture in the Jacobian's null space, and
joints at their limits are dropped from the solve: without these, the posture a skill ends
in depends on the skills before it, and later skills fail for some orders. Per
episode the expert draws small waypoint offsets, gains and a speed limit.

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
LIGHT_OFFSET = np.array([0.015, -0.035, 0.01])  # from a grid search over start offsets


@dataclass(frozen=True)
class Waypoint:
    """A Cartesian target for the end-effector site.

    Attributes:
        pos: Target position (world frame, metres).
        grip: Finger action while moving there (+1 open, -1 close).
        tol: Distance (m) at which the waypoint counts as reached.
        max_steps: Steps after which the expert moves on even if not reached.
        hold: Extra steps to stay after reaching it (e.g. to let the fingers close).
        yaw: Rotation (rad) about the world z axis of the hand, relative to its reset pose.
        speed: Fraction of the expert's speed limit used on the way there.
        roll: Rotation (rad) about the world y axis (the approach axis), after ``yaw``.
        home: Ignore ``pos``: drive the arm's joints back to the reset posture (reached
            when every joint is within ``tol`` rad of it).
    """

    pos: np.ndarray
    grip: float = 1.0
    tol: float = 0.02
    max_steps: int = 60
    hold: int = 0
    yaw: float = 0.0
    speed: float = 1.0
    roll: float = 0.0
    home: bool = False


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
        self.q_home = d.qpos[:7].copy()
        self.k_null = 1.0
        # the tighter of the joint ranges and the env's own position bounds (it clips there)
        bounds = self.env.robot_env.robot_pos_bound[:7]
        self._lo = np.maximum(m.jnt_range[:7, 0], bounds[:, 0])
        self._hi = np.minimum(m.jnt_range[:7, 1], bounds[:, 1])
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

    def _transit(self, target: np.ndarray, tol: float = 0.015) -> list[Waypoint]:
        """Retreat toward the robot, then approach ``target`` from the front."""
        ee = self._ee()
        back = np.array([ee[0], min(ee[1], 0.25) - 0.05, ee[2]])
        front = np.array([target[0], min(target[1], 0.35) - 0.12, target[2]])
        # between the two, go back to the reset posture in joint space: the posture a skill
        # ends in (the kettle push leaves the shoulder and wrist at their limits) can leave the
        # IK stuck short of the next object, and the hand sagging more than the integral term
        # corrects (this failed ~1 episode in 6 for the orders doing the microwave or light
        # switch after the kettle or slide cabinet)
        return [Waypoint(back, 1.0, 0.05, 30), Waypoint(back, 1.0, 0.1, 40, home=True),
                Waypoint(front, 1.0, tol, 60)]

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
            h = self._site("light_site")  # the lever's tip; it turns about a z-axis hinge
            # straddle the tip with the open fingers (their midpoint is ~8 mm to +x of the
            # site), 1 cm high (pushing makes the hand sag by about that much), then sweep -x
            grasp = h + LIGHT_OFFSET + j(0.003)
            path = self._transit(grasp)
            path += [Waypoint(grasp, 1.0, 0.015, 60)]
            path += [Waypoint(grasp + np.array([-0.17 - self.rng.uniform(0, 0.03), 0.0, 0.0]),
                              1.0, 0.02, 50)]
            return path
        if name == "microwave":
            h = self._site("microhandle_site")  # a vertical bar on the door's free edge
            # finger pads sit 1.5-4 cm ahead of the site and their midpoint ~8 mm to +x:
            # put the bar between them, close the fingers
            grasp = h + np.array([-0.008, -0.018, 0.0]) + j(0.003)
            approach = grasp - np.array([0.0, 0.1, 0.0])
            path = self._transit(approach)
            path += [Waypoint(approach, 1.0, 0.015, 40), Waypoint(grasp, 1.0, 0.012, 60),
                     Waypoint(grasp, -1.0, 0.02, 20, hold=6)]
            # pull along the door's arc about its hinge, the hand turning with the door so
            # the grasp does not twist loose; the door counts as open past -0.45 rad
            hinge = self._body("microdoorroot")
            r = grasp[:2] - hinge[:2]
            target = -0.8 - self.rng.uniform(0.0, 0.05)
            for a in np.linspace(0.0, target, 7)[1:]:
                c, s = np.cos(a), np.sin(a)
                xy = hinge[:2] + np.array([c * r[0] - s * r[1], s * r[0] + c * r[1]])
                path.append(Waypoint(np.array([xy[0], xy[1], grasp[2]]), -1.0, 0.03, 20,
                                     yaw=float(a), speed=0.5))
            last = path[-1]
            path.append(Waypoint(last.pos, 1.0, 0.05, 8, hold=4, yaw=last.yaw))  # let go
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
    def _dls(self, jac: np.ndarray, twist: np.ndarray) -> np.ndarray:
        jjt = jac @ jac.T + self.damping**2 * np.eye(6)
        pinv = jac.T @ np.linalg.inv(jjt)
        dq = pinv @ twist
        # the arm has one redundant joint: pull it toward the reset posture in the Jacobian's
        # null space, so the posture (and reach) does not depend on the skills done before
        null = np.eye(7) - pinv @ jac
        return dq + null @ (self.k_null * (self.q_home - self.env.data.qpos[:7]))

    def _command(self, target: np.ndarray, grip: float, yaw: float = 0.0,
                 speed: float = 1.0, roll: float = 0.0) -> np.ndarray:
        m, d = self.env.model, self.env.data
        self._mj.mj_jacSite(m, d, self._jacp, self._jacr, self.site)
        jac = np.vstack([self._jacp[:, :7], self._jacr[:, :7]])
        err = target - d.site_xpos[self.site]
        if np.linalg.norm(err) < 0.04:
            # integrate only near the target: a push blocked by its object (large error)
            # must not wind the integral up and fling the arm on the next move
            self._integral = np.clip(self._integral + err * _DT, -0.015, 0.015)
        v = self.kp * err + self.ki * self.kp * self._integral
        norm = np.linalg.norm(v)
        if norm > self.vmax * speed:
            v *= self.vmax * speed / norm
        rot = d.site_xmat[self.site].reshape(3, 3)
        c, s = np.cos(yaw), np.sin(yaw)
        goal = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ self.rot0
        if roll:
            c, s = np.cos(roll), np.sin(roll)
            goal = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]) @ goal
        # orientation error (world frame, small-angle form) toward the goal orientation
        w = self.kr * 0.5 * sum(np.cross(rot[:, i], goal[:, i]) for i in range(3))
        twist = np.concatenate([v, w])
        dq = self._dls(jac, twist)
        # a joint at its limit that the solution pushes further in cannot move: drop it and
        # solve again, so the other joints make the motion (else the hand drifts sideways)
        q = d.qpos[:7]
        lo, hi = self._lo + 0.005, self._hi - 0.005
        stuck = ((q <= lo) & (dq < 0)) | ((q >= hi) & (dq > 0))
        if stuck.any():
            jac = jac.copy()
            jac[:, stuck] = 0.0
            dq = self._dls(jac, twist)
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
            self._integral[:] = 0.0  # the sag differs between poses: start each skill afresh
            self._wp_steps = 0
        wp = self._queue[0]
        self._wp_steps += 1
        if wp.home:
            err = self.q_home - self.env.data.qpos[:7]
            if np.abs(err).max() < wp.tol or self._wp_steps >= wp.max_steps:
                self._queue.pop(0)
                self._wp_steps = 0
            action = np.zeros(9)
            action[:7] = np.clip(3.0 * err, -1.5, 1.5) / _ACT_RANGE
            action[7:] = wp.grip
            return action
        dist = np.linalg.norm(wp.pos - self._ee())
        if dist < wp.tol or self._wp_steps >= wp.max_steps:
            if self._hold < wp.hold:
                self._hold += 1
            else:
                self._queue.pop(0)
                self._wp_steps = 0
                self._hold = 0
        return self._command(wp.pos, wp.grip, wp.yaw, wp.speed, wp.roll)
