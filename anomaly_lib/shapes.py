"""Show the output shape of every layer of a model: the quickest way to read an architecture."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ShapeRow:
    """One call of one module during the traced forward pass."""

    name: str  # qualified name, e.g. "encoder.0"; "(model)" for the model itself
    class_name: str
    output_shape: object  # tuple for a tensor, list for several outputs, type name otherwise
    params: int  # parameters of this module, its children included


def _describe_output(output) -> object:
    """Tensor -> shape tuple; tuple/list -> list of those; anything else -> its type name."""
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return [_describe_output(item) for item in output]
    return type(output).__name__


def _format_shape(shape) -> str:
    if isinstance(shape, tuple):
        return "(" + ", ".join(str(side) for side in shape) + ")"
    if isinstance(shape, list):
        return "[" + ", ".join(_format_shape(item) for item in shape) + "]"
    return str(shape)


class ShapeTrace:
    """The rows recorded by ``trace_shapes``; ``str()`` gives a text table."""

    HEADER = ("name", "class", "output shape", "params")

    def __init__(self, rows: list[ShapeRow]):
        self.rows = rows

    def _table(self) -> list[tuple[str, str, str, str]]:
        return [
            (row.name, row.class_name, _format_shape(row.output_shape), f"{row.params:,}")
            for row in self.rows
        ]

    def __str__(self) -> str:
        lines = [self.HEADER, *self._table()]
        widths = [max(len(line[column]) for line in lines) for column in range(4)]

        def format_line(cells) -> str:
            name, class_name, shape, params = cells
            return (
                f"{name:<{widths[0]}} | {class_name:<{widths[1]}} | "
                f"{shape:<{widths[2]}} | {params:>{widths[3]}}"
            )

        rule = "-+-".join("-" * width for width in widths)
        return "\n".join([format_line(self.HEADER), rule, *map(format_line, lines[1:])])

    def __repr__(self) -> str:
        return f"ShapeTrace({len(self.rows)} rows)"

    def to_markdown(self) -> str:
        """The same table in Markdown, e.g. for a notebook's ``display(Markdown(...))``."""
        lines = ["| " + " | ".join(self.HEADER) + " |", "|---|---|---|---:|"]
        for name, class_name, shape, params in self._table():
            lines.append(f"| `{name}` | {class_name} | {shape} | {params} |")
        return "\n".join(lines)


def trace_shapes(model: nn.Module, *inputs, max_depth: int | None = None, **kwargs) -> ShapeTrace:
    """Run ``model(*inputs, **kwargs)`` once without gradients, recording every module call.

    Rows come in call order (a parent before its children); a module called
    twice gives two rows. ``max_depth=1`` keeps the model and its direct
    children, ``2`` also their children, and so on.
    """
    rows: list[ShapeRow] = []
    open_calls: list[int] = []  # row indices of the modules currently running, innermost last
    handles = []

    def make_hooks(name: str, module: nn.Module):
        def before_forward(module, args):
            open_calls.append(len(rows))
            params = sum(parameter.numel() for parameter in module.parameters())
            rows.append(ShapeRow(name, type(module).__name__, None, params))

        def after_forward(module, args, output):
            rows[open_calls.pop()].output_shape = _describe_output(output)

        return before_forward, after_forward

    for name, module in model.named_modules():
        depth = 0 if name == "" else name.count(".") + 1
        if max_depth is not None and depth > max_depth:
            continue
        before_forward, after_forward = make_hooks(name or "(model)", module)
        handles.append(module.register_forward_pre_hook(before_forward))
        handles.append(module.register_forward_hook(after_forward))
    try:
        with torch.no_grad():
            model(*inputs, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return ShapeTrace(rows)
