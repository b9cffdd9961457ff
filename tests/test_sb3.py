"""stable-baselines3: the flat env passes check_env, PPO trains the VLA policy, its distribution is the VLA's
(deterministic actions equal VLA.act's), checkpoints round-trip exactly, `minvla finetune` runs end to end."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.vec_env import DummyVecEnv

from minvla_gym.actions import ACTION_TYPES, HOTKEY, HOTKEYS
from minvla_gym.cli import main
from minvla_gym.evaluation import evaluate
from minvla_gym.policies.data import SyntheticBatches
from minvla_gym.policies.finetune import FinetuneConfig, Rehearsal, action_kl, make_envs, trained_families
from minvla_gym.policies.model import VLA, VLAConfig
from minvla_gym.policies.sb3 import (
    USES,
    VLADistribution,
    VLAFeaturesExtractor,
    VLAPolicy,
    coord_bins_for,
    export_vla,
    make_ppo,
)
from minvla_gym.wrappers import FlatActionWrapper, flat_to_action, to_bin

SIZE = 64  # tiny at 64-px screens (a 4 x 4 patch grid) keeps every test to seconds
SEEDS = range(24)  # MinVLA-Synthetic-v0 draws every family over these


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # The suite runs 2 processes on 2 cores: more threads each only makes them wait on one another.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_vla(seed=0, spread=0.0) -> VLA:
    """The tiny VLA; spread > 0 redraws its weights wider, so that its choices differ from screen to screen."""
    torch.manual_seed(seed)
    vla = VLA(VLAConfig.preset("tiny", image_size=SIZE))
    if spread:
        with torch.no_grad():
            for p in vla.parameters():
                p.normal_(0.0, spread)
    return vla.eval()


def flat_env(config, env_id="MinVLA-Synthetic-v0"):
    return FlatActionWrapper(gym.make(env_id, size=config.image_size), coord_bins_for(config))


def vec_env(config, n=2, env_id="MinVLA-Synthetic-v0"):
    return DummyVecEnv([lambda: flat_env(config, env_id)] * n)


def observations(config):
    env = flat_env(config)
    obs = [env.reset(seed=seed)[0] for seed in SEEDS]
    return {key: np.stack([o[key] for o in obs]) for key in obs[0]}


def distribution(model, batch):
    obs, _ = model.policy.obs_to_tensor(batch)
    with torch.no_grad():
        return model.policy.get_distribution(obs), obs


def test_coord_bins_are_a_multiple_of_the_patch_grid():
    assert coord_bins_for(VLAConfig()) == 70  # 224 px, 16-px patches: 14 patches of 5 bins
    assert coord_bins_for(VLAConfig.preset("tiny", image_size=SIZE)) == 64  # 4 patches of 16 bins


def test_wrapped_env_passes_check_env():
    env = flat_env(VLAConfig.preset("tiny", image_size=SIZE))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3 warns about spaces it handles badly: there must be none
        check_env(env)


def test_ppo_learn_changes_the_weights():
    vla = tiny_vla()
    model = make_ppo(vec_env(vla.config), vla, n_steps=64, batch_size=64, n_epochs=2, learning_rate=1e-3, seed=0)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(256)
    after = model.policy.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("features_extractor.vla.blocks") for k in changed)  # the trunk
    assert {"features_extractor.vla.type_head.weight", "features_extractor.vla.point.score.weight"} <= changed
    assert any(k.startswith("value_net") for k in changed)
    assert all(torch.isfinite(v).all() for v in after.values())


def test_ppo_updates_only_the_trainable_parameters():
    vla = tiny_vla()
    model = make_ppo(vec_env(vla.config), vla, n_steps=64, batch_size=64, n_epochs=2, learning_rate=1e-3, seed=0,
                     policy_kwargs={"trainable": "type_head,scroll_head"})  # fmt: skip
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(256)
    after = model.policy.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    vla_changed = {k.split(".vla.")[1].split(".")[0] for k in changed if ".vla." in k}  # module names
    assert vla_changed == {"type_head", "scroll_head"}  # the trunk and the other heads stay frozen
    assert any(k.startswith("value_net") for k in changed)
    with pytest.raises(ValueError, match="no_such_head"):
        make_ppo(vec_env(vla.config), vla, n_steps=16, batch_size=16, policy_kwargs={"trainable": "no_such_head"})


def test_bc_rehearsal_behaviour_clones_between_ppo_updates():
    held_out = SyntheticBatches(16, tiny_vla().config.grid, seed=99, size=SIZE)[0]  # not the rehearsal's seeds

    def run(callbacks):  # the held-out behaviour-cloning loss after PPO, with and without the rehearsal
        vla = tiny_vla()
        model = make_ppo(vec_env(vla.config), vla, n_steps=32, batch_size=64, n_epochs=1, learning_rate=1e-3, seed=0)
        model.learn(64 * 6, callback=callbacks)
        with torch.no_grad():
            return model.policy.vla(held_out["image"], held_out["instruction"], held_out)[1].item()

    rehearsal = Rehearsal(steps=16, batch_size=8, lr=1e-3, seed=0)  # target: the expert
    with_bc, without = run([rehearsal]), run([])
    assert rehearsal.batch_index == 16 * 5  # after each of the 5 updates that a rollout follows
    assert with_bc < 0.93 * without, (with_bc, without)  # measured 30.6 vs 34.7: it learned from the expert
    with pytest.raises(ValueError, match="bc_steps=-1"):
        FinetuneConfig(model="x", bc_steps=-1)
    with pytest.raises(ValueError, match="bc_lr=-0.0001"):
        FinetuneConfig(model="x", bc_lr=-1e-4)
    assert FinetuneConfig(model="x", lr=2e-5).bc_lr == 2e-5  # by default at PPO's learning rate
    assert FinetuneConfig(model="x", lr=2e-5, bc_lr=1e-4).bc_lr == 1e-4


def test_anchor_rehearsal_holds_the_policy_where_it_started():
    """--bc-target start: the KL anchor keeps the starting VLA's actions on the families it rehearses."""
    held_out = SyntheticBatches(16, tiny_vla().config.grid, seed=99, size=SIZE, families=["Click", "Type"])[0]
    start = tiny_vla(seed=1, spread=0.2)
    with torch.no_grad():
        reference = start(held_out["image"], held_out["instruction"])[0]
    assert action_kl(reference, reference).item() == 0.0

    def drift(callbacks):  # how far PPO on Hotkey moved the held-out Click/Type actions from where they started
        vla = tiny_vla(seed=1, spread=0.2)
        env = vec_env(vla.config, env_id="MinVLA-Synthetic-Hotkey-v0")
        model = make_ppo(env, vla, n_steps=32, batch_size=64, n_epochs=2, learning_rate=1e-3, seed=0)
        model.learn(64 * 6, callback=callbacks)
        with torch.no_grad():
            return action_kl(model.policy.vla(held_out["image"], held_out["instruction"])[0], reference).item()

    anchor = Rehearsal(steps=8, batch_size=8, lr=1e-3, seed=0, target="start", families=["Click", "Type"])
    held, free = drift([anchor]), drift([])
    assert held < 0.5 * free, (held, free)  # measured 0.062 against 0.53
    assert trained_families("MinVLA-Synthetic-Scroll-v0,MinVLA-Synthetic-Icon-v0") == {"Scroll", "Icon"}
    others = FinetuneConfig(model="x", env="MinVLA-Synthetic-Scroll-v0", bc_steps=4, bc_families="others")
    assert "Scroll" not in others.rehearsal_families() and len(others.rehearsal_families()) == 9
    with pytest.raises(ValueError, match="no other is left"):
        FinetuneConfig(model="x", env="MinVLA-Synthetic-v0", bc_steps=4, bc_families="others")
    with pytest.raises(ValueError, match="bc_target='teacher'"):
        FinetuneConfig(model="x", bc_target="teacher")
    with pytest.raises(ValueError, match="Scrol"):
        FinetuneConfig(model="x", bc_families="Scrol")


def test_deterministic_actions_and_probabilities_match_the_vla(tmp_path):
    """A checkpoint loaded into the SB3 policy acts as VLA.act does and gives the VLA's probabilities."""
    tiny_vla(seed=1, spread=0.2).save(tmp_path / "bc")
    vla = VLA.from_checkpoint(tmp_path / "bc")
    config = vla.config
    model = make_ppo(vec_env(config), tmp_path / "bc", n_steps=16, batch_size=16)
    batch = observations(config)

    flat, _ = model.predict(batch, deterministic=True)
    expected = vla.act_batch(batch)
    bins = coord_bins_for(config)
    for row, want, ids in zip(flat, expected, batch["instruction"], strict=True):
        got = flat_to_action(row, ids, bins)
        for key in ("type", "scroll", "text", "hotkey"):
            assert np.array_equal(got[key], want[key]), key
        # Points: the bin that holds VLA.act's point (FlatActionWrapper gives its centre).
        assert np.array_equal(row[1:3], to_bin(want["point"], bins))
        assert np.array_equal(row[3:5], to_bin(want["end_point"], bins))
    assert len({tuple(row) for row in flat}) > len(SEEDS) // 2  # the screens differ, so must the actions

    dist, obs = distribution(model, batch)
    with torch.no_grad():
        heads, _, _ = vla(torch.as_tensor(batch["image"]), torch.as_tensor(batch["instruction"]))
        flat_logp = vla.flat_logits(heads)  # the VLA's own per-factor log-probabilities (FLAT_FIELDS order)
    for i, key in ((0, "type"), (5, "scroll"), (6, "text_start"), (8, "hotkey")):
        torch.testing.assert_close(dist.logp[key].exp(), flat_logp[i].exp(), rtol=0, atol=1e-6)
    # The point's patch column: the VLA spreads it evenly over its own bins, the policy by the offset.
    G = config.grid
    cell_of_bin = ((torch.arange(config.coord_bins) + 0.5) / config.coord_bins * G).long()
    vla_columns = torch.zeros(len(SEEDS), G).index_add_(1, cell_of_bin, flat_logp[1].exp())
    policy_columns = dist.logp["point"].exp().view(-1, G, G).sum(1)
    torch.testing.assert_close(policy_columns, vla_columns, rtol=0, atol=1e-5)


def test_sample_log_prob_and_entropy_agree():
    """The entropy is exact, so it must equal -E[log_prob] over samples (with only the used factors)."""
    vla = tiny_vla(seed=2, spread=0.1)
    batch = {key: value[:3] for key, value in observations(vla.config).items()}
    with torch.no_grad():
        heads, _, _ = vla(torch.as_tensor(batch["image"]), torch.as_tensor(batch["instruction"]))
    points = {key: vla.decode_points(heads, key) for key in ("point", "end_point")}
    n = 4000  # samples per screen: the same heads, repeated
    dist = VLADistribution(vla.config).proba_distribution(
        {k: v.repeat_interleave(n, 0) for k, v in heads.items()},
        {k: v.repeat_interleave(n, 0) for k, v in points.items()},
    )
    torch.manual_seed(0)
    actions = dist.sample()
    logp = dist.log_prob(actions).view(3, n)
    entropy = VLADistribution(vla.config).proba_distribution(heads, points).entropy()
    assert ((-logp.mean(1) - entropy).abs() < 4 * logp.std(1) / n**0.5 + 1e-3).all(), (-logp.mean(1), entropy)
    # Types follow p(type), and typed text is a non-empty span.
    counts = torch.bincount(actions[:n, 0], minlength=len(ACTION_TYPES)) / n
    torch.testing.assert_close(counts, dist.logp["type"][0].exp(), rtol=0, atol=0.03)
    assert (actions[:, 7] > actions[:, 6]).all()
    # Unused factors take no part: another hotkey changes the probability of hotkey actions only.
    other = actions.clone()
    other[:, 8] = (other[:, 8] + 1) % len(HOTKEYS)
    assert torch.equal(dist.log_prob(other) != dist.log_prob(actions), actions[:, 0] == HOTKEY)
    assert USES[HOTKEY].tolist() == [False, False, False, False, True]


def test_export_import_round_trip_is_exact(tmp_path):
    vla = tiny_vla(seed=3)
    model = make_ppo(vec_env(vla.config), vla, n_steps=32, batch_size=32, learning_rate=1e-3, seed=0)
    model.learn(64)  # weights that are no longer the checkpoint's
    export_vla(model, tmp_path / "out")
    model.save(tmp_path / "ppo.zip")
    back = VLA.from_checkpoint(tmp_path / "out")
    batch = observations(vla.config)
    image, ids = torch.as_tensor(batch["image"]), torch.as_tensor(batch["instruction"])
    with torch.no_grad():
        want, _, _ = model.policy.vla.eval()(image, ids)
        got, _, _ = back(image, ids)
    assert all(torch.equal(want[k], got[k]) for k in want)

    fresh = make_ppo(vec_env(vla.config), tmp_path / "out", n_steps=32, batch_size=32)
    reloaded = PPO.load(tmp_path / "ppo.zip", env=vec_env(vla.config))
    actions = torch.as_tensor(model.predict(batch, deterministic=True)[0])
    for other in (fresh, reloaded):
        assert np.array_equal(other.predict(batch, deterministic=True)[0], actions.numpy())
    want_logp = distribution(model, batch)[0].log_prob(actions)
    assert torch.equal(distribution(reloaded, batch)[0].log_prob(actions), want_logp)  # value head and all
    assert torch.equal(distribution(fresh, batch)[0].log_prob(actions), want_logp)


def test_features_extractor_works_with_multi_input_policy(tmp_path):
    tiny_vla(seed=5).save(tmp_path / "bc")
    config = VLA.from_checkpoint(tmp_path / "bc").config
    model = PPO(
        "MultiInputPolicy",
        vec_env(config, env_id="MinVLA-Synthetic-Click-v0"),
        policy_kwargs=dict(
            features_extractor_class=VLAFeaturesExtractor, features_extractor_kwargs=dict(checkpoint=tmp_path / "bc")
        ),
        n_steps=32,
        batch_size=32,
        seed=0,
    )
    extractor = model.policy.features_extractor
    assert extractor.channels_first and extractor.features_dim == 2 * config.n_embd  # behind SB3's VecTransposeImage
    # SB3's orthogonal init of the extractor leaves the VLA alone: it starts from the checkpoint.
    checkpoint = VLA.from_checkpoint(tmp_path / "bc").state_dict()
    assert all(torch.equal(v, checkpoint[k]) for k, v in extractor.vla.state_dict().items())
    before = [p.clone() for p in extractor.vla.blocks.parameters()]
    model.learn(64)
    assert any(not torch.equal(a, b) for a, b in zip(before, extractor.vla.blocks.parameters(), strict=True))
    result = evaluate(model, "MinVLA-Synthetic-Click-v0", 4, env_kwargs={"size": SIZE}, progress=False)
    assert result.episodes == 4 and result.invalid_episodes == 0  # evaluate() takes the SB3 model as it is


def test_bad_input_is_a_clear_error(tmp_path):
    config = VLAConfig.preset("tiny", image_size=SIZE)
    lr = lambda _: 1e-4  # noqa: E731
    env = flat_env(config)
    with pytest.raises(ValueError, match="FlatActionWrapper\\(env, coord_bins=64\\)"):
        VLAPolicy(env.observation_space, FlatActionWrapper(gym.make("MinVLA-Synthetic-v0", size=SIZE), 8).action_space, lr,
                  vla_config=config.to_dict())  # fmt: skip
    with pytest.raises(ValueError, match="make the env with size=64"):
        VLAFeaturesExtractor(gym.make("MinVLA-Synthetic-v0", size=96).observation_space, config=config)
    with pytest.raises(ValueError, match="point_head='patch'"):
        VLAPolicy(env.observation_space, env.action_space, lr, vla_config={**config.to_dict(), "point_head": "regress"})
    with pytest.raises(ValueError, match="exactly one of --model DIR or --resume"):
        FinetuneConfig()
    with pytest.raises(ValueError, match="not a registered id"):
        FinetuneConfig(model="x", env="MinVLA-Nowhere-v0")
    assert main(["finetune", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2


def test_minvla_finetune_end_to_end_resume_and_eval(tmp_path, capsys):
    tiny_vla(seed=4).save(tmp_path / "bc")
    out = tmp_path / "ft"
    common = ["--env", "MinVLA-Synthetic-Click-v0", "--out", str(out), "--n-envs", "2", "--n-steps", "32",
              "--batch-size", "32", "--n-epochs", "2", "--eval-episodes", "4", "--lr", "1e-3", "--no-progress"]  # fmt: skip
    assert main(["finetune", "--model", str(tmp_path / "bc"), "--timesteps", "128", "--bc-steps", "1", *common]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["timesteps"] == 128 and len(summary["evaluations"]) == 5
    assert (out / "checkpoints" / "ppo_128_steps.zip").is_file() and (out / "best" / "model.safetensors").is_file()
    assert any((out / "tb").rglob("events.out.tfevents.*"))
    bc, tuned = VLA.from_checkpoint(tmp_path / "bc"), VLA.from_checkpoint(out / "last")
    assert any(not torch.equal(a, b) for a, b in zip(bc.parameters(), tuned.parameters(), strict=True))

    assert main(["finetune", "--resume", "--timesteps", "192", "--vec-env", "dummy", *common]) == 0
    assert json.loads(capsys.readouterr().out)["timesteps"] == 192
    assert (out / "checkpoints" / "ppo_192_steps.zip").is_file()

    result = tmp_path / "eval.json"
    args = ["eval", "--model", str(out), "--env", "MinVLA-Synthetic-Click-v0", "--episodes", "4", "--json", str(result)]
    assert main([*args, "--quiet", "--keep", "0", "--num-envs", "2"]) == 0
    assert json.loads(result.read_text())["episodes"] == 4


def test_minvla_finetune_stops_at_its_time_budget(tmp_path, capsys):
    tiny_vla(seed=5).save(tmp_path / "bc")
    args = ["finetune", "--model", str(tmp_path / "bc"), "--env", "MinVLA-Synthetic-Click-v0", "--out",
            str(tmp_path / "ft"), "--timesteps", "1000000", "--minutes", "0.05", "--n-envs", "2", "--n-steps", "16",
            "--batch-size", "32", "--vec-env", "dummy", "--eval-episodes", "0", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert 0 < summary["timesteps"] < 1_000_000 and summary["seconds"] < 60
    assert main([*args[:-1], "--minutes", "-1"]) == 2


def test_make_envs_mixes_comma_separated_ids():
    envs = make_envs(
        "MinVLA-Synthetic-Type-v0,MinVLA-Synthetic-Click-v0", VLAConfig.preset("tiny", image_size=64), 4, 0
    )
    envs.reset()
    assert [info["task"] for info in envs.reset_infos] == ["Type", "Click", "Type", "Click"]
    assert envs.observation_space["image"].shape == (64, 64, 3)
    envs.close()
    with pytest.raises(ValueError, match="MinVLA-Nowhere-v0"):
        FinetuneConfig(model="x", env="MinVLA-Synthetic-v0,MinVLA-Nowhere-v0")


def test_the_pretraining_scripts_ppo_stages_and_their_average(tmp_path):
    """examples/pretrain.py's last stages (PPO on Scroll with the anchor) run from stage 8 on disk, write VLAs that
    differ from it and from each other, stage 11 is the uniform average of stages 9 and 10, and a short run leaves
    the shipped checkpoint alone."""
    import hashlib
    import os
    import subprocess
    import sys

    from minvla_gym.quickstart import PRETRAINED

    shipped = hashlib.sha256((PRETRAINED / "model.safetensors").read_bytes()).hexdigest()
    tiny_vla(seed=6).save(tmp_path / "pretrain8")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "examples/pretrain.py", "--from-stage", "9", "--out",
                           str(tmp_path / "pretrain"), "--ppo-minutes", "0.2"], capture_output=True, text=True,
                          timeout=240, cwd=root, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stage 9:" in done.stdout and "stage 10:" in done.stdout and "copied" not in done.stdout
    start, nine, ten, soup = (VLA.from_pretrained(tmp_path / f"pretrain{k}").state_dict() for k in (8, 9, 10, 11))
    assert any(not torch.equal(start[k], nine[k]) for k in start) and any(
        not torch.equal(nine[k], ten[k]) for k in start
    )
    assert all(torch.allclose(soup[k], (nine[k] + ten[k]) / 2, atol=1e-6) for k in start)  # SOUP_STAGES
    assert hashlib.sha256((PRETRAINED / "model.safetensors").read_bytes()).hexdigest() == shipped
