"""Vanilla knowledge distillation (Hinton et al., 2015), pixel-wise."""
import torch
import torch.nn.functional as F
from torch import nn

from mmkd.registry import MODELS
from .utils import check_logits, check_positive, upcast


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
            tau: float = 1.0) -> torch.Tensor:
    """``tau^2 * mean_i KL(p_i || q_i)``, ``p = softmax(teacher / tau)``,
    ``q = softmax(student / tau)`` over classes, ``i`` running over samples
    of ``[N, C]`` logits or over all pixels of ``[N, C, H, W]`` logits.

    Computed in float32 (float64 for float64 inputs), whatever the input
    dtype or autocast state.
    Returns a scalar.
    """
    check_logits(student_logits, teacher_logits)
    with torch.autocast(student_logits.device.type, enabled=False):
        log_q = F.log_softmax(upcast(student_logits) / tau, dim=1)
        log_p = F.log_softmax(upcast(teacher_logits) / tau, dim=1)
        kl = (log_p.exp() * (log_p - log_q)).sum(dim=1)
    return tau**2 * kl.mean()


@MODELS.register_module()
class KDLoss(nn.Module):
    """``loss_weight * kd_loss(student_logits, teacher_logits, tau)``."""

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        check_positive(tau=tau)
        self.tau = tau
        self.loss_weight = loss_weight

    def forward(self, student_logits: torch.Tensor,
                teacher_logits: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * kd_loss(student_logits, teacher_logits,
                                          self.tau)

    def extra_repr(self) -> str:
        return f'tau={self.tau}, loss_weight={self.loss_weight}'
