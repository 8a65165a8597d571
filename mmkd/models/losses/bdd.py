"""Balance Divergence Distillation (Qi et al., arXiv:2501.07804), in two
forms: over classes per pixel, or over positions per class channel.

From the paper's abstract: forward KL misses the teacher's tiny
probabilities (its "negative" dark knowledge); BDD compensates with a
reverse KL term and adjusts the temperatures to balance the two. Which
distribution the two KLs compare is not in the abstract; both readings are
here and the DigitScapes benchmark decides between them (docs/losses.md).
"""
from typing import Optional

import torch

from mmkd.registry import MODELS
from mmkd.models.settings import check_numbers
from .base import (DistillLoss, channel_logits, channel_mean, logit_loss,
                   masked_mean)
from .divergence import divergences

DISTRIBUTIONS = ('class', 'spatial')


def check_distribution(distribution: str) -> None:
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f'distribution must be one of {DISTRIBUTIONS}, got '
                         f'{distribution!r}')


@logit_loss
def bdd_loss(student_logits: torch.Tensor,
             teacher_logits: torch.Tensor,
             tau_forward: float = 1.0,
             tau_reverse: float = 1.0,
             forward_weight: float = 1.0,
             reverse_weight: float = 1.0,
             distribution: str = 'class',
             valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``forward_weight * tau_f^2 * KL(p_f || q_f) + reverse_weight *
    tau_r^2 * KL(q_r || p_r)``, ``p_tau`` the teacher's softmax of its logits
    over ``tau``, ``q_tau`` the student's, reduced as ``distribution`` says:

    - ``'class'`` (``[N, C]`` or ``[N, C, H, W]``): softmax over the C
      classes at each position; the mean over (valid) positions.
    - ``'spatial'`` (``[N, C, H, W]`` only): softmax of each class channel
      over the H*W positions (the valid ones, with ``valid_mask``), the KLs
      summed over positions, the mean over the N*C channels (images
      without a valid position left out); CWD's normalisation, so that
      ``reverse_weight=0`` is ``forward_weight * cwd_loss(tau_forward)``.

    The reverse term weighs each entry by the student's probability, so
    what the teacher deems near-impossible is pushed down even where
    forward KL barely sees it. With ``reverse_weight=0``, ``'class'`` is
    ``forward_weight * kd_loss(tau_forward)``. Returns a scalar.
    """
    check_distribution(distribution)
    spatial = distribution == 'spatial'

    def scaled(logits, tau):
        return channel_logits(logits / tau, valid_mask) if spatial \
            else logits / tau

    dim = 2 if spatial else 1
    forward_scale = forward_weight * tau_forward**2
    reverse_scale = reverse_weight * tau_reverse**2
    if tau_reverse == tau_forward:
        # Both terms share p, q and log p - log q: one pass instead of two.
        values = divergences(
            scaled(student_logits, tau_forward),
            scaled(teacher_logits, tau_forward), dim=dim,
            forward_weight=forward_scale, reverse_weight=reverse_scale)
    else:
        values = (
            divergences(scaled(student_logits, tau_forward),
                        scaled(teacher_logits, tau_forward), dim=dim,
                        forward_weight=forward_scale) +
            divergences(scaled(student_logits, tau_reverse),
                        scaled(teacher_logits, tau_reverse), dim=dim,
                        forward_weight=0.0, reverse_weight=reverse_scale))
    return (channel_mean if spatial else masked_mean)(values, valid_mask)


@MODELS.register_module()
class BDDLoss(DistillLoss):
    """``loss_weight * bdd_loss(student_logits, teacher_logits, ...)``.

    ``distribution='class'`` (default) is the pixel-wise form, the only one
    for ``[N, C]`` logits; ``'spatial'`` the channel-wise form.
    """

    def __init__(self,
                 tau_forward: float = 1.0,
                 tau_reverse: float = 1.0,
                 forward_weight: float = 1.0,
                 reverse_weight: float = 1.0,
                 distribution: str = 'class',
                 loss_weight: float = 1.0):
        check_numbers(type(self).__name__,
                      positive=dict(tau_forward=tau_forward,
                                    tau_reverse=tau_reverse),
                      nonnegative=dict(forward_weight=forward_weight,
                                       reverse_weight=reverse_weight))
        check_distribution(distribution)
        super().__init__(
            bdd_loss, loss_weight, tau_forward=tau_forward,
            tau_reverse=tau_reverse, forward_weight=forward_weight,
            reverse_weight=reverse_weight, distribution=distribution)
