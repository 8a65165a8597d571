"""Channel-wise distillation (Shu et al., ICCV 2021) on logits: each class
channel of each image becomes a distribution over the spatial positions."""
from typing import Optional

import torch

from mmkd.registry import MODELS
from .utils import DistillLoss, check_positive, divergences, logit_loss


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
    if student_logits.dim() != 4:
        raise ValueError(
            'CWD distils spatial maps: logits must be [N, C, H, W], got '
            f'{tuple(student_logits.shape)}')
    student = student_logits.flatten(2) / tau  # [N, C, H*W]
    teacher = teacher_logits.flatten(2) / tau
    if valid_mask is not None:
        # The lowest finite value, not -inf: excluded positions get zero
        # probability and log p - log q = 0 there, so no NaN arises.
        invalid = ~valid_mask.flatten(1)[:, None]
        lowest = torch.finfo(student.dtype).min
        student = student.masked_fill(invalid, lowest)
        teacher = teacher.masked_fill(invalid, lowest)
    per_channel = divergences(student, teacher, dim=2)
    if valid_mask is None:
        return tau**2 * per_channel.mean()
    images = valid_mask.flatten(1).any(1).to(per_channel.dtype)  # [N]
    count = (images.sum() * per_channel.shape[1]).clamp_min(1)
    return tau**2 * (per_channel * images[:, None]).sum() / count


@MODELS.register_module()
class CWDLoss(DistillLoss):
    """``loss_weight * cwd_loss(student_logits, teacher_logits, tau)``.

    MMRazor distils PSPNet-R101 into R18 on Cityscapes with ``tau=1``,
    ``loss_weight=5``.
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0):
        check_positive(tau=tau)
        super().__init__(cwd_loss, loss_weight, tau=tau)
