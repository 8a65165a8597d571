"""Balance Divergence Distillation (Qi et al., arXiv:2501.07804), in two
forms: over classes per pixel, or over positions per class channel.

From the paper's abstract: forward KL misses the teacher's tiny
probabilities (its "negative" dark knowledge); BDD compensates with a
reverse KL term and adjusts the temperatures to balance the two. Which
distribution the two KLs compare is not in the abstract; both readings are
here. The channel-wise one is the form of the one public code of the loss
(``BalanceKLDivergence``), whose values it reproduces
(tests/test_conformance.py).
"""
from typing import Optional, Tuple

import torch

from mmkd.models.settings import SettingError, check_numbers
from mmkd.registry import MODELS
from .base import (DistillLoss, channel_logits, channel_mean, check_flag,
                   logit_loss, masked_mean, standardize, training_progress)
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
             standardized: bool = False,
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
    ``forward_weight * kd_loss(tau_forward)``. ``standardized``
    (``'class'`` only): z-score each position's logits over the classes
    first (logit standardisation, :func:`standardize`). Returns a scalar.
    """
    check_distribution(distribution)
    spatial = distribution == 'spatial'
    if standardized:
        if spatial:
            raise ValueError("standardized logits are for distribution="
                             "'class': the spatial form's distributions "
                             'run over positions, not classes')
        student_logits = standardize(student_logits)
        teacher_logits = standardize(teacher_logits)

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

    ``reverse_schedule=True`` moves the weight from the forward term to the
    reverse one over training, linearly: at iteration ``t`` of ``T`` the
    terms weigh ``forward_weight * (1 - t / T)`` and ``reverse_weight * t /
    T`` (the iteration from mmengine's message hub, so that it resumes
    exactly). This is what the public channel-wise code does
    (``BalanceKLDivergence`` with ``update_by_iter``), not something the
    paper describes; off by default.
    """

    def __init__(self,
                 tau_forward: float = 1.0,
                 tau_reverse: float = 1.0,
                 forward_weight: float = 1.0,
                 reverse_weight: float = 1.0,
                 distribution: str = 'class',
                 loss_weight: float = 1.0,
                 reverse_schedule: bool = False,
                 standardize: bool = False):
        check_numbers(type(self).__name__,
                      positive=dict(tau_forward=tau_forward,
                                    tau_reverse=tau_reverse),
                      nonnegative=dict(forward_weight=forward_weight,
                                       reverse_weight=reverse_weight))
        check_distribution(distribution)
        owner = type(self).__name__
        check_flag(owner, 'reverse_schedule', reverse_schedule)
        check_flag(owner, 'standardize', standardize)
        if standardize and distribution != 'class':
            raise SettingError(f"{owner}: standardize is for distribution="
                               f"'class', got {distribution!r}")
        super().__init__(
            bdd_loss, loss_weight, tau_forward=tau_forward,
            tau_reverse=tau_reverse, forward_weight=forward_weight,
            reverse_weight=reverse_weight, distribution=distribution,
            standardized=standardize)
        self.reverse_schedule = reverse_schedule

    def current_weights(self) -> Tuple[float, float]:
        """The forward and reverse weights of the next step."""
        forward_weight = self.hyperparameters['forward_weight']
        reverse_weight = self.hyperparameters['reverse_weight']
        if not self.reverse_schedule:
            return forward_weight, reverse_weight
        iteration, max_iters = training_progress('BDDLoss',
                                                 'reverse_schedule=True')
        done = iteration / max_iters
        return forward_weight * (1 - done), reverse_weight * done

    def forward(self,
                student_logits: torch.Tensor,
                teacher_logits: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None,
                labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        forward_weight, reverse_weight = self.current_weights()
        settings = dict(self.hyperparameters, forward_weight=forward_weight,
                        reverse_weight=reverse_weight)
        return self.loss_weight * self.loss_fn(
            student_logits, teacher_logits, **settings,
            valid_mask=valid_mask)

    def extra_repr(self) -> str:
        return (super().extra_repr() +
                f', reverse_schedule={self.reverse_schedule}')
