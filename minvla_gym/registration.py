"""Registers every minVLA-gym id with Gymnasium; runs on `import minvla_gym`."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

SYNTHETIC_ENTRY_POINT = "minvla_gym.envs.synthetic:SyntheticDesktopEnv"


def register_envs() -> None:
    from minvla_gym.envs.synthetic.tasks import FAMILIES

    def add(env_id: str, **spec) -> None:
        if env_id not in registry:  # re-importing must not warn about re-registration
            register(id=env_id, **spec)

    add(
        "MinVLA-Synthetic-v0",
        entry_point=SYNTHETIC_ENTRY_POINT,
        max_episode_steps=max(task.max_steps for task in FAMILIES.values()),
    )
    for name, task in FAMILIES.items():
        add(
            f"MinVLA-Synthetic-{name}-v0",
            entry_point=SYNTHETIC_ENTRY_POINT,
            kwargs={"task": name},
            max_episode_steps=task.max_steps,
        )
