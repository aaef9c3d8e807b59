"""Solutions to the exercises of 02_sagan_windows_and_position_codes.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("02", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
for grid in (1, 4, 8):
    grid_windows = to_windows(images, grid)  # (B·grid², 1, 64/grid, 64/grid)
    small = Generator(conv_dim=8, repeat_num=1, num_memory=grid * grid).eval()
    try:
        with torch.no_grad():
            result = f"reconstructs {tuple(small(grid_windows).shape)}"
    except ValueError as error:
        result = f"fails: {error}"
    print(f"num_patch {grid}: windows {tuple(grid_windows.shape)}, codes {tuple(binary_position_codes(grid * grid).shape)}"
          f", generator {result}")
print("Reading: 8×8 windows pass the kit's multiple-of-8 check, but three halvings leave one pixel at the "
      "bottleneck, and an InstanceNorm cannot normalise a single value (x − mean(x) is 0), so PyTorch refuses "
      "(its message says 'when training', but the code mixer's norm always uses the window's own statistics).")

# %% Solution to exercise 2
torch.manual_seed(0)
variant = Generator(conv_dim=8, repeat_num=1).eval()  # a fresh small generator; the library is untouched
probe = windows[1:2].repeat(4, 1, 1, 1)  # one window at positions 0, 1, 2, 3: (4, 1, 32, 32)

def spread(outputs):
    """Largest difference between the reconstructions at the four positions."""
    return (outputs - outputs[:1]).abs().max().item()

def add_codes_after_norm(mixer):
    """Hook on mixer[1] (the InstanceNorm): add what the code channels give through mixer[0] (the 1×1 conv)."""
    bits = variant.binary_encoding.shape[1]

    def hook(module, inputs, output):  # output: (B·M, C, h, w)
        code_weights = mixer[0].weight[:, -bits:, 0, 0]  # (C, bits): the conv weights that read the code
        window_codes = variant.binary_encoding.repeat(output.shape[0] // variant.num_memory, 1)  # (B·M, bits)
        return output + (window_codes @ code_weights.T)[:, :, None, None]  # one constant per window and channel

    return mixer[1].register_forward_hook(hook)

with torch.no_grad():
    published = spread(variant(probe))
handles = [add_codes_after_norm(mixer) for mixer in (variant.p_bn1, variant.p_bn2, variant.bn2)]
with torch.no_grad():
    moved = spread(variant(probe))
for handle in handles:
    handle.remove()
print(f"codes before the norm (published): the four positions differ by up to {published:.1e}")
print(f"codes after the norm (variant):    the four positions differ by up to {moved:.1e}")
print("Reading: once the codes enter after the norm, nothing subtracts them, and the same window is "
      "reconstructed differently at each position; training could now learn what to do with them.")

# %% Solution to exercise 3
torch.manual_seed(0)
small = Generator(conv_dim=8, repeat_num=1).eval()
with torch.no_grad():
    with_batch = small(windows)[:4]  # image 0's windows, computed with image 1's in the batch
    alone = small(windows[:4])  # image 0's windows alone
print(f"largest difference: {(with_batch - alone).abs().max():.1e}")
print("Reading: identical up to float rounding. InstanceNorm uses each window's own statistics (or, in eval "
      "mode, fixed running averages), never its batch mates'. A BatchNorm in train mode would mix them.")
