"""Solutions to the exercises of 07_swssl_sliding_windows_and_augmentations.ipynb.

Each section runs in the notebook's namespace, from its cell `run_solution("07", N)`,
after the cells above it; it is not a module to import.
"""

# %% Solution to exercise 1
for size, patch, step, include_last in [(768, 64, 16, False), (1000, PATCH, STEP, False), (SIZE, PATCH, STEP, True)]:
    exercise_grid = WindowGrid(size, size, patch, step, include_last=include_last)
    covered = (exercise_grid.rows - 1) * step + patch  # pixels under some window, per axis
    print(f"{size} px, patch {patch}, step {step}, include_last={include_last}: "
          f"{exercise_grid.rows} starts per axis ((L − p) // s = {grid_starts(size, patch, step)}), "
          f"{exercise_grid.positions} positions, uncovered strip {size - covered} px")
print("Reading: by default the strip is at least one step wide, and wider when size − patch is not a "
      "multiple of the step; include_last closes it only when size − patch is a multiple of the step.")

# %% Solution to exercise 2
print(f"{'(dx, dy)':>9} {'target':>7} {'shared pixels':>14}")
gaps = {}
for (dx, dy), target in sorted(similarity_table().items()):
    shared = max(0, PATCH - dx * STEP) * max(0, PATCH - dy * STEP) / PATCH**2
    gaps[(dx, dy)] = target - shared
    print(f"{str((dx, dy)):>9} {target:7.3f} {shared:14.3f}")
worst = max(gaps, key=lambda offset: abs(gaps[offset]))
print(f"largest gap at {worst}: target − shared = {gaps[worst]:+.3f}")
print("Reading: the target adds one term per axis while the overlap multiplies them, so a diagonal "
      "step and a long straight step can get the same target with very different overlaps.")

# %% Solution to exercise 4
mean_target = np.zeros(grid.shape)  # (rows, cols)
for row in range(grid.rows):
    for col in range(grid.cols):
        allowed = [neighbour_similarity(dx, dy) for dx in range(-R, R + 1) for dy in range(-R, R + 1)
                   if (dx or dy) and 0 <= row + dy < grid.rows and 0 <= col + dx < grid.cols]
        mean_target[row, col] = np.mean(allowed)
fig, ax = plt.subplots(figsize=(5, 4.2))
im = ax.imshow(mean_target, cmap="viridis")
fig.colorbar(im, ax=ax, shrink=0.8)
ax.set_title("mean target of a cell's allowed neighbours")
ax.set_xlabel("grid column")
ax.set_ylabel("grid row")
show(fig, "exercise_mean_target")
print(f"corner {mean_target[0, 0]:.3f} | one cell in from the corner {mean_target[1, 1]:.3f} | "
      f"edge {mean_target[0, grid.cols // 2]:.3f} | middle {mean_target[grid.rows // 2, grid.cols // 2]:.3f}")
print("Reading: within R cells of the border some far neighbours fall off the grid, so the remaining ones "
      "are nearer on average and get higher targets; the peak is one cell in from a corner, because a cell on "
      "the very edge also loses its nearest neighbours on the outer side.")
