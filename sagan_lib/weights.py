"""Loading generator weights: the authors' published checkpoints or our own.

The authors publish `SAGAN_G_*.ckpt` files (RSNA, VinDr-CXR, LAG) as plain
generator state dicts. Our trainer's checkpoints hold the generator under
`"G"`. Both load here, through `anomaly_lib.checkpoints.load_checkpoint_file`
(`weights_only=True`: a file cannot run code when it is opened).
"""

import torch

from anomaly_lib.checkpoints import (
    CheckpointError,
    load_checkpoint_file,
    refuse_non_finite_weights,
    state_dict_mismatch,
)

from .generator import Generator


def guess_generator_config(state_dict: dict) -> dict:
    """Read conv_dim, c_dim, repeat_num and num_memory off a generator state dict's shapes."""
    guess = {}
    stem = state_dict.get("layer1.0.weight")
    if stem is not None:
        guess["conv_dim"] = stem.shape[0]
        guess["c_dim"] = stem.shape[1] - 1
    blocks = {key.split(".")[1] for key in state_dict if key.startswith("bn2.") and ".main." in key}
    if blocks:
        guess["repeat_num"] = len(blocks)
    mixer = state_dict.get("p_bn1.0.weight")
    if mixer is not None and "conv_dim" in guess:
        num_bits = mixer.shape[1] - 2 * guess["conv_dim"]
        # A code of num_bits bits serves 2**(num_bits-1) … 2**num_bits − 1 windows.
        squares = [n * n for n in range(1, 64) if 2 ** (num_bits - 1) <= n * n < 2 ** num_bits]
        if len(squares) == 1:
            guess["num_memory"] = squares[0]
        elif squares:
            guess["num_memory_candidates"] = squares
    return guess


def _generator_state(checkpoint, path) -> dict:
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a generator state dict")
    state = checkpoint.get("G", checkpoint)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"{path} is neither a generator state dict nor a kit checkpoint with key 'G' "
                              f"(it holds keys {', '.join(map(str, list(checkpoint)[:6]))})")
    # Weights saved from nn.DataParallel carry a "module." prefix.
    return {key.removeprefix("module."): value for key, value in state.items()}


def load_generator_checkpoint(path, map_location="cpu", **config) -> Generator:
    """Build a `Generator(**config)` and load the weights at `path` with `strict=True`.

    A file that is not a checkpoint raises `CheckpointError`; a mismatch raises one listing
    missing, unexpected and wrongly shaped keys, with the configuration the file's shapes suggest.
    """
    checkpoint = load_checkpoint_file(path, map_location=map_location, what="generator checkpoint")
    return generator_from_checkpoint(checkpoint, path, **config)


def generator_from_checkpoint(checkpoint, path, **config) -> Generator:
    """`load_generator_checkpoint` for a checkpoint already loaded from `path`."""
    state = _generator_state(checkpoint, path)
    if "config" in config and isinstance(config["config"], dict):
        config = config.pop("config")
    generator = Generator(**config)
    mismatch = state_dict_mismatch(generator.state_dict(), state)
    if mismatch:
        settings = ", ".join(f"{k}={v}" for k, v in config.items()) or "defaults"
        raise CheckpointError("\n".join([f"{path} does not fit Generator({settings})", *mismatch,
                                          f"  the file's shapes suggest: {guess_generator_config(state)}"]))
    refuse_non_finite_weights(state, path, "generator weights")  # a diverged run's: every score would be NaN
    generator.load_state_dict(state, strict=True)
    return generator
