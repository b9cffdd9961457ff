"""Fine-tune a behaviour-cloned VLA with PPO (stable-baselines3), export it back, and compare success.

    python examples/finetune_ppo.py [CHECKPOINT] [ENV_ID] [STEPS]
    python examples/finetune_ppo.py runs/quickstart MinVLA-Synthetic-Drag-v0 8192     # or small: the shipped VLA

Without a checkpoint it starts from a fresh tiny VLA, just to show the plumbing (expect ~0% either way).
"""

import sys

import minvla_gym
from minvla_gym.policies.finetune import make_envs
from minvla_gym.policies.model import VLA, VLAConfig
from minvla_gym.policies.sb3 import export_vla, make_ppo

args = sys.argv[1:]
checkpoint = args[0] if len(args) > 0 else None
env_id = args[1] if len(args) > 1 else "MinVLA-Synthetic-Click-v0"
steps = int(args[2]) if len(args) > 2 else 1024
vla = VLA.from_pretrained(checkpoint) if checkpoint else VLA(VLAConfig.preset("tiny", image_size=128))
screen = {"size": vla.config.image_size}  # the VLA sees the screen size it was trained on
before = minvla_gym.evaluate(vla, env_id, episodes=100, seed=0, env_kwargs=screen, progress=False)

# The envs speak FlatActionWrapper's MultiDiscrete twin, with coordinate bins matched to the VLA's patches.
envs = make_envs(env_id, vla.config, n_envs=4, seed=0)
model = make_ppo(envs, vla, learning_rate=3e-5, n_steps=64, batch_size=64, clip_range=0.1, seed=0)
model.learn(steps)
export_vla(model, "runs/ppo-example")  # a plain VLA checkpoint: minvla eval --model runs/ppo-example

after = minvla_gym.evaluate(
    VLA.from_checkpoint("runs/ppo-example"), env_id, 100, seed=0, env_kwargs=screen, progress=False
)
print(f"{env_id}: success {100 * before.success_rate:.1f}% before PPO, {100 * after.success_rate:.1f}% after")
