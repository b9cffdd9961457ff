"""Behaviour cloning from Python: train the tiny VLA on the synthetic expert, then evaluate the checkpoint.

Run `python examples/train_bc.py`: about a minute on a laptop CPU (the tiny model: expect a low success rate).
It writes the run folder runs/example, which a second run refuses to mix into: remove it first.
"""

import minvla_gym  # noqa: F401  (registers MinVLA-Synthetic-v0 and the per-family ids)
from minvla_gym.evaluation import evaluate
from minvla_gym.policies.model import VLA
from minvla_gym.policies.train import TrainConfig, train

# Expert demonstrations are generated on the fly; the schedule is sized to max_iters (or --time-budget).
config = TrainConfig(synthetic=True, preset="tiny", max_iters=100, batch_size=16, out="runs/example", eval_episodes=20)
summary = train(config)
print(f"trained {summary['steps']} steps in {summary['minutes']:.1f} min")

# A checkpoint is a folder (config.json + model.safetensors): it loads without running any code.
policy = VLA.from_checkpoint("runs/example/best")
result = evaluate(policy, "MinVLA-Synthetic-v0", episodes=50, seed=0, num_envs=8)
print(result.table())

# The policy acts on single observations too, e.g. inside your own loop.
import gymnasium as gym  # noqa: E402

env = gym.make("MinVLA-Synthetic-Click-v0")
obs, info = env.reset(seed=123)
action = policy.act(obs)
print(info["instruction"], "->", action["type"], action["point"])
