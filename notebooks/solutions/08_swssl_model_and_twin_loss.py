"""Solutions to the exercises of 08_swssl_model_and_twin_loss.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("08", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
small = torch.zeros(4, 3, 64, 64)  # (N, 3, 64, 64)
with torch.no_grad():
    print("layer4   ", tuple(model.backbone(small).shape))  # the side is divided by 32
    projection_64, embedding_64 = model.eval()(small)
print("embedding", tuple(embedding_64.shape), "| projection", tuple(projection_64.shape))
with torch.device("meta"):  # shapes only, no weights: instant
    resnet50_model = PatchModel(backbone="resnet50", pretrained=False)
print("resnet50 width:", resnet50_model.width, "| projector:", [tuple(m.weight.shape) for m in resnet50_model.projector
                                                                 if isinstance(m, torch.nn.Linear)])
print("Reading: the width is the body's last channel count, and the projector keeps it.")

# %% Solution to exercise 2
import warnings

one = torch.randn(1, 8)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns that one sample has no degrees of freedom
    print("B = 1: std over the batch", one.std(0)[:3].tolist(), "→ z", ((one - one.mean(0)) / one.std(0))[0, :3].tolist())
try:
    twin_loss(one, one)
except ValueError as error:
    print("twin_loss refuses it:", error)
two_a, two_b = torch.randn(2, 8), torch.randn(2, 8)
z_a = (two_a - two_a.mean(0)) / two_a.std(0)  # every entry is ±1/√2
z_b = (two_b - two_b.mean(0)) / two_b.std(0)
print("B = 2: z values", sorted(set(z_a.abs().round(decimals=4).flatten().tolist())),
      "| C_ii values", sorted(set((z_a.T @ z_b / 2).diagonal().round(decimals=4).tolist())))
print(f"B = 2, identical views: twin_loss {twin_loss(two_a, two_a):.3f} = D·(1/2 − 1)² with D = {two_a.shape[1]}")
print("Reading: one patch has no spread to normalise by (0/0); two patches give C_ii = ±1/2 only, so even "
      "perfect views leave a loss of D/4. The projector's BatchNorm1d has the same need in training mode.")

# %% Solution to exercise 3
B_ex, D_ex = 32, 16
f = torch.randn(B_ex, D_ex)
print(f"notebook variant: {twin_loss(f, f, variant='notebook'):.4f} | floor (B−1)²/B = {(B_ex - 1) ** 2 / B_ex:.4f}")
print(f"paper variant:    {twin_loss(f, f):.4f} | floor D/B² = {D_ex / B_ex**2:.4f}")
print("Reading: perfect agreement leaves the notebook variant at its floor of about B (plus a tiny "
      "off-diagonal part); the paper variant reaches almost 0.")

# %% Solution to exercise 4
torch.manual_seed(1)
u, v = torch.randn(B_big, D_big), torch.randn(B_big, D_big)
diagonal_only = twin_loss(u, v, off_diagonal_weight=0.0)
for weight in (1e-6, 5e-3):
    off_part = twin_loss(u, v, off_diagonal_weight=weight) - diagonal_only
    print(f"weight {weight:g}: diagonal part {diagonal_only:.1f}, off-diagonal part {off_part:.4f} "
          f"(estimate {weight * D_big * (D_big - 1) / B_big:.4f})")
print("Reading: at 1e-6 the redundancy term is about a millionth of the loss, so in practice only the "
      "diagonal (invariance) and the pair and neighbour terms train the model; decorrelating the "
      "features, Barlow Twins' second goal, is left to chance.")
