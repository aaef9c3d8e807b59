"""The convolution blocks the generator is built from.

All normalisation is InstanceNorm. The ones with learned parameters also keep
running statistics (`track_running_stats=True`) as in the authors' code, so in
eval mode they normalise with those statistics rather than per image.
"""

from torch import nn


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """InstanceNorm with affine parameters and running statistics, as published."""
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=True)


def conv_norm_relu(dim_in: int, dim_out: int, kernel_size: int, stride: int = 1, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(dim_in, dim_out, kernel_size, stride, padding, bias=False),
        instance_norm(dim_out),
        nn.ReLU(inplace=True),
    )


def up_norm_relu(dim_in: int, dim_out: int) -> list:
    """A ×2 transposed-conv upsampling step (its layers, to splice into a Sequential)."""
    return [
        nn.ConvTranspose2d(dim_in, dim_out, kernel_size=4, stride=2, padding=1, bias=False),
        instance_norm(dim_out),
        nn.ReLU(inplace=True),
    ]


def position_mixer(dim_in: int, dim_out: int) -> nn.Sequential:
    """1×1 conv that folds the appended position-code channels back in."""
    return nn.Sequential(
        nn.Conv2d(dim_in, dim_out, kernel_size=1),
        nn.InstanceNorm2d(dim_out),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Same-width residual block: `x + IN(conv(ReLU(IN(conv(x)))))`."""

    def __init__(self, dim: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False),
            instance_norm(dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False),
            instance_norm(dim),
        )

    def forward(self, x):
        return x + self.main(x)


class ResidualBlock1(nn.Module):
    """Width-changing residual block: `h = ReLU(IN(conv(x)))`, then `h + IN(conv(h))`."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim_in, dim_out, kernel_size=3, padding=1, bias=False),
            instance_norm(dim_out),
            nn.ReLU(inplace=True),
        )
        self.sc = nn.Sequential(
            nn.Conv2d(dim_out, dim_out, kernel_size=3, padding=1, bias=False),
            instance_norm(dim_out),
        )

    def forward(self, x):
        h = self.main(x)
        return h + self.sc(h)
