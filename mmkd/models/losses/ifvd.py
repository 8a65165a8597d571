"""Intra-class feature variation distillation (Wang et al., ECCV 2020), as
CIRKD's code computes it (winycg/CIRKD, ``losses/ifvd.py``,
``CriterionIFV``)."""
import torch
import torch.nn.functional as F

from mmkd.models.settings import check_int
from mmkd.registry import MODELS
from .base import DistillLoss, feature_loss, labels_at


def class_similarity(features: torch.Tensor, labels: torch.Tensor,
                     num_classes: int) -> torch.Tensor:
    """``[N, C, H, W]``, ``[N, H, W] -> [N, H, W]``: the cosine similarity
    of each position's feature to its class prototype (the mean feature of
    the positions of its class in its image). A position whose label is no
    class (the ignore index) is its own prototype: similarity 1 in both
    networks, so it adds nothing to the difference."""
    classes = torch.where((labels >= 0) & (labels < num_classes), labels,
                          num_classes)  # no class: a column cut off below
    one_hot = F.one_hot(classes, num_classes + 1)[
        ..., :num_classes].permute(0, 3, 1, 2).to(features.dtype)
    counts = one_hot.sum((2, 3))  # [N, K]
    prototypes = torch.einsum('nkhw,nchw->nkc', one_hot, features) / (
        counts[..., None] + 1e-6)
    centred = torch.einsum('nkhw,nkc->nchw', one_hot, prototypes)
    labelled = one_hot.sum(1, keepdim=True) > 0
    centred = torch.where(labelled, centred, features)
    return F.cosine_similarity(features, centred, dim=1)


@feature_loss
def ifvd_loss(student_features: torch.Tensor, teacher_features: torch.Tensor,
              labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``mean_{n, i} (s_s[n, i] - s_t[n, i])²``, ``s`` the
    :func:`class_similarity` of each network's ``[N, C, H, W]`` features
    (channel counts may differ) to its own class prototypes, with the
    ``[N, H', W']`` labels resized to the features (nearest); the mean runs
    over every position, ignored ones included (as the reference).
    Returns a scalar."""
    labels = labels_at(labels, student_features.shape[2:])
    return F.mse_loss(
        class_similarity(student_features, labels, num_classes),
        class_similarity(teacher_features, labels, num_classes))


@MODELS.register_module()
class IFVDLoss(DistillLoss):
    """``loss_weight * ifvd_loss(student_features, teacher_features,
    labels, num_classes)``. It needs the ground-truth labels, which the
    distiller passes. CIRKD's setting for DeepLabV3-R101 into R18 is
    weight 20 on the decode head's features before its classifier."""
    same_channels = False
    takes_valid_mask = False
    needs_labels = True

    def __init__(self, num_classes: int, loss_weight: float = 1.0):
        check_int(type(self).__name__, 'num_classes', num_classes, 1)
        super().__init__(ifvd_loss, loss_weight, num_classes=num_classes)
