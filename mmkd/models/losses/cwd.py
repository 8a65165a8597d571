"""Channel-wise distillation (Shu et al., ICCV 2021) on logits: each class
channel of each image becomes a distribution over the spatial positions."""
from typing import Optional

import torch

from mmkd.registry import MODELS
from mmkd.models.settings import check_numbers
from .base import DistillLoss, channel_logits, channel_mean, logit_loss
from .divergence import divergences


@logit_loss
def cwd_loss(student_logits: torch.Tensor,
             teacher_logits: torch.Tensor,
             tau: float = 1.0,
             valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``tau^2 * mean_{n, c} KL(P_nc || Q_nc)``, ``P_nc = softmax over the H*W
    positions of teacher[n, c] / tau``, ``Q_nc`` likewise for the student;
    the KL is summed over positions. With ``valid_mask`` the softmax runs
    over valid positions only, and images without one are left out.
    Spatial logits only: on ``[N, C]`` the distribution has one point.
    Returns a scalar.
    """
    per_channel = divergences(channel_logits(student_logits / tau, valid_mask),
                              channel_logits(teacher_logits / tau, valid_mask),
                              dim=2)
    return tau**2 * channel_mean(per_channel, valid_mask)


@MODELS.register_module()
class CWDLoss(DistillLoss):
    """``loss_weight * cwd_loss(student_logits, teacher_logits, tau)``.

    MMRazor distils PSPNet-R101 into R18 on Cityscapes with ``tau=1``,
    ``loss_weight=5``.
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0):
        check_numbers(type(self).__name__, positive=dict(tau=tau))
        super().__init__(cwd_loss, loss_weight, tau=tau)
