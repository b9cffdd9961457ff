"""The synthetic desktop: procedurally rendered screens, task families and a scripted expert."""

from minvla_gym.envs.synthetic.env import SyntheticDesktopEnv

__all__ = ["SyntheticDesktopEnv"]
