"""Vanilla knowledge distillation (Hinton et al., 2015), pixel-wise."""
from typing import Optional

import torch

from mmkd.models.settings import check_numbers
from mmkd.registry import MODELS
from .base import (DistillLoss, check_flag, logit_loss, masked_mean,
                   standardize)
from .divergence import divergences


@logit_loss
def kd_loss(student_logits: torch.Tensor,
            teacher_logits: torch.Tensor,
            tau: float = 1.0,
            standardized: bool = False,
            valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``tau^2 * mean_i KL(p_i || q_i)`` with ``p = softmax(teacher / tau)``
    and ``q = softmax(student / tau)`` over classes, ``i`` running over the
    (valid) samples of ``[N, C]`` or pixels of ``[N, C, H, W]`` logits.
    ``standardized``: z-score each position's logits over the classes
    first (logit standardisation, Sun et al., CVPR 2024; :func:`standardize`).
    Returns a scalar."""
    if standardized:
        student_logits = standardize(student_logits)
        teacher_logits = standardize(teacher_logits)
    per_position = divergences(student_logits / tau, teacher_logits / tau)
    return tau**2 * masked_mean(per_position, valid_mask)


@MODELS.register_module()
class KDLoss(DistillLoss):
    """``loss_weight * kd_loss(student_logits, teacher_logits, tau,
    standardized)``. With ``standardize=True`` (logit standardisation) the
    authors' setting is ``tau=2`` on CIFAR-100 (sunshangquan/
    logit-standardization-KD)."""

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0,
                 standardize: bool = False):
        check_numbers(type(self).__name__, positive=dict(tau=tau))
        check_flag(type(self).__name__, 'standardize', standardize)
        super().__init__(kd_loss, loss_weight, tau=tau,
                         standardized=standardize)
