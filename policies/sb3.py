"""The VLA inside stable-baselines3: a features extractor, and an actor-critic policy over the flat action space.

Two ways in:
  - `VLAFeaturesExtractor`: the VLA's trunk as a `BaseFeaturesExtractor` (features = its act and end query
    tokens), so any SB3 algorithm takes our Dict observations with its own heads on top:
        PPO("MultiInputPolicy", env, policy_kwargs=dict(features_extractor_class=VLAFeaturesExtractor,
                                                        features_extractor_kwargs=dict(config="tiny")))
  - `VLAPolicy`: the whole VLA, trunk *and* action heads, plus a value head, as an `ActorCriticPolicy`, so PPO
    fine-tunes a behaviour-cloned checkpoint: `make_ppo(env, VLA.from_checkpoint(dir))`, then `export_vla`.

Both run on `FlatActionWrapper(env, coord_bins_for(config))`. The VLAPolicy's action distribution
(`VLADistribution`) is the VLA's own, written over the flat MultiDiscrete vector
(type | x, y | end x, end y | scroll | text start, end | hotkey):
  - a point is one *joint* choice of a patch (the VLA's patch logits), then of a bin inside it. x and y are not
    independent factors: sampling them apart would click at the x of one button and the y of another. So
    coord_bins is a multiple of the patch grid (`coord_bins_for`) and every bin lies in one patch. A patch's
    bins are weighted by a Gaussian (one bin wide) around the VLA's in-patch offset, so samples land near the
    VLA's point and PPO trains the offset too. Per patch, the probabilities are exactly the VLA's.
  - the text span's end is drawn given its start (end > start), the way `VLA.predict` decodes it.
  - a factor counts only where the type uses it (point: pointing types, end point: drag, scroll, text: type,
    hotkey): the env ignores the others, so they take no credit or blame in the policy gradient.
Its mode is `VLA.act`'s action in flat form (argmax type, argmax patch + offset, ...): the parity test.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from minvla_gym.actions import ACTION_TYPES, DRAG, HOTKEY, SCROLL, TYPE
from minvla_gym.policies.model import POINTING, VLA, VLAConfig
from minvla_gym.wrappers import flat_nvec

MASKED = -1e4  # stands in for -inf logits: exp() is still exactly 0, but 0 * MASKED is 0, not NaN

# Which factor groups each action type uses. Rows: ACTION_TYPES; columns: point, end point, scroll, text, hotkey.
USES = torch.zeros(len(ACTION_TYPES), 5, dtype=torch.bool)
USES[list(POINTING), 0] = True
USES[DRAG, 1] = USES[SCROLL, 2] = USES[TYPE, 3] = USES[HOTKEY, 4] = True


def as_config(config: str | dict | VLAConfig) -> VLAConfig:
    """A preset name, a config dict (as in a checkpoint's config.json) or a VLAConfig -> VLAConfig."""
    if isinstance(config, VLAConfig):
        return config
    if isinstance(config, str):
        return VLAConfig.preset(config)
    if isinstance(config, dict):
        return VLAConfig(**config)
    raise ValueError(f"VLA config: expected a preset name, a dict or a VLAConfig, got {type(config).__name__}")


def coord_bins_for(config: str | dict | VLAConfig) -> int:
    """The flat twin's coord_bins for a VLA: the smallest multiple of the patch grid that is at least
    `config.coord_bins`, so that every bin lies inside one patch (224 px / 16 px patches: 14 * 5 = 70)."""
    config = as_config(config)
    return config.grid * math.ceil(config.coord_bins / config.grid)


class VLAFeaturesExtractor(BaseFeaturesExtractor):
    """The VLA's trunk for SB3: observations -> its act and end query tokens (2 * n_embd features).

    Args:
        observation_space: our Dict space; the image may be channel-last or (after SB3's VecTransposeImage)
            channel-first, and must be `config.image_size` square.
        config: a preset name, a config dict or a VLAConfig (default "small", or the checkpoint's).
        checkpoint: a VLA checkpoint directory to start from (its trunk's weights; its config).
        images_in_unit_range: SB3 divides uint8 images by 255 unless the policy has `normalize_images=False`;
            set this to False in that case.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        config: str | dict | VLAConfig | None = None,
        checkpoint: str | Path | None = None,
        images_in_unit_range: bool = True,
    ):
        if checkpoint is not None:
            vla = VLA.from_checkpoint(checkpoint)
            if config is not None and as_config(config) != vla.config:
                raise ValueError(f"VLAFeaturesExtractor: config {config!r} differs from {checkpoint}'s; give one")
        else:
            vla = VLA(as_config("small" if config is None else config))
        c = vla.config
        if not isinstance(observation_space, spaces.Dict) or set(observation_space.spaces) != {"image", "instruction"}:
            raise ValueError(f"VLAFeaturesExtractor: expected Dict(image, instruction), got {observation_space}")
        shape, tokens = observation_space["image"].shape, observation_space["instruction"].shape
        S = c.image_size
        if shape not in ((S, S, 3), (3, S, S)) or tokens != (c.max_instruction_tokens,):
            raise ValueError(f"VLAFeaturesExtractor: the VLA takes image ({S}, {S}, 3) and instruction "
                             f"({c.max_instruction_tokens},), the env gives {shape} and {tokens}; make the env "
                             f"with size={S}")  # fmt: skip
        super().__init__(observation_space, features_dim=2 * c.n_embd)
        self.vla = vla
        self.channels_first = shape == (3, S, S)
        self.scale = 255.0 if images_in_unit_range else 1.0
        # The trunk's output tokens are not among VLA.forward's results: catch them at the final layer norm.
        self._hidden: torch.Tensor | None = None
        self.vla.ln_f.register_forward_hook(self._keep_hidden)

    def apply(self, fn):
        # SB3's ortho_init (ActorCriticPolicy._build) re-initialises every Linear and Conv2d of the features
        # extractor. The VLA brings its own initialisation (GPT-2 style) or a checkpoint's weights: keep them.
        if getattr(fn, "func", None) is BasePolicy.init_weights:
            return self
        return super().apply(fn)

    def _keep_hidden(self, module, inputs, output):
        self._hidden = output

    def run(self, obs: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Preprocessed observations (float, as SB3 gives them) -> (the VLA's heads, (B, 2 * n_embd) tokens)."""
        image = obs["image"].permute(0, 2, 3, 1) if self.channels_first else obs["image"]
        # Back to exact uint8 pixels and int ids, so the VLA sees precisely what VLA.act sees.
        image = (image.float() * self.scale).round().clamp(0, 255).to(torch.uint8)
        heads, _, _ = self.vla(image, obs["instruction"].round().long(), reading=False)
        return heads, self._hidden[:, :2].flatten(1).float()

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.run(obs)[1]


class VLADistribution(Distribution):
    """The VLA's action distribution over the flat MultiDiscrete vector (see the module docstring)."""

    def __init__(self, config: VLAConfig):
        super().__init__()
        self.grid, self.bins = config.grid, coord_bins_for(config)
        self.sub = self.bins // self.grid  # bins per patch side

    def proba_distribution_net(self, *args, **kwargs):
        raise NotImplementedError("the VLA's own heads parameterise VLADistribution")

    def proba_distribution(self, heads: dict[str, torch.Tensor], points: dict[str, torch.Tensor]) -> VLADistribution:
        """heads: VLA.forward's; points: VLA.decode_points for "point" and "end_point" (the mode)."""
        self.logp = {k: F.log_softmax(heads[k].clamp(min=MASKED), -1) for k in ("type", "scroll", "hotkey")}
        self.logp["text_start"] = F.log_softmax(heads["text_start"].clamp(min=MASKED), -1)
        self.end_logits = heads["text_end"].clamp(min=MASKED)  # (B, L + 1), normalised once the start is known
        centres = (torch.arange(self.sub, device=self.end_logits.device) + 0.5) / self.sub
        self.mode_bins = {}
        for key in ("point", "end_point"):
            self.logp[key] = F.log_softmax(heads[key], -1)  # (B, P) over patches
            offset = torch.sigmoid(heads[key + "_offset"])  # (B, P, 2) in the patch, as in VLA.decode_points
            logits = -0.5 * ((centres - offset[..., None]) * self.sub).square()  # (B, P, 2, sub): sigma = 1 bin
            self.logp[key + "_bins"] = F.log_softmax(logits, -1)
            # The VLA's own point, binned as FlatActionWrapper bins it (float64, truncation).
            self.mode_bins[key] = (points[key].double() * self.bins).long().clamp(0, self.bins - 1)
        self.uses = USES.to(self.end_logits.device)
        return self

    def _end_logp(self, start: torch.Tensor) -> torch.Tensor:
        """log p(end | start), (B, L + 1): spans are non-empty, end > start."""
        positions = torch.arange(self.end_logits.size(-1), device=start.device)
        return F.log_softmax(self.end_logits.masked_fill(positions <= start[:, None], MASKED), -1)

    def _point_logp(self, key: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(len(x), device=x.device)
        patch = (y // self.sub) * self.grid + x // self.sub
        bins = self.logp[key + "_bins"][rows, patch]  # (B, 2, sub): x and y bins inside the patch
        return self.logp[key][rows, patch] + bins[rows, 0, x % self.sub] + bins[rows, 1, y % self.sub]

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        a = actions.long()  # the rollout buffer stores float32
        kind = a[:, 0]

        def pick(key, column):
            return self.logp[key].gather(1, a[:, column : column + 1])[:, 0]

        text = pick("text_start", 6) + self._end_logp(a[:, 6]).gather(1, a[:, 7:8])[:, 0]
        parts = torch.stack(
            [
                self._point_logp("point", a[:, 1], a[:, 2]),
                self._point_logp("end_point", a[:, 3], a[:, 4]),
                pick("scroll", 5),
                text,
                pick("hotkey", 8),
            ],
            dim=1,
        )  # (B, 5)
        return pick("type", 0) + torch.where(self.uses[kind], parts, torch.zeros_like(parts)).sum(1)

    def entropy(self) -> torch.Tensor:
        """Exact: H(type) + sum over types t of p(t) * (entropy of the factors t uses)."""

        def h(logp):  # entropy over the last axis
            return -(logp.exp() * logp).sum(-1)

        factors = []
        for key in ("point", "end_point"):
            within = h(self.logp[key + "_bins"]).sum(-1)  # (B, P): x and y bins inside each patch
            factors.append(h(self.logp[key]) + (self.logp[key].exp() * within).sum(-1))
        start = self.logp["text_start"]  # (B, L + 1); the (B, L + 1, L + 1) table of end given each start:
        positions = torch.arange(start.size(-1), device=start.device)
        given = self.end_logits[:, None, :].masked_fill(positions[None, :] <= positions[:, None], MASKED)
        text = h(start) + (start.exp() * h(F.log_softmax(given, -1))).sum(-1)
        factors = torch.stack([*factors, h(self.logp["scroll"]), text, h(self.logp["hotkey"])], dim=1)  # (B, 5)
        return h(self.logp["type"]) + (self.logp["type"].exp() @ self.uses.float() * factors).sum(1)

    def _draw_points(self, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        patch = torch.distributions.Categorical(logits=self.logp[key]).sample()  # (B,)
        rows = torch.arange(len(patch), device=patch.device)
        k = torch.distributions.Categorical(logits=self.logp[key + "_bins"][rows, patch]).sample()  # (B, 2)
        return (patch % self.grid) * self.sub + k[:, 0], (patch // self.grid) * self.sub + k[:, 1]

    def sample(self) -> torch.Tensor:
        def draw(key):
            return torch.distributions.Categorical(logits=self.logp[key]).sample()

        start = draw("text_start")
        end = torch.distributions.Categorical(logits=self._end_logp(start)).sample()
        fields = [draw("type"), *self._draw_points("point"), *self._draw_points("end_point"), draw("scroll")]
        return torch.stack([*fields, start, end, draw("hotkey")], dim=1)

    def mode(self) -> torch.Tensor:
        start = self.logp["text_start"].argmax(-1)
        return torch.stack(
            [
                self.logp["type"].argmax(-1),
                *self.mode_bins["point"].unbind(-1),
                *self.mode_bins["end_point"].unbind(-1),
                self.logp["scroll"].argmax(-1),
                start,
                self._end_logp(start).argmax(-1),
                self.logp["hotkey"].argmax(-1),
            ],
            dim=1,
        )

    def actions_from_params(self, heads, points, deterministic: bool = False) -> torch.Tensor:
        return self.proba_distribution(heads, points).get_actions(deterministic=deterministic)

    def log_prob_from_params(self, heads, points) -> tuple[torch.Tensor, torch.Tensor]:
        actions = self.actions_from_params(heads, points)
        return actions, self.log_prob(actions)


class VLAPolicy(ActorCriticPolicy):
    """The VLA as an SB3 actor-critic: its trunk and action heads, plus a value head on its query tokens.

    Args:
        vla_config: the VLA's config (a preset name or a dict: it is saved with the SB3 model). Weights come
            from `load_vla_weights` (or `make_ppo`), not from here, so a saved PPO model reloads on its own.
        detach_value: keep the value loss out of the trunk, so a randomly initialised value head cannot
            disturb behaviour-cloned features; the value head still reads them.
        trainable: the VLA parameters PPO updates: "all", or comma-separated name prefixes such as
            "scroll_head,type_head" (the rest stay frozen: what the policy does elsewhere cannot drift).
            The value head always trains.
    Other keyword arguments go to ActorCriticPolicy (optimizer_class, optimizer_kwargs, normalize_images).
    """

    def __init__(
        self,
        observation_space,
        action_space,
        lr_schedule,
        vla_config="small",
        detach_value=True,
        trainable="all",
        normalize_images=True,
        **kwargs,
    ):
        config = as_config(vla_config)
        self.trainable = trainable
        if config.point_head != "patch":
            raise ValueError(
                f"VLAPolicy: needs point_head='patch' (a distribution over patches), got {config.point_head!r}"
            )
        tokens = config.max_instruction_tokens
        expected = flat_nvec(tokens, coord_bins_for(config))
        if not isinstance(action_space, spaces.MultiDiscrete) or not np.array_equal(action_space.nvec, expected):
            raise ValueError(f"VLAPolicy: action space {action_space} is not the VLA's flat twin "
                             f"MultiDiscrete({expected.tolist()}); wrap the env with "
                             f"FlatActionWrapper(env, coord_bins={coord_bins_for(config)})")  # fmt: skip
        self.vla_config, self.detach_value = config.to_dict(), detach_value
        for key in ("features_extractor_class", "features_extractor_kwargs", "ortho_init", "net_arch"):
            kwargs.pop(key, None)  # fixed by this class (and given back by _get_constructor_parameters on load)
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=[],
            ortho_init=False,  # keep the VLA's (behaviour-cloned) weights as they are
            normalize_images=normalize_images,
            features_extractor_class=VLAFeaturesExtractor,
            features_extractor_kwargs=dict(config=self.vla_config, images_in_unit_range=normalize_images),
            **kwargs,
        )

    @property
    def vla(self) -> VLA:
        return self.features_extractor.vla

    def _build(self, lr_schedule) -> None:
        d = self.features_dim
        self.value_net = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 1))
        self.action_dist = VLADistribution(self.vla.config)
        if self.trainable != "all":
            prefixes = tuple(p.strip() for p in self.trainable.split(",") if p.strip())
            names = [name for name, _ in self.vla.named_parameters()]
            unknown = [p for p in prefixes if not any(name.startswith(p) for name in names)]
            if not prefixes or unknown:
                raise ValueError(f"VLAPolicy: trainable={self.trainable!r}: {unknown or 'nothing'} names no VLA "
                                 f"parameter (names look like {names[-4:]})")  # fmt: skip
            for name, parameter in self.vla.named_parameters():
                parameter.requires_grad_(name.startswith(prefixes))
        trainable = [p for p in self.parameters() if p.requires_grad]
        self.optimizer = self.optimizer_class(trainable, lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for key in ("features_extractor_class", "features_extractor_kwargs", "ortho_init", "net_arch"):
            data.pop(key, None)
        return {**data, "vla_config": self.vla_config, "detach_value": self.detach_value, "trainable": self.trainable}

    def _run(self, obs, values: bool = True) -> tuple[VLADistribution, torch.Tensor | None]:
        heads, tokens = self.features_extractor.run(preprocess_obs(obs, self.observation_space, self.normalize_images))
        points = {key: self.vla.decode_points(heads, key) for key in ("point", "end_point")}
        distribution = self.action_dist.proba_distribution(heads, points)
        if not values:
            return distribution, None
        return distribution, self.value_net(tokens.detach() if self.detach_value else tokens)

    def forward(self, obs, deterministic: bool = False):
        distribution, values = self._run(obs)
        actions = distribution.get_actions(deterministic=deterministic)
        return actions, values, distribution.log_prob(actions)

    def evaluate_actions(self, obs, actions):
        distribution, values = self._run(obs)
        return values, distribution.log_prob(actions), distribution.entropy()

    def get_distribution(self, obs) -> VLADistribution:
        return self._run(obs, values=False)[0]

    def predict_values(self, obs) -> torch.Tensor:
        return self._run(obs)[1]


def load_vla_weights(model: PPO | VLAPolicy, vla: VLA | str | Path) -> None:
    """Copy a VLA's weights (or a checkpoint directory's) into a VLAPolicy; the configs must match."""
    policy = model.policy if isinstance(model, PPO) else model
    if not isinstance(policy, VLAPolicy):
        raise ValueError(f"load_vla_weights: expected a VLAPolicy or a PPO model with one, got {type(policy).__name__}")
    vla = vla if isinstance(vla, VLA) else VLA.from_checkpoint(vla)
    if vla.config != policy.vla.config:
        raise ValueError(f"load_vla_weights: the checkpoint's config {vla.config} differs from the policy's "
                         f"{policy.vla.config}")  # fmt: skip
    policy.vla.load_state_dict(vla.state_dict())  # in place: the optimizer keeps its parameters


def export_vla(model: PPO | VLAPolicy, directory: str | Path) -> Path:
    """Write the policy's VLA as a checkpoint that `VLA.from_checkpoint` and `minvla eval --model` read."""
    policy = model.policy if isinstance(model, PPO) else model
    if not isinstance(policy, VLAPolicy):
        raise ValueError(f"export_vla: expected a VLAPolicy or a PPO model with one, got {type(policy).__name__}")
    return policy.vla.save(directory)


def make_ppo(env, vla: VLA | str | Path, detach_value: bool = True, **ppo_kwargs) -> PPO:
    """PPO with a VLAPolicy that starts from `vla` (a VLA or a checkpoint directory). `env` must be wrapped
    with `FlatActionWrapper(env, coord_bins_for(vla.config))` and have the VLA's screen size."""
    vla = vla if isinstance(vla, VLA) else VLA.from_checkpoint(vla)
    policy_kwargs = {**ppo_kwargs.pop("policy_kwargs", {}), "vla_config": vla.config.to_dict()}
    model = PPO(VLAPolicy, env, policy_kwargs={**policy_kwargs, "detach_value": detach_value}, **ppo_kwargs)
    load_vla_weights(model, vla)
    return model
