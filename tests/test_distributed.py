"""Several processes (gloo, on the CPU) give the same step as one process on the whole batch.

Each test starts 2 processes the way torchrun does (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT in the environment), lets each take its half of a batch, and compares the losses and
the new weights with one process that takes the whole batch.
"""

import contextlib
import io
import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from anomaly_lib import distributed

WORLD = 2
SAGAN_COUNTS = {"train_normal": 12, "unlabeled_normal": 6, "unlabeled_abnormal": 8, "test_normal": 2,
                "test_abnormal": 2}


def free_ports(n: int) -> list[int]:
    """n different free ports (the sockets are held open together, so none is handed out twice)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _as_torchrun(rank, world, port, join, worker, args):
    """What torchrun does for one process, then the worker; `join`: join the process group first
    (command-line workers leave that to the command lines, as under torchrun)."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    if join:
        distributed.start("cpu")
    try:
        worker(*args)
    finally:
        distributed.stop()


def run_processes(worker, *args, world=WORLD, join=True):
    mp.spawn(_as_torchrun, args=(world, free_ports(1)[0], join, worker, args), nprocs=world)


def run_command_line(main, argv, port=None) -> tuple[int, str]:
    """A command line's exit status and what it printed on stderr; `port`: its own rendezvous, as
    a new torchrun launch has (a process group made again at once on one port can fail to connect)."""
    if port is not None:
        os.environ["MASTER_PORT"] = str(port)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def count_calls(module, name: str, counts: dict) -> None:
    """Wrap `module.name` so that `counts[name]` counts its calls in this process."""
    original = getattr(module, name)
    counts[name] = 0

    def counted(*args, **kwargs):
        counts[name] += 1
        return original(*args, **kwargs)

    setattr(module, name, counted)


# ---------------------------------------------------------------------------------------- SAGAN
JOIN_CALLS = {"one G call": True, "three G calls": False}
# The ablations of issue 11 under DDP: (join_calls, config changes). Without the critic, D is never
# called or stepped (nor its float16 scaler); without x_B′, G is called on two images per row.
ABLATIONS = {"no critic": (True, {"lambda_adv": 0.0}), "no synthetic anomalies": (False, {"lambda_mse": 0.0}),
             "no critic, float16": (True, {"lambda_adv": 0.0, "amp_dtype": "fp16"})}


def sagan_config(root, folder, **changes):
    from sagan_lib.config import SaganConfig

    settings = dict(dataset="folder", data_root=str(root), image_size=32, g_conv_dim=4, d_conv_dim=4,
                    g_repeat_num=1, d_repeat_num=5, batch_size=4, device="cpu", num_iters=4,
                    model_save_dir=str(folder / "models"), sample_dir=str(folder / "samples"))
    return SaganConfig(**{**settings, **changes})


def sagan_trainer(config, join_calls):
    from sagan_lib.data import MedADTrainSet
    from sagan_lib.train import SaganTrainer

    trainer = SaganTrainer(config, MedADTrainSet(config.data_root, config.image_size, progress=False),
                           log=lambda *_: None)
    trainer.join_calls = join_calls
    return trainer


def sagan_state(trainer, losses):
    """What the comparison needs: losses, weights and running statistics, Adam's moments, the RNG,
    the float16 scalers."""
    return {"losses": losses, "G": trainer.G.state_dict(), "D": trainer.D.state_dict(),
            "G_moments": adam_first_moments(trainer.G, trainer.g_optimizer),
            "D_moments": adam_first_moments(trainer.D, trainer.d_optimizer), "rng": torch.get_rng_state(),
            "scalers": {"D": trainer.d_amp.state_dict(), "G": trainer.g_amp.state_dict()}}


def adam_first_moments(network, optimizer):
    """Adam's running mean of each parameter's gradients: the gradients a step was made from (none
    for a network that never stepped)."""
    return {name: optimizer.state[p]["exp_avg"].clone() for name, p in network.named_parameters()
            if p in optimizer.state}


def _sagan_worker(root, folder):
    """For each way of calling G: one step of each network (iteration 1: critic; iteration 2:
    critic and generator), a checkpoint, and two more iterations."""
    for name, join_calls in JOIN_CALLS.items():
        (folder / name).mkdir(exist_ok=True)
        trainer = sagan_trainer(sagan_config(root, folder / name), join_calls)
        losses = [trainer.train_step() for _ in range(2)]
        torch.save(sagan_state(trainer, losses), folder / name / f"step_rank{distributed.rank()}.pt")
        trainer.save()
        losses = [trainer.train_step() for _ in range(2)]
        torch.save(sagan_state(trainer, losses), folder / name / f"resumed_rank{distributed.rank()}.pt")
    for name, (join_calls, changes) in ABLATIONS.items():
        (folder / name).mkdir(exist_ok=True)
        trainer = sagan_trainer(sagan_config(root, folder / name, **changes), join_calls)
        losses = [trainer.train_step() for _ in range(2)]
        torch.save(sagan_state(trainer, losses), folder / name / f"step_rank{distributed.rank()}.pt")


@pytest.fixture(scope="module")
def medad_root(tmp_path_factory):
    from anomaly_lib.phantoms import make_phantom_dataset

    return make_phantom_dataset(tmp_path_factory.mktemp("medad") / "data", "medad", 32, SAGAN_COUNTS, seed=4)


@pytest.fixture(scope="module")
def sagan_two_processes(medad_root, tmp_path_factory):
    """One launch of 2 processes, shared by the SAGAN tests: the folder of each join mode."""
    folder = tmp_path_factory.mktemp("sagan_ddp")
    run_processes(_sagan_worker, medad_root, folder)
    return {name: folder / name for name in [*JOIN_CALLS, *ABLATIONS]}


def load_ranks(folder, what):
    return [torch.load(folder / f"{what}_rank{r}.pt", weights_only=True) for r in range(WORLD)]


def assert_same_losses(expected, actual, tolerance=1e-5):
    for step, (one, many) in enumerate(zip(expected, actual), start=1):
        assert one.keys() == many.keys()
        for name in one:
            assert abs(one[name] - many[name]) <= tolerance * max(1.0, abs(one[name])), (step, name)


def assert_same_step(one: dict, many: dict, network: str, lr: float):
    """The same gradients and, wherever a gradient is larger than its rounding error, the same new weights.

    Gradients are compared through Adam's first moments (its running mean of the gradients);
    they agree within 1e-4 of the largest one. That is float32 rounding: on the CPU the
    convolution algorithm, and so the order of the sums, depends on the batch size (one G call
    on 3B images and three calls on B differ as much, see test_sagan_training.py). Adam's first
    step moves each weight by about ±lr whatever the gradient's size, so where a gradient is
    within rounding of 0 (e.g. the biases of convolutions followed by an InstanceNorm without
    affine parameters, whose true gradient is exactly 0) its sign, and the weight, may differ
    by up to 2·lr. Everywhere else the new weights agree within 1e-6.
    """
    moments = one[f"{network}_moments"]
    largest = max(moment.abs().max().item() for moment in moments.values())
    for name, moment in moments.items():
        assert (moment - many[f"{network}_moments"][name]).abs().max().item() <= 1e-4 * largest, name
    for name, value in one[network].items():
        difference = (value.double() - many[network][name].double()).abs()  # weights, running statistics
        if name in moments:
            informative = moments[name].abs() > 1e-3 * largest  # ten times the rounding allowed above
            assert (difference * informative).max().item() < 1e-6, name
            assert difference.max().item() <= 2 * lr, name
        else:  # running statistics: no optimiser in between
            assert difference.max().item() < 1e-6, name


def differences(one: dict, many: dict, networks) -> str:
    """The largest differences, in words (shown with `pytest -s`)."""
    losses = max(abs(a[k] - b[k]) for a, b in zip(one["losses"], many["losses"]) for k in a)
    words = [f"max |Δloss| {losses:.1e}"]
    for network in networks:
        moments = one[f"{network}_moments"]
        if not moments:  # it has not stepped (a float16 scaler skipped its first step)
            continue
        largest = max(m.abs().max().item() for m in moments.values())
        gradients = max((m - many[f"{network}_moments"][k]).abs().max().item() for k, m in moments.items())
        weights = max((w.double() - many[network][k].double()).abs().max().item() for k, w in one[network].items())
        informative = max(((w.double() - many[network][k].double()).abs() * (moments[k].abs() > 1e-3 * largest)).max().item()
                          for k, w in one[network].items() if k in moments)
        words.append(f"{network}: max |Δgradient moment| {gradients:.1e} (largest moment {largest:.1e}), max |Δweight "
                     f"or statistic| {weights:.1e}, {informative:.1e} where the gradient exceeds its rounding")
    return "; ".join(words)


@pytest.mark.parametrize("join_mode", JOIN_CALLS)
def test_sagan_two_processes_match_one_process_on_the_whole_batch(sagan_two_processes, medad_root, tmp_path,
                                                                 join_mode):
    """One step of each network. Same sources, boxes, keep-masks and interpolation weights; DDP
    averages the gradients, the penalty's double backward included; running statistics averaged."""
    ranks = load_ranks(sagan_two_processes[join_mode], "step")
    single = sagan_trainer(sagan_config(medad_root, tmp_path), JOIN_CALLS[join_mode])
    one = sagan_state(single, [single.train_step() for _ in range(2)])

    print(f"\nSAGAN, {join_mode}, 2 processes vs 1 after one step of each network: "
          + differences(one, ranks[0], ("G", "D")))
    assert_same_losses(one["losses"], ranks[0]["losses"])
    for rank in ranks:
        assert rank["losses"] == ranks[0]["losses"]  # every process logs the same averaged losses
        assert torch.equal(rank["rng"], one["rng"])  # the random streams stay in step with one process
        for network in ("G", "D"):
            assert_same_step(one, rank, network, single.config.g_lr)


@pytest.mark.parametrize("ablation", ABLATIONS)
def test_sagan_ablations_on_two_processes_match_one_process(sagan_two_processes, medad_root, tmp_path, ablation):
    """λ_adv = 0 and λ_mse = 0 under DDP (iteration 1: the critic's turn; 2: the generator's). Without
    the critic, D is never called or stepped on any process and DDP does not wait for its gradients;
    under float16 its scaler keeps its first scale. The draws stay those of one process."""
    join_calls, changes = ABLATIONS[ablation]
    ranks = load_ranks(sagan_two_processes[ablation], "step")
    single = sagan_trainer(sagan_config(medad_root, tmp_path, **changes), join_calls)
    initial_D = {name: value.clone() for name, value in single.D.state_dict().items()}
    one = sagan_state(single, [single.train_step() for _ in range(2)])
    no_critic, float16 = changes.get("lambda_adv") == 0, changes.get("amp_dtype") == "fp16"

    print(f"\nSAGAN, {ablation}, 2 processes vs 1 after iterations 1 and 2: "
          + differences(one, ranks[0], ("G",) if no_critic else ("G", "D")))
    expected_names = [set() if no_critic else {"D/loss_real", "D/loss_fake", "D/loss_gp", "D/loss"}]
    expected_names.append(expected_names[0] | {"G/loss_id", "G/loss"} | ({"G/loss_fake"} if not no_critic else set())
                          | ({"G/loss_mse"} if changes.get("lambda_mse") != 0 else set()))
    for rank in ranks:
        assert rank["losses"] == ranks[0]["losses"]  # every process logs the same averaged losses
        assert torch.equal(rank["rng"], one["rng"])  # the random streams stay in step with one process
        assert [set(losses) - {"G/skipped"} for losses in rank["losses"]] == expected_names
        # float16 rounds differently for a batch of 2 and one of 4, so its comparison is looser
        assert_same_losses(one["losses"], rank["losses"], tolerance=1e-4 if float16 else 1e-5)
        if not float16:
            assert_same_step(one, rank, "G", single.config.g_lr)
        if no_critic:
            assert rank["D_moments"] == {}
            assert all(torch.equal(rank["D"][name], value) for name, value in initial_D.items())
        else:
            assert_same_step(one, rank, "D", single.config.d_lr)
        if float16:
            assert rank["scalers"]["D"]["scale"] == 2.0 ** 16 and rank["scalers"]["D"]["_growth_tracker"] == 0
            assert rank["scalers"]["G"] == one["scalers"]["G"]  # G's scaler stepped once, alike


def test_sagan_resumes_on_another_number_of_processes(sagan_two_processes, medad_root):
    """The checkpoint the 2 processes wrote after iteration 2, resumed in 1 process, gives what
    the 2 processes computed in iterations 3 and 4."""
    folder = sagan_two_processes["one G call"]
    two = load_ranks(folder, "resumed")[0]
    resumed = sagan_trainer(sagan_config(medad_root, folder), True)
    resumed.load()
    assert resumed.iteration == 2
    one = sagan_state(resumed, [resumed.train_step() for _ in range(2)])
    assert_same_losses(one["losses"], two["losses"])
    for network in ("G", "D"):
        assert_same_step(one, two, network, resumed.config.g_lr)


# The command line under torchrun: run folders, held-out calibration, the modes that run in rank 0 alone.
SAGAN_RUN = ["--mode", "train", "--dataset", "folder", "--image_size", "32", "--g_conv_dim", "4", "--d_conv_dim", "4",
             "--g_repeat_num", "1", "--d_repeat_num", "5", "--batch_size", "4", "--num_iters", "4",
             "--model_save_step", "2", "--log_step", "2", "--select_on", "synthetic-val", "--val_holdout", "2",
             "--device", "cpu", "--quiet"]


def sagan_run_flags(root, folder) -> list:
    return [*SAGAN_RUN, "--data_root", str(root), "--model_save_dir", str(folder / "models"),
            "--sample_dir", str(folder / "samples")]


def _sagan_command_line_worker(root, folder, ports):
    """A run; the same run again (refused); resumed past a stale temporary file; the run again with
    --overwrite; predict. Each command line joins and leaves the process group itself."""
    import anomaly_lib.calibration
    import anomaly_lib.runs
    from sagan_lib.cli import main

    rank, counts = int(os.environ["RANK"]), {}
    count_calls(anomaly_lib.runs, "acquire_lock", counts)  # the run folder's lock
    count_calls(anomaly_lib.calibration, "write_json", counts)  # calibration.json
    flags, stale = sagan_run_flags(root, folder), folder / "models" / ".last.ckpt.stale.tmp"
    results = {"first": run_command_line(main, flags, ports[0]), "calls": dict(counts)}
    results["again"] = run_command_line(main, flags, ports[1])
    if rank == 0:
        stale.write_bytes(b"half a checkpoint")
    results["resumed"] = run_command_line(main, [*flags, "--num_iters", "6", "--resume"], ports[2])
    results["stale_left"] = stale.exists()
    results["overwritten"] = run_command_line(main, [*flags, "--overwrite"], ports[3])
    results["predict"] = run_command_line(main, [
        "--mode", "predict", "--checkpoint", str(folder / "models" / "last.ckpt"), "--input", str(root / "images"),
        "--save_dir", str(folder / "predictions"), "--specificity", "0.5", "--quiet"], ports[4])
    (folder / f"results_rank{rank}.json").write_text(json.dumps(results))


@pytest.fixture(scope="module")
def sagan_command_lines(medad_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sagan_command_line")
    run_processes(_sagan_command_line_worker, medad_root, folder, free_ports(5), join=False)
    return folder, [json.loads((folder / f"results_rank{r}.json").read_text()) for r in range(WORLD)]


def test_sagan_run_folder_is_claimed_by_rank_0_and_its_refusal_stops_every_process(sagan_command_lines):
    """Rank 0 alone takes the lock and checks the folder; rank 1 is not refused by that lock. A second
    run into the folder is refused on both processes with rank 0's error (no process waits for
    ever); --resume cleans a stale temporary file; --overwrite starts the run afresh."""
    folder, ranks = sagan_command_lines
    for rank in ranks:
        assert [rank[run][0] for run in ("first", "again", "resumed", "overwritten")] == [0, 1, 0, 0], rank
    assert ranks[0]["calls"]["acquire_lock"] >= 1 and ranks[0]["calls"]["write_json"] >= 1
    assert ranks[1]["calls"] == {"acquire_lock": 0, "write_json": 0}  # no lock, no calibration.json
    refusal = "already holds a run (last.ckpt). Add --resume to continue it, or --overwrite"
    assert ranks[0]["again"][1].startswith("error: " + str(folder / "models") + " " + refusal)
    assert ranks[1]["again"][1].startswith("error: process 0 (of 2) stopped: " + str(folder / "models") + " " + refusal)
    assert all(err.count("\n") == 1 for err in (ranks[0]["again"][1], ranks[1]["again"][1]))  # one line each
    assert not ranks[0]["stale_left"]
    assert not (folder / "models" / ".lock").exists()
    assert torch.load(folder / "models" / "last.ckpt", weights_only=True)["iteration"] == 4  # overwritten afresh


def test_sagan_heldout_scores_are_written_once_from_the_unwrapped_generator_in_eval_mode(sagan_command_lines,
                                                                                         medad_root, tmp_path):
    """calibration.json (written by rank 0 only, see above) holds last.ckpt's held-out scores, equal to
    scoring the held-out files in one process with that generator in eval mode. Two processes train as
    one does: rank 0's scoring and selection leave the shared random draws alone."""
    from anomaly_lib.calibration import weights_fingerprint
    from sagan_lib.cli import main
    from sagan_lib.data import MedADTrainSet, to_model_range
    from sagan_lib.generator import Generator
    from sagan_lib.scoring import score_images

    folder, _ = sagan_command_lines
    models = folder / "models"
    calibration = json.loads((models / "calibration.json").read_text())
    entries = {entry["checkpoint"]: entry for entry in calibration["heldout_scores"]}
    assert set(entries) == {"last.ckpt", "best-G.ckpt"}
    state = torch.load(models / "last.ckpt", weights_only=True)
    generator = Generator(conv_dim=4, repeat_num=1, image_size=32)
    generator.load_state_dict(state["G"])
    assert entries["last.ckpt"]["weights"] == weights_fingerprint(generator.state_dict())
    data = MedADTrainSet(medad_root, 32, holdout=2, progress=False)
    assert calibration["heldout_files"] == [str(path.resolve()) for path in data.heldout_paths]
    scores = score_images(generator, to_model_range(data.heldout_normals).unsqueeze(1), 2).tolist()
    assert entries["last.ckpt"]["scores"]["mean_difference"] == pytest.approx(scores, rel=1e-6)

    assert main(sagan_run_flags(medad_root, tmp_path)) == 0  # the same run in one process
    one = torch.load(tmp_path / "models" / "last.ckpt", weights_only=True)
    untimed = [[{k: v for k, v in row.items() if k != "seconds"} for row in run["history"]] for run in (one, state)]
    assert_same_losses(*untimed)
    assert one["best"]["iteration"] == state["best"]["iteration"]
    one_scores = json.loads((tmp_path / "models" / "calibration.json").read_text())["heldout_scores"]
    assert {e["checkpoint"]: e["scores"]["mean_difference"] for e in one_scores}["last.ckpt"] == \
        pytest.approx(scores, rel=1e-4)


def test_sagan_predict_under_torchrun_runs_in_rank_0_alone(sagan_command_lines):
    folder, ranks = sagan_command_lines
    assert [rank["predict"][0] for rank in ranks] == [0, 0]
    assert (folder / "predictions" / "predictions.csv").is_file()


def test_my_rows_keeps_this_processes_share_of_every_group(monkeypatch):
    batch = torch.arange(12)  # e.g. [x_A; x_B; x_B′] of 4 images each
    assert torch.equal(distributed.my_rows(batch, groups=3), batch)  # one process: all of it
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    assert distributed.my_rows(batch, groups=3).tolist() == [2, 3, 6, 7, 10, 11]
    assert distributed.my_rows(batch).tolist() == [6, 7, 8, 9, 10, 11]
    assert distributed.local_batch_size(16) == 8
    with pytest.raises(ValueError, match="--batch_size 5 does not split evenly over 2 processes"):
        distributed.local_batch_size(5)


# ---------------------------------------------------------------------------------------- SWSSL
SWSSL_TINY = ["--image_size", "64", "--patch_size", "32", "--step_size", "16", "--backbone", "resnet18",
              "--no-pretrained", "--batch_size", "4", "--num_workers", "0", "--no-progress", "--scoring", "both",
              "--val_holdout", "2"]


def swssl_model():
    from swssl_lib.model import PatchModel

    torch.manual_seed(0)
    return PatchModel(backbone="resnet18", pretrained=False)


def swssl_batch(size=4):
    """A fixed batch (view1, view2, neighbour, similarity) of `size` 32×32 patches."""
    generator = torch.Generator().manual_seed(1)
    views = [torch.randn(size, 3, 32, 32, generator=generator) for _ in range(3)]
    return (*views, torch.rand(size, generator=generator))


def swssl_step(model, batch):
    """One training step with BatchNorm frozen (eval mode): SyncBatchNorm, which makes BatchNorm's
    statistics the whole batch's on GPUs, does not run on a CPU. With the clipping out of reach, so that
    the gradients are compared as computed (clipping at ±0.1 is the same function on both sides)."""
    from swssl_lib.train import TrainConfig, make_optimizer, parallel_model, train_step

    config = TrainConfig(batch_size=len(batch[0]) * distributed.world_size(), clip_value=1e9)
    optimizer = make_optimizer(model, config)
    train_model = parallel_model(model, "cpu", log=lambda *_: None)
    model.train()
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.eval()
    loss = train_step(train_model, batch, optimizer, config, "cpu")
    return {"loss": loss.item(), "model": model.state_dict(),
            "grads": {name: p.grad.clone() for name, p in model.named_parameters()}}


def swssl_evaluation(images, bank_path):
    """Both scorings of 3 test images against a bank of 5 training images."""
    from torch.utils.data import DataLoader, TensorDataset

    from swssl_lib.evaluate import evaluate

    train = DataLoader(TensorDataset(images[:5], torch.zeros(5)), batch_size=2)
    test = DataLoader(TensorDataset(images[5:], torch.tensor([0, 1, 1])), batch_size=2)
    result = evaluate(swssl_model(), train, test, 32, 16, k=1, bank_path=bank_path, progress=False)
    return {"scores": {name: torch.from_numpy(scores) for name, scores in result.scores.items()},
            "labels": torch.from_numpy(result.labels), "maps": result.patch_maps}


def swssl_images():
    return torch.rand(8, 3, 64, 64, generator=torch.Generator().manual_seed(2))


def _swssl_worker(folder, chest_root):
    rank = distributed.rank()
    step = swssl_step(swssl_model(), [distributed.my_rows(x) for x in swssl_batch()])
    evaluation = swssl_evaluation(swssl_images(), folder / "bank.npy")
    torch.save({"step": step, "evaluation": evaluation}, folder / f"swssl_rank{rank}.pt")

    from swssl_lib.cli import main

    main(["--dataset_path", str(chest_root), "--save_dir", str(folder / "run"), "--epochs", "1", *SWSSL_TINY])


@pytest.fixture(scope="module")
def chest_root(tmp_path_factory):
    from anomaly_lib.phantoms import make_phantom_dataset

    return make_phantom_dataset(tmp_path_factory.mktemp("chest"), layout="chest", image_size=64,
                                counts={"train_normal": 8, "test_normal": 3, "test_abnormal": 3})


@pytest.fixture(scope="module")
def swssl_two_processes(chest_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("swssl_ddp")
    run_processes(_swssl_worker, folder, chest_root)
    return folder


def test_swssl_two_processes_match_one_process_on_the_whole_batch(swssl_two_processes):
    """The gathered twin loss is the whole batch's; all_gather's backward (a sum over processes)
    and DDP's average cancel, so the gradients and the new weights are one process's."""
    ranks = [torch.load(swssl_two_processes / f"swssl_rank{r}.pt", weights_only=True)["step"]
             for r in range(WORLD)]
    one = swssl_step(swssl_model(), swssl_batch())
    largest = max(g.abs().max().item() for g in one["grads"].values())
    grads = max((g - ranks[0]["grads"][k]).abs().max().item() for k, g in one["grads"].items())
    weights = max((w.double() - ranks[0]["model"][k].double()).abs().max().item() for k, w in one["model"].items())
    print(f"\nSWSSL, 2 processes vs 1, one step: |Δloss| {abs(one['loss'] - ranks[0]['loss']):.1e} "
          f"(loss {one['loss']:.4f}); max |Δgradient| {grads:.1e} (largest {largest:.1e}); max |Δweight| {weights:.1e}")
    for rank in ranks:
        assert rank["loss"] == pytest.approx(one["loss"], rel=1e-5)
        for name, grad in one["grads"].items():
            assert (grad - rank["grads"][name]).abs().max().item() <= 1e-5 * largest, name
        for name, value in one["model"].items():
            assert (value.double() - rank["model"][name].double()).abs().max().item() < 1e-6, name


def test_swssl_bank_and_scores_shared_by_two_processes_equal_one_process(swssl_two_processes, tmp_path):
    """Each process writes its share of the training images into one bank file and scores its
    share of the test images; every process ends with everyone's scores."""
    from swssl_lib.bank import FeatureBank

    ranks = [torch.load(swssl_two_processes / f"swssl_rank{r}.pt", weights_only=True)["evaluation"]
             for r in range(WORLD)]
    one = swssl_evaluation(swssl_images(), tmp_path / "bank.npy")
    shared_bank = FeatureBank.open(swssl_two_processes / "bank.npy").array
    assert abs(shared_bank.astype("float32") - FeatureBank.open(tmp_path / "bank.npy").array.astype("float32")).max() < 1e-3
    for rank in ranks:
        assert rank["labels"].tolist() == one["labels"].tolist() == [0, 1, 1]
        for name, scores in one["scores"].items():
            assert torch.allclose(rank["scores"][name], scores, rtol=1e-4), name
        assert torch.allclose(rank["maps"], one["maps"], rtol=1e-4)


def test_swssl_command_line_on_two_processes_then_resumed_on_one(swssl_two_processes, chest_root):
    """Under torchrun rank 0 writes the checkpoint, the bank and the report; the checkpoint
    resumes in one process."""
    import json

    from swssl_lib.cli import main

    run = swssl_two_processes / "run"
    for name in ["last.pt", "feature_bank.npy", "report.json", "roc_reference.png", "heatmaps_patch_knn.png"]:
        assert (run / name).is_file(), name
    checkpoint = torch.load(run / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 1 and "module." not in next(iter(checkpoint["model"]))  # plain keys
    main(["--dataset_path", str(chest_root), "--save_dir", str(run), "--epochs", "2", "--resume", *SWSSL_TINY])
    history = json.loads((run / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1, 2]
