"""Feature regression, as FitNets (Romero et al., ICLR 2015) use it: the
student's feature map (through a connector that maps its channels to the
teacher's) regresses the teacher's."""
from typing import Optional

import torch

from mmkd.registry import MODELS
from .base import DistillLoss, logit_loss, masked_mean


@logit_loss
def mse_loss(student_features: torch.Tensor,
             teacher_features: torch.Tensor,
             valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``mean_{i, c} (student[i, c] - teacher[i, c])^2`` over the channels
    ``c`` and the (valid) positions ``i``: samples of ``[N, C]``, pixels of
    ``[N, C, H, W]``. Returns a scalar."""
    per_position = (student_features - teacher_features).square().mean(1)
    return masked_mean(per_position, valid_mask)


@MODELS.register_module()
class MSELoss(DistillLoss):
    """``loss_weight * mse_loss(student_features, teacher_features)``."""

    def __init__(self, loss_weight: float = 1.0):
        super().__init__(mse_loss, loss_weight)
