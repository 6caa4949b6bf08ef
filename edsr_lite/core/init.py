"""Pretrained initialization (paper Sec. 4.1, Fig. 4): start x3/x4 from a trained x2 network.

"For x3 and x4 models, we initialize the model parameters with the pre-trained x2 network": the
x2 network's head and body are copied, and the upsampler, which has another shape for another
scale, starts at random. Fig. 4 shows the x4 model so initialized converging faster than one
trained from scratch.

:func:`init_from_state_dict` copies every tensor whose name and shape match, and says in an
:class:`InitReport` which tensors it copied and which it left random (the official loader skips
the mismatches silently). Reading a source (a checkpoint file, a shipped model's name) is the
library's job: :func:`edsr_lite.weights.init_from`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class InitReport:
    """What :func:`init_from` did, tensor by tensor."""

    copied: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)  # same name, other shape: left random
    missing_in_source: list[str] = field(default_factory=list)  # left random
    unused_in_source: list[str] = field(default_factory=list)

    @property
    def left_random(self) -> list[str]:
        return self.shape_mismatch + self.missing_in_source

    def summary(self) -> str:
        """A few lines for people: counts, then the names of the tensors left random."""
        lines = [
            f"init_from: copied {len(self.copied)} tensors, left {len(self.left_random)} at "
            f"random, ignored {len(self.unused_in_source)} from the source"
        ]
        if self.shape_mismatch:
            lines.append("  left random (shape differs): " + ", ".join(self.shape_mismatch))
        if self.missing_in_source:
            lines.append("  left random (not in source): " + ", ".join(self.missing_in_source))
        if self.unused_in_source:
            lines.append("  not used from source: " + ", ".join(self.unused_in_source))
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "copied": list(self.copied),
            "shape_mismatch": list(self.shape_mismatch),
            "missing_in_source": list(self.missing_in_source),
            "unused_in_source": list(self.unused_in_source),
        }


def init_from_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> InitReport:
    """Copy into ``model`` every tensor of ``state_dict`` whose name and shape match its own.

    ``state_dict`` uses the model's own key names (``head.0.weight``, ``body.0.body.0.weight``,
    ``tail.0.0.weight`` ...). The x2 -> x4 case copies the head and the body and leaves the
    upsampler (``tail.0``) at random: its convolutions make 4F channels per x2 stage, and x4
    has two stages where x2 has one. Tensors are cast to the model's dtype.
    """
    own = model.state_dict()
    report = InitReport()
    to_copy = {}
    for k, v in own.items():
        if k not in state_dict:
            report.missing_in_source.append(k)
        elif state_dict[k].shape != v.shape:
            report.shape_mismatch.append(k)
        else:
            to_copy[k] = state_dict[k].to(v.dtype)
            report.copied.append(k)
    report.unused_in_source = [k for k in state_dict if k not in own]
    model.load_state_dict(to_copy, strict=False)
    return report
