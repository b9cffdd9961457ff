"""Registers every minVLA-gym id with Gymnasium; runs on `import minvla_gym`."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

SYNTHETIC_ENTRY_POINT = "minvla_gym.envs.synthetic:SyntheticDesktopEnv"


def register_envs() -> None:
    from minvla_gym.envs.synthetic.tasks import FAMILIES

    def add(env_id: str, **spec) -> None:
        if env_id not in registry:  # re-importing must not warn about re-registration
            register(id=env_id, **spec)

    # v0: the closed world, frozen (same episodes for the same seeds). v1: the open world, with splits.
    for version in (0, 1):
        add(
            f"MinVLA-Synthetic-v{version}",
            entry_point=SYNTHETIC_ENTRY_POINT,
            kwargs={"version": version},
            max_episode_steps=max(task.max_steps for task in FAMILIES.values()),
        )
        for name, task in FAMILIES.items():
            add(
                f"MinVLA-Synthetic-{name}-v{version}",
                entry_point=SYNTHETIC_ENTRY_POINT,
                kwargs={"task": name, "version": version},
                max_episode_steps=task.max_steps,
            )
    # The real desktop (envs/desktop): touches the real screen, so nondeterministic. The suite variant
    # starts the real-window task suite on the current display; its expert needs at most 5 steps.
    add(
        "MinVLA-Desktop-v0",
        entry_point="minvla_gym.envs.desktop:DesktopEnv",
        nondeterministic=True,
        max_episode_steps=20,
    )
    add(
        "MinVLA-DesktopSuite-v0",
        entry_point="minvla_gym.envs.desktop:DesktopEnv",
        kwargs={"task_source": "suite"},
        nondeterministic=True,
        max_episode_steps=10,
    )
