"""``neat train``: train a model, optionally with NEAT, and save a checkpoint."""

from __future__ import annotations

import os

import click

from neatxbar.cli.errors import NeatCommand, UserError, user_errors
from neatxbar.core.jsonout import dumps_strict

VGATE_HELP = "Gate voltage (V) of every crossbar layer, for NEAT and crossbar evaluation."


@click.command("train", cls=NeatCommand)
@click.option(
    "--model", "model_name", default="mlp", show_default=True, help="mlp, cnn, vgg11 or resnet18."
)
@click.option("--dataset", default="digits", show_default=True, help="digits, cifar10, cifar100.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder of CIFAR's pickles.")
@click.option("--download", is_flag=True, help="Fetch the CIFAR archive (checksum verified).")
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option(
    "--schedule", type=click.Choice(["none", "cosine", "step"]), default="cosine", show_default=True
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option("--max-steps", type=int, help="Stop after this many steps (smoke tests).")
@click.option(
    "--from",
    "start",
    type=click.Path(dir_okay=False),
    help="Start from this checkpoint (skips software training).",
)
@click.option("--lut", type=click.Path(dir_okay=False), help="Cell LUT for NEAT and evaluation.")
@click.option("--vgate", type=float, help=VGATE_HELP)
@click.option(
    "--vgate-per-layer",
    type=click.Path(dir_okay=False),
    help="TOML or JSON of layer = V_gate (with an optional default).",
)
@click.option("--neat", "use_neat", is_flag=True, help="Run NEAT after (or instead of) training.")
@click.option("--iterations", type=int, default=10, show_default=True, help="NEAT iterations.")
@click.option(
    "--neat-epochs", type=int, default=2, show_default=True, help="Epochs per NEAT iteration."
)
@click.option(
    "--neat-lr",
    type=float,
    default=1e-3,
    show_default=True,
    help="NEAT's Adam learning rate (the paper: 1e-5 for CIFAR models).",
)
@click.option("--hil", is_flag=True, help="Hardware in the loop: train through the emulation.")
@click.option(
    "--out", type=click.Path(dir_okay=False), default="checkpoints/model.pt", show_default=True
)
@click.option("--progress/--no-progress", default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def train_command(**options: object) -> None:
    """Train a model (software), optionally with NEAT on a LUT, and save a checkpoint.

    The checkpoint's place (--out) is checked before the training: not an input (--from, the
    LUT), and writable (its folder is created).
    """
    from neatxbar.lut.interp import CellLUT
    from neatxbar.mapping.config import check_v_gate
    from neatxbar.mapping.gates import load_gate_file
    from neatxbar.training.data import load_dataset
    from neatxbar.training.neat import NeatConfig
    from neatxbar.training.run import run_training
    from neatxbar.training.trainer import TrainConfig

    o = options
    if o["vgate"] is not None and o["vgate_per_layer"] is not None:
        raise UserError("give --vgate or --vgate-per-layer, not both")
    if (o["use_neat"] or o["hil"]) and (
        o["lut"] is None or (o["vgate"] is None and o["vgate_per_layer"] is None)
    ):
        raise UserError("NEAT needs --lut and --vgate (or --vgate-per-layer)")
    with user_errors():
        vgate = None if o["vgate"] is None else check_v_gate("--vgate", o["vgate"])
        v_gate = load_gate_file(o["vgate_per_layer"]) if o["vgate_per_layer"] else vgate
        config = TrainConfig(
            epochs=o["epochs"],
            batch_size=o["batch_size"],
            optimizer=o["optimizer"],
            lr=o["lr"],
            schedule=o["schedule"],
            seed=o["seed"],
            device=o["device"],
            max_steps=o["max_steps"],
        ).validate()
        splits = load_dataset(o["dataset"], o["data_dir"], download=o["download"], seed=o["seed"])
        lut = CellLUT.load(o["lut"]) if o["lut"] else None
        if lut is not None and v_gate is not None:  # off the LUT's gate grid: fail before training
            for value in v_gate.values() if isinstance(v_gate, dict) else (v_gate,):
                lut.gate_index(value)
        neat = None
        if o["use_neat"] or o["hil"]:
            neat = NeatConfig(
                iterations=o["iterations"],
                epochs_per_iteration=o["neat_epochs"],
                lr=o["neat_lr"],
                batch_size=o["batch_size"],
                seed=o["seed"],
                device=o["device"],
                hardware_in_the_loop=o["hil"],
            ).validate()
        result = run_training(
            o["model_name"],
            splits,
            config,
            o["out"],
            start=o["start"],
            lut=lut,
            v_gate=v_gate,
            neat=neat,
            progress=o["progress"],
        )
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return
    if o["as_json"]:
        click.echo(dumps_strict(result.header, indent=2, default=str))
        return
    click.echo(f"software accuracy {result.software_accuracy:.4f}")
    if result.neat is not None:
        for i, (acc, share) in enumerate(
            zip(result.neat.accuracy, result.neat.share, strict=True), start=1
        ):
            shares = ", ".join(f"{k}: {v:.3f}" for k, v in share.items())
            click.echo(f"NEAT {i:>3}: accuracy {acc:.4f}; linear share {shares}")
    if result.crossbar_accuracy is not None:
        click.echo(f"crossbar accuracy {result.crossbar_accuracy:.4f}")
    if result.checkpoint is not None:
        click.echo(f"saved {result.checkpoint}")
