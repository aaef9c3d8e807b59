"""Solutions to the exercises of 04_sagan_critic_and_losses.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("04", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
for n_critic in (1, 2, 3):
    folder = OUT / f"n_critic_{n_critic}"
    tiny = SaganTrainer(SaganConfig(**{**config.to_dict(), "n_critic": n_critic, "model_save_dir": str(folder),
                                       "sample_dir": str(folder / "samples")}), train_set, log=lambda *_: None)
    history = tiny.train(num_iters=6, progress=False, overwrite=True)  # one entry per iteration
    generator_turns = [entry["iteration"] - 1 for entry in history if "G/loss" in entry]  # i counts from 0
    print(f"n_critic = {n_critic}: {len(generator_turns)} generator steps, at iterations {generator_turns}")
print("Reading: ⌊6 / n_critic⌋ generator steps, at the iterations where (i + 1) is a multiple of n_critic; "
      "a larger n_critic buys a better-trained critic with fewer generator updates per iteration.")

# %% Solution to exercise 2
torch.manual_seed(0)
points = torch.randn(4, 1, 64, 64, requires_grad=True)  # any images will do
w = torch.randn(1, 1, 64, 64)
w = w / w.norm()  # ‖w‖₂ = 1
critics = {
    "flat, D(x) = 0": lambda x: 0 * x.sum(dim=(1, 2, 3)),
    "linear, slope 1": lambda x: (w * x).sum(dim=(1, 2, 3)),
    "linear, slope 3": lambda x: 3 * (w * x).sum(dim=(1, 2, 3)),
}
for name, critic in critics.items():
    print(f"{name:<16} GP = {gradient_penalty(critic(points), points).item():.4f}")
print("Reading: GP = (‖∇D‖ − 1)², so 1 for a flat critic, 0 at slope 1 and 4 at slope 3. An untrained "
      "critic (section 4) is nearly flat, which is why the penalty starts close to 1.")

# %% Solution to exercise 3
with torch.no_grad():
    removed = reconstruct(anomaly)  # G(x_B'), the notebook's small untrained G: (4, 1, 64, 64)
untouched = ~mask  # (4, 1, 64, 64): pixels where x_B' is a plain copy of x_B
squared_error = (normal - removed) ** 2
print(f"x_B' equals x_B on {untouched.float().mean():.0%} of the pixels")
print(f"share of the MSE term that comes from those pixels: {squared_error[untouched].sum() / squared_error.sum():.0%}")
_, parts = generator_loss(torch.zeros(B, 1, 1, 1), normal, normal, removed, lambda_id=0.0)
print(f"with lambda_id = 0 the total still holds L_mse = {parts['G/loss_mse'].item():.4f}")
print("Reading: outside the box the MSE term already asks G to return the normal image unchanged, so "
      "dropping the identity term keeps a (squared, weaker for small errors) identity on most pixels.")
