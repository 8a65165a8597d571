"""Decoupled knowledge distillation (Zhao et al., CVPR 2022), as mdistiller
computes it (megvii-research/mdistiller, ``mdistiller/distillers/DKD.py``,
``dkd_loss``), per sample of ``[N, C]`` logits or per pixel of ``[N, C, H,
W]`` ones."""
from typing import Optional

import torch
import torch.nn.functional as F

from mmkd.models.settings import check_int, check_numbers
from mmkd.registry import MODELS
from .base import (DistillLoss, check_flag, epoch_warmup_factor, labels_at,
                   logit_loss, standardize)

# mdistiller removes the target class from the non-target distribution by
# subtracting this from its logit (divided by the temperature first)
TARGET_OFFSET = 1000.0


def positions_as_rows(logits: torch.Tensor) -> torch.Tensor:
    """``[N, C]`` as it is, ``[N, C, H, W]`` as ``[N*H*W, C]``."""
    return logits if logits.dim() == 2 else logits.movedim(1, -1).flatten(
        0, 2)


@logit_loss
def dkd_loss(student_logits: torch.Tensor,
             teacher_logits: torch.Tensor,
             labels: torch.Tensor,
             alpha: float = 1.0,
             beta: float = 8.0,
             tau: float = 4.0,
             ignore_index: int = 255,
             standardized: bool = False,
             valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``alpha · TCKD + beta · NCKD``, both times ``tau²`` and averaged over
    the (labelled, valid) positions ``i``:

    - TCKD: ``KL(b_t ‖ b_s)`` of the binary distributions ``b = (p_y, 1 -
      p_y)``, ``p = softmax(logits / tau)``, ``y`` the position's label;
    - NCKD: ``KL(p̂_t ‖ p̂_s)``, ``p̂`` the softmax over the classes other
      than ``y``.

    ``labels``: ``[N]`` class indices for ``[N, C]`` logits, ``[N, H', W']``
    label maps for ``[N, C, H, W]`` ones (resized, nearest); positions
    labelled ``ignore_index`` (or no class) are left out. ``standardized``:
    z-score each position's logits first (:func:`standardize`). Returns a
    scalar."""
    if student_logits.dim() == 4:
        labels = labels_at(labels, student_logits.shape[2:])
    labels = labels.flatten()
    student = positions_as_rows(student_logits)
    teacher = positions_as_rows(teacher_logits)
    keep = (labels >= 0) & (labels < student.shape[1]) & (
        labels != ignore_index)
    if valid_mask is not None:
        keep &= valid_mask.flatten()
    student, teacher, labels = student[keep], teacher[keep], labels[keep]
    if student.shape[0] == 0:  # nothing labelled: zero, still attached
        return student_logits.sum() * 0
    if standardized:
        student, teacher = standardize(student), standardize(teacher)
    target = F.one_hot(labels, student.shape[1]).bool()
    p_s = F.softmax(student / tau, dim=1)
    p_t = F.softmax(teacher / tau, dim=1)

    def binary(p):  # (p_y, sum of the others), as mdistiller's cat_mask
        return torch.stack([(p * target).sum(1), (p * ~target).sum(1)], 1)

    b_s, b_t = binary(p_s), binary(p_t)
    tckd = F.kl_div(b_s.log(), b_t, reduction='sum')
    offset = TARGET_OFFSET * target
    nckd = F.kl_div(F.log_softmax(student / tau - offset, dim=1),
                    F.softmax(teacher / tau - offset, dim=1), reduction='sum')
    return tau**2 * (alpha * tckd + beta * nckd) / student.shape[0]


@MODELS.register_module()
class DKDLoss(DistillLoss):
    """``loss_weight * dkd_loss(student_logits, teacher_logits, labels,
    ...)``, times the warm-up factor ``min(epoch / warmup_epochs, 1)``
    (epochs from 1, mdistiller's warm-up; for epoch-based training) when
    ``warmup_epochs`` is given. It needs the ground-truth labels, which the
    distiller passes. mdistiller's CIFAR-100 setting is ``alpha=1, beta=8,
    tau=4`` with a 20-epoch warm-up; its ImageNet one ``alpha=1,
    beta=0.5, tau=1``. ``standardize=True``: logit standardisation
    (Sun et al., CVPR 2024) before the temperature."""
    needs_labels = True

    def __init__(self,
                 alpha: float = 1.0,
                 beta: float = 8.0,
                 tau: float = 4.0,
                 ignore_index: int = 255,
                 warmup_epochs: Optional[int] = None,
                 standardize: bool = False,
                 loss_weight: float = 1.0):
        owner = type(self).__name__
        check_numbers(owner, positive=dict(tau=tau),
                      nonnegative=dict(alpha=alpha, beta=beta))
        if warmup_epochs is not None:
            check_int(owner, 'warmup_epochs', warmup_epochs, 1)
        check_flag(owner, 'standardize', standardize)
        super().__init__(dkd_loss, loss_weight, alpha=alpha, beta=beta,
                         tau=tau, ignore_index=ignore_index,
                         standardized=standardize)
        self.warmup_epochs = warmup_epochs

    def forward(self, student_logits, teacher_logits, valid_mask=None,
                labels=None):
        return epoch_warmup_factor('DKDLoss', self.warmup_epochs) * \
            super().forward(student_logits, teacher_logits, valid_mask,
                            labels)
