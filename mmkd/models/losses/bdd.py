"""Balance Divergence Distillation (Qi et al., arXiv:2501.07804), pixel-wise.

From the paper's abstract: forward KL misses the teacher's tiny
probabilities (its "negative" dark knowledge); BDD compensates with a
reverse KL term and adjusts the temperatures to balance the two. The exact
form below (one temperature and one weight per direction, pixel-wise over
classes, averaged per pixel) is our reconstruction; see docs/losses.md.
"""
from typing import Optional

import torch

from mmkd.registry import MODELS
from .utils import (DistillLoss, check_positive, divergences, logit_loss,
                    masked_mean)


@logit_loss
def bdd_loss(student_logits: torch.Tensor,
             teacher_logits: torch.Tensor,
             tau_forward: float = 1.0,
             tau_reverse: float = 1.0,
             forward_weight: float = 1.0,
             reverse_weight: float = 1.0,
             valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean over (valid) positions of ::

        forward_weight * tau_f^2 * KL(p_f || q_f)
        + reverse_weight * tau_r^2 * KL(q_r || p_r)

    with ``p_tau = softmax(teacher / tau)``, ``q_tau = softmax(student /
    tau)`` over classes. The reverse term weighs each class by the
    student's probability, so classes the teacher deems near-impossible are
    pushed down even where forward KL barely sees them. With
    ``reverse_weight=0`` this is ``forward_weight * kd_loss(tau_forward)``.
    Returns a scalar.
    """
    forward_scale = forward_weight * tau_forward**2
    reverse_scale = reverse_weight * tau_reverse**2
    if tau_reverse == tau_forward:
        # Both terms share p, q and log p - log q: one pass instead of two.
        per_position = divergences(
            student_logits / tau_forward, teacher_logits / tau_forward,
            forward_weight=forward_scale, reverse_weight=reverse_scale)
    else:
        per_position = (
            divergences(student_logits / tau_forward,
                        teacher_logits / tau_forward,
                        forward_weight=forward_scale) +
            divergences(student_logits / tau_reverse,
                        teacher_logits / tau_reverse,
                        forward_weight=0.0, reverse_weight=reverse_scale))
    return masked_mean(per_position, valid_mask)


@MODELS.register_module()
class BDDLoss(DistillLoss):
    """``loss_weight * bdd_loss(student_logits, teacher_logits, ...)``."""

    def __init__(self,
                 tau_forward: float = 1.0,
                 tau_reverse: float = 1.0,
                 forward_weight: float = 1.0,
                 reverse_weight: float = 1.0,
                 loss_weight: float = 1.0):
        check_positive(tau_forward=tau_forward, tau_reverse=tau_reverse)
        super().__init__(
            bdd_loss, loss_weight, tau_forward=tau_forward,
            tau_reverse=tau_reverse, forward_weight=forward_weight,
            reverse_weight=reverse_weight)
