"""Attention transfer (Zagoruyko and Komodakis, ICLR 2017), as CIRKD's
code distils segmentation features with it (winycg/CIRKD,
``losses/at.py``, ``CriterionAT``)."""
import torch
import torch.nn.functional as F

from mmkd.models.settings import check_numbers
from mmkd.registry import MODELS
from .base import DistillLoss, feature_loss


def attention_map(features: torch.Tensor, p: float) -> torch.Tensor:
    """``[N, C, H, W] -> [N, H*W]``: ``mean_c f^p`` over the channels,
    flattened and L2-normalised over the positions of each image."""
    return F.normalize(features.pow(p).mean(1).flatten(1), dim=1)


@feature_loss
def at_loss(student_features: torch.Tensor, teacher_features: torch.Tensor,
            p: float = 2.0) -> torch.Tensor:
    """``mean_{n, i} (a_s[n, i] - a_t[n, i])²`` with ``a =`` the attention
    maps of :func:`attention_map` of ``[N, C, H, W]`` features, whose
    channel counts may differ. Returns a scalar."""
    return (attention_map(student_features, p) -
            attention_map(teacher_features, p)).pow(2).mean()


@MODELS.register_module()
class ATLoss(DistillLoss):
    """``loss_weight * at_loss(student_features, teacher_features, p)``.

    A whole-map loss: it compares features of any channel counts and takes
    no ignored pixels. CIRKD's setting for DeepLabV3-R101 into R18 is
    ``p=2``, weight 10000, on the decode head's features before its
    classifier.
    """
    same_channels = False
    takes_valid_mask = False

    def __init__(self, p: float = 2.0, loss_weight: float = 1.0):
        check_numbers(type(self).__name__, positive=dict(p=p))
        super().__init__(at_loss, loss_weight, p=p)
