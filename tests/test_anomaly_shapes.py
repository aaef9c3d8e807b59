import pytest
import torch
from torch import nn

from anomaly_lib.shapes import trace_shapes


def tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=3, padding=1),  # 1*4*3*3 + 4 = 40 parameters
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 10),  # 256*10 + 10 = 2570 parameters
    )


def test_rows_in_call_order_with_exact_shapes_and_params():
    trace = trace_shapes(tiny_net(), torch.zeros(2, 1, 8, 8))
    rows = [(row.name, row.class_name, row.output_shape, row.params) for row in trace.rows]
    assert rows == [
        ("(model)", "Sequential", (2, 10), 2610),
        ("0", "Conv2d", (2, 4, 8, 8), 40),
        ("1", "ReLU", (2, 4, 8, 8), 0),
        ("2", "Flatten", (2, 256), 0),
        ("3", "Linear", (2, 10), 2570),
    ]


def test_max_depth_limits_nesting():
    model = nn.Sequential(nn.Sequential(nn.Linear(3, 5), nn.ReLU()), nn.Linear(5, 2))
    names = [row.name for row in trace_shapes(model, torch.zeros(1, 3), max_depth=1).rows]
    assert names == ["(model)", "0", "1"]
    names = [row.name for row in trace_shapes(model, torch.zeros(1, 3)).rows]
    assert names == ["(model)", "0", "0.0", "0.1", "1"]
    assert trace_shapes(model, torch.zeros(1, 3), max_depth=1).rows[1].params == 3 * 5 + 5


class TwiceAndTuple(nn.Module):
    """Uses one layer twice and returns a tuple plus a dict-returning child."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 3)
        self.stats = Stats()

    def forward(self, x, scale=1.0):
        hidden = self.layer(self.layer(x)) * scale
        self.stats(hidden)
        return hidden, hidden.sum()


class Stats(nn.Module):
    def forward(self, x):
        assert not torch.is_grad_enabled()  # the trace runs under no_grad
        return {"mean": x.mean()}


def test_repeated_calls_tuples_non_tensors_and_kwargs():
    trace = trace_shapes(TwiceAndTuple(), torch.zeros(4, 3), scale=2.0)
    shapes = [(row.name, row.output_shape) for row in trace.rows]
    assert shapes == [
        ("(model)", [(4, 3), ()]),
        ("layer", (4, 3)),
        ("layer", (4, 3)),
        ("stats", "dict"),
    ]


def test_hooks_are_removed_even_when_forward_fails():
    model = tiny_net()
    with pytest.raises(RuntimeError):
        trace_shapes(model, torch.zeros(2, 3, 8, 8))  # wrong number of channels
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_text_and_markdown_tables():
    trace = trace_shapes(tiny_net(), torch.zeros(2, 1, 8, 8))
    assert str(trace).splitlines()[:4] == [
        "name    | class      | output shape | params",
        "--------+------------+--------------+-------",
        "(model) | Sequential | (2, 10)      |  2,610",
        "0       | Conv2d     | (2, 4, 8, 8) |     40",
    ]
    markdown = trace.to_markdown().splitlines()
    assert markdown[0] == "| name | class | output shape | params |"
    assert markdown[3] == "| `0` | Conv2d | (2, 4, 8, 8) | 40 |"
