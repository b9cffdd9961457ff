"""The `minvla` command: bad input is one line on stderr and exit code 2 for every subcommand; run folders, the
shipped weights by name, defaults, the version, and the confirmation before acting on the real screen."""

import io
import json
import subprocess
import sys

import pytest
import torch

from minvla_gym.cli import main
from minvla_gym.policies.model import VLA, VLAConfig, find_checkpoint, shipped_checkpoint

FAST = ["--synthetic", "--preset", "tiny", "--batch-size", "2", "--workers", "0", "--no-progress", "--eval-episodes",
        "0"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An untrained tiny VLA as a checkpoint folder."""
    return VLA(VLAConfig.preset("tiny", image_size=64)).save(tmp_path_factory.mktemp("tiny"))


def bad_inputs(tmp):
    """(argv, words the error must contain) for each subcommand."""
    a_file = tmp / "a-file"
    a_file.write_text("not a folder")
    (tmp / "empty").mkdir()
    (tmp / "no-run").mkdir()
    cuda = [] if torch.cuda.is_available() else [(["eval", "--model", "small", "--device", "cuda"], "CUDA")]
    return [
        (["nope"], "invalid choice: 'nope'"),
        (["collect", "--out", str(a_file)], "is a file"),
        (["collect", "--episodes", "-1", "--out", str(tmp / "c")], "episodes must be a positive int"),
        (["collect", "--env", "MinVLA-Nope-v0", "--out", str(tmp / "c")], "MinVLA-Nope"),
        (["collect", "--episodes", "many"], "invalid int value: 'many'"),
        (["train"], "one of the arguments --synthetic --data is required"),
        (["train", "--synthetic", "--data", str(tmp)], "not allowed with argument"),
        (["train", "--data", str(tmp / "missing")], "no such dataset folder"),
        (["train", "--data", str(tmp / "empty"), "--out", str(tmp / "t")], "meta.json: missing"),
        (["train", "--synthetic", "--init", str(tmp / "no-run"), "--out", str(tmp / "t")], "nor a run folder"),
        (["train", "--synthetic", "--families", "Click,Fly"], "unknown families ['Fly']"),
        (["train", "--synthetic", "--workers", "-1"], "workers=-1 must be >= 0"),
        (["train", "--synthetic", "--lr", "nan"], "lr=nan must be a finite number > 0"),
        (["train", "--synthetic", "--log-interval", "0"], "log_interval=0 must be >= 1"),
        (["train", "--synthetic", "--max-iters", "-5"], "max_iters=-5 must be >= 1"),
        (["train", *FAST, "--out", str(a_file)], "is a file, not a folder"),
        (["train", *FAST, "--out", str(tmp / "nothing-yet"), "--resume"], "holds no run to continue"),
        (["train", *FAST, "--device", "tpu"], "expected auto, cpu, cuda"),
        (["eval"], "one of the arguments --model --expert --random is required"),
        (["eval", "--model", str(tmp / "nope")], "nope: no such folder"),
        (["eval", "--model", str(tmp / "no-run")], "nor a run folder"),
        (["eval", "--expert", "--env", "MinVLA-Nope-v0"], "MinVLA-Nope"),
        (["eval", "--expert", "--episodes", "0"], "--episodes and --num-envs must be >= 1"),
        (["eval", "--expert", "--num-envs", "0"], "--episodes and --num-envs must be >= 1"),
        (["eval", "--expert", "--size", "50", "--episodes", "1", "--out", str(tmp / "e")], "at least 64 pixels"),
        (["eval", "--expert", "--json", str(a_file / "r.json")], "a-file"),
        *cuda,
        (["quickstart", "--minutes", "0"], "--minutes must be positive"),
        (["quickstart", "--init", str(tmp / "nowhere")], "nowhere: no such folder"),
        (["quickstart", "--init", "small", "--from-scratch"], "not allowed with argument"),
        (["record", "--instruction", "x", "--episodes", "-2"], "--episodes must be >= 0"),
        (["record", "--instruction", "x", "--region", "a,b", "--out", str(tmp / "r")], "--region must be"),
        (["record", "--out", str(tmp / "r")], "one of the arguments --instruction --instructions is required"),
        (["run", "--model", "small", "--instruction", "x" * 97], "97 bytes, longer than the 96"),
        (["run", "--model", "small", "--instruction", "x", "--region", "a,b"], "--region must be"),
        (["run", "--model", str(tmp / "nope"), "--instruction", "x", "--dry-run"], "no such folder"),
        (["run", "--model", "small", "--instruction", "x", "--steps", "0"], "--steps must be >= 1"),
        (["finetune"], "one of the arguments --model --resume is required"),
        (["finetune", "--model", str(tmp / "nope"), "--out", str(tmp / "f")], "nope: no such folder"),
        (["finetune", "--resume", "--out", str(tmp / "nothing-here")], "holds no run to continue"),
        (["finetune", "--model", "small", "--n-envs", "0"], "n_envs=0 must be >= 1"),
        (["finetune", "--model", "small", "--env", "MinVLA-Nope-v0"], "not a registered id"),
    ]


def test_every_subcommand_answers_bad_input_with_one_line_and_exit_code_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MINVLA_TRACEBACK", raising=False)
    monkeypatch.chdir(tmp_path)  # whatever a default --out would create lands here
    for argv, words in bad_inputs(tmp_path):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2, (argv, out, err)
        assert err.count("\n") == 1 and err.startswith(f"minvla {argv[0] if argv[0] != 'nope' else ''}".strip()), (
            argv,
            err,
        )
        assert ": error: " in err and words in err and "Traceback" not in err, (argv, err)


def test_a_real_process_prints_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "minvla_gym.cli", "eval", "--model", str(tmp_path / "x")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no such folder" in done.stderr


def test_version_and_defaults_in_every_help(capsys):
    from minvla_gym import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"minvla-gym {__version__}"
    for command in ("collect", "train", "eval", "quickstart", "record", "run", "finetune"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: " in text, command
        if command in ("collect", "train", "eval", "quickstart", "finetune"):
            assert "(default: 0)" in text, command  # --seed 0: a zero is a default to show
        if command in ("train", "quickstart", "finetune", "eval", "run"):
            assert "auto (cuda if available)" in text, command  # one --device default everywhere
        if command in ("train", "quickstart", "finetune"):
            assert f"(default: runs/{command})" in text, command  # one --out convention for runs


def test_run_folders_one_layout_reuse_refused_and_model_takes_a_run_folder(tmp_path, capsys):
    out = tmp_path / "bc"
    assert main(["train", *FAST, "--max-iters", "2", "--out", str(out)]) == 0
    assert {"last", "best", "metrics.csv", "train_config.json", "curves.png"} <= {p.name for p in out.iterdir()}
    capsys.readouterr()
    # The same --out again without --resume: refused, the run left as it was.
    before = (out / "metrics.csv").read_text()
    assert main(["train", *FAST, "--max-iters", "2", "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err and (out / "metrics.csv").read_text() == before
    # --model / --init take the run folder: best/ if there, else last/, and say which.
    assert find_checkpoint(out) == out / "best"
    (out / "best" / "model.safetensors").unlink()
    assert find_checkpoint(out, announce=True) == out / "last"
    assert "using its last/ checkpoint" in capsys.readouterr().err
    assert main(["eval", "--model", str(out), "--episodes", "2", "--quiet", "--keep", "0", "--out",
                 str(tmp_path / "e")]) == 0  # fmt: skip
    assert "using its last/" in capsys.readouterr().err
    assert main(["train", *FAST, "--max-iters", "1", "--init", str(out), "--out", str(tmp_path / "again")]) == 0


def test_the_shipped_weights_by_name(tmp_path):
    assert find_checkpoint("small") == shipped_checkpoint("small")
    vla = VLA.from_pretrained("small")
    assert vla.config == VLA.from_checkpoint(shipped_checkpoint("small")).config and not vla.training
    assert main(["eval", "--model", "small", "--env", "MinVLA-Synthetic-Click-v0", "--episodes", "2", "--quiet",
                 "--keep", "0", "--out", str(tmp_path)]) == 0  # fmt: skip
    assert json.loads((tmp_path / "eval.json").read_text())["episodes"] == 2


@pytest.mark.parametrize("command", ["eval", "finetune"])
def test_eval_and_finetune_ask_before_acting_on_the_real_desktop(command, tiny, tmp_path, capsys, monkeypatch):
    argv = [command, "--model", str(tiny), "--env", "MinVLA-Desktop-v0", "--out", str(tmp_path / "o")]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script: nobody to answer
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "Go? [y/N]" in out and err.count("\n") == 1 and "pass --yes" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(argv) == 1
    assert "aborted: nothing was performed" in capsys.readouterr().out
    assert not (tmp_path / "o" / "last").exists() and not (tmp_path / "o" / "eval.json").exists()
    # The synthetic envs and the task suite (its own windows only) never ask.
    from minvla_gym.envs.desktop.run import acts_on_the_real_screen

    assert acts_on_the_real_screen("MinVLA-Desktop-v0") and not acts_on_the_real_screen("MinVLA-DesktopSuite-v0")
    assert not acts_on_the_real_screen("MinVLA-Synthetic-v0")
