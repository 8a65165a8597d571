"""DIST: Knowledge Distillation from A Stronger Teacher (Huang et al.,
NeurIPS 2022), for segmentation as in the authors' code: every pixel of the
batch is one sample, so the intra-class relation correlates each class over
all ``N * H * W`` pixels."""
from typing import Optional, Sequence, Union

import torch

from mmkd.registry import MODELS
from mmkd.models.settings import check_numbers
from .base import DistillLoss, logit_loss, masked_mean

Dims = Union[int, Sequence[int]]


def pearson(a: torch.Tensor, b: torch.Tensor, dim: Dims,
            weight: Optional[torch.Tensor] = None,
            eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation of ``a`` and ``b`` along ``dim``, over the entries
    where ``weight`` (0/1, broadcastable) is 1, or over all. ``eps`` in the
    denominator as in the reference code: a constant vector correlates 0."""
    if weight is None:
        a = a - a.mean(dim, keepdim=True)
        b = b - b.mean(dim, keepdim=True)
    else:
        count = weight.sum(dim, keepdim=True).clamp_min(1)
        a = (a - (a * weight).sum(dim, keepdim=True) / count) * weight
        b = (b - (b * weight).sum(dim, keepdim=True) / count) * weight
    # (a * a).sum().sqrt(), not vector_norm: 10x faster on CPU over dim 1.
    # The clamp changes no value above eps^2 and keeps the gradient finite
    # for a constant vector (e.g. a class no pixel predicts).
    norms = ((a * a).sum(dim) * (b * b).sum(dim)).clamp_min(eps**2).sqrt()
    return (a * b).sum(dim) / (norms + eps)


@logit_loss
def dist_loss(student_logits: torch.Tensor,
              teacher_logits: torch.Tensor,
              beta: float = 1.0,
              gamma: float = 1.0,
              tau: float = 1.0,
              valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``tau^2 * (beta * inter + gamma * intra)`` on ``q = softmax(student /
    tau)`` and ``p = softmax(teacher / tau)`` over classes:

    - ``inter = 1 - mean_i rho(q_i, p_i)``, the correlation over classes at
      each (valid) position ``i``;
    - ``intra = 1 - mean_c rho(q_c, p_c)``, the correlation of each class
      over all (valid) positions of the batch: samples of ``[N, C]``, every
      pixel of every image of ``[N, C, H, W]``.

    Returns a scalar.
    """
    if student_logits.dim() == 2:  # samples as 1x1 images
        student_logits = student_logits[..., None, None]
        teacher_logits = teacher_logits[..., None, None]
        if valid_mask is not None:
            valid_mask = valid_mask[..., None, None]
    q = (student_logits / tau).softmax(dim=1)
    p = (teacher_logits / tau).softmax(dim=1)
    inter = 1 - masked_mean(pearson(q, p, dim=1), valid_mask)
    weight = None if valid_mask is None else valid_mask[:, None].to(q.dtype)
    intra = 1 - pearson(q, p, dim=(0, 2, 3), weight=weight).mean()
    return tau**2 * (beta * inter + gamma * intra)


@MODELS.register_module()
class DISTLoss(DistillLoss):
    """``loss_weight * dist_loss(student_logits, teacher_logits, ...)``.

    The authors' segmentation setting is ``beta = gamma = tau = 1``.
    """

    def __init__(self,
                 beta: float = 1.0,
                 gamma: float = 1.0,
                 tau: float = 1.0,
                 loss_weight: float = 1.0):
        check_numbers(type(self).__name__, positive=dict(tau=tau),
                      nonnegative=dict(beta=beta, gamma=gamma))
        super().__init__(dist_loss, loss_weight, beta=beta, gamma=gamma,
                         tau=tau)
