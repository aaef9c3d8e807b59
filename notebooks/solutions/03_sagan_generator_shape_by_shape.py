"""Solutions to the exercises of 03_sagan_generator_shape_by_shape.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("03", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
small = Generator(conv_dim=8, repeat_num=1, image_size=128).eval()
big_windows = to_windows(torch.zeros(1, 1, 128, 128), num_patch=2)  # (4, 1, 64, 64)
rows = {row.name: row.output_shape for row in trace_shapes(small, big_windows, max_depth=1).rows}
print("windows  :", shape(big_windows))
print("embedding:", rows["bn2"], "= (B·M, 8·conv_dim, side/8, side/8)")
print("output   :", rows["(model)"])
print("Reading: every shape scales with the window; the bottleneck is 8×8 instead of 4×4, and no weight "
      "changes shape, so the same network runs on both sizes.")

# %% Solution to exercise 2
def count(conv_dim, repeat_num):
    return sum(p.numel() for p in Generator(conv_dim=conv_dim, repeat_num=repeat_num).parameters())

full_count = sum(p.numel() for p in G.parameters())  # conv_dim 64, six blocks (section 2)
for conv_dim, repeat_num in [(32, 6), (64, 1), (8, 1)]:
    smaller = count(conv_dim, repeat_num)
    print(f"conv_dim {conv_dim:>2}, {repeat_num} block(s): {smaller:>11,} parameters = {smaller / full_count:7.2%} of the full size")
print("Reading: almost every weight sits in a conv whose in and out widths both scale with conv_dim, so "
      "halving it divides the count by about 4; each bottleneck block is two 3×3 convs at 8·conv_dim.")

# %% Solution to exercise 3
pixel = torch.tensor([-0.99, -0.9, -0.5, 0.0, 0.2, 0.5, 0.9, 0.99])
needed = torch.atanh(pixel) - pixel  # tanh(r + x) = x  ⇔  r = atanh(x) − x
for x_value, r_value in zip(pixel.tolist(), needed.tolist()):
    print(f"x = {x_value:+.2f} → r = {r_value:+.3f}")
print("Reading: r is near 0 only for mid-grey pixels and grows without bound towards ±1, so for the dark "
      "background the head must learn a clearly negative correction; 'copy the input' is not free.")

# %% Solution to exercise 5
from torch import nn

small = Generator(conv_dim=8, repeat_num=1).eval()
captured_inputs = {}
hook = small.gate3.register_forward_hook(lambda module, args, output: captured_inputs.update(args=args))
with torch.no_grad():
    small(x)
hook.remove()
conv = small.gate3.psi[0]  # Conv2d(n_coefficients → 1, kernel 1)
variants = {
    "published: conv → IN → σ": small.gate3.psi,
    "norm dropped: conv → σ": nn.Sequential(copy.deepcopy(conv), nn.Sigmoid()),
    "norm moved: IN → conv → σ": nn.Sequential(nn.InstanceNorm2d(conv.in_channels), copy.deepcopy(conv), nn.Sigmoid()),
}
with torch.no_grad():
    for name, psi_block in variants.items():
        gate = copy.deepcopy(small.gate3)
        gate.psi = copy.deepcopy(psi_block)
        convolution = [m for m in gate.psi if isinstance(m, nn.Conv2d)][0]
        convolution.bias.add_(-50)
        mean_psi = gate.attention_map(*captured_inputs["args"]).mean(dim=(1, 2, 3))  # (4,) per window
        print(f"{name:<28} bias −50 → mean ψ per window {mean_psi.max():.3g} at most")
print("Reading: with the norm after the convolution the bias is subtracted away; without it, or with it "
      "before the convolution, the bias reaches the sigmoid and ψ can go to 0, so a skip can close.")
