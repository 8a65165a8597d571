"""Vanilla knowledge distillation (Hinton et al., 2015), pixel-wise."""
from typing import Optional

import torch

from mmkd.registry import MODELS
from mmkd.models.settings import check_numbers
from .base import DistillLoss, logit_loss, masked_mean
from .divergence import divergences


@logit_loss
def kd_loss(student_logits: torch.Tensor,
            teacher_logits: torch.Tensor,
            tau: float = 1.0,
            valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``tau^2 * mean_i KL(p_i || q_i)`` with ``p = softmax(teacher / tau)``
    and ``q = softmax(student / tau)`` over classes, ``i`` running over the
    (valid) samples of ``[N, C]`` or pixels of ``[N, C, H, W]`` logits.
    Returns a scalar."""
    per_position = divergences(student_logits / tau, teacher_logits / tau)
    return tau**2 * masked_mean(per_position, valid_mask)


@MODELS.register_module()
class KDLoss(DistillLoss):
    """``loss_weight * kd_loss(student_logits, teacher_logits, tau)``."""

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0):
        check_numbers(type(self).__name__, positive=dict(tau=tau))
        super().__init__(kd_loss, loss_weight, tau=tau)
