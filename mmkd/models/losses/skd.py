"""Structured knowledge distillation, its pair-wise term (Liu et al., CVPR
2019), as CIRKD's code computes it (winycg/CIRKD, ``losses/skd.py``,
``CriterionStructuralKD``)."""
import torch
import torch.nn.functional as F

from mmkd.models.settings import check_int
from mmkd.registry import MODELS
from .base import DistillLoss, feature_loss


def check_positions(owner: str, positions: int, limit: int,
                    images: int) -> None:
    """Refuse similarity matrices over more than ``limit`` positions: their
    memory grows with the square of the positions."""
    if positions > limit:
        mib = images * positions**2 * 4 / 2**20
        raise ValueError(
            f'{owner}: {positions} positions per image need {positions} x '
            f'{positions} similarity matrices, {mib:.0f} MiB for {images} '
            'images in float32 per network, before autograd keeps its own; '
            f'the limit is max_positions={limit}: raise it if the memory is '
            'there, or compare smaller maps')


def pairwise_similarity(features: torch.Tensor) -> torch.Tensor:
    """``[N, C, H, W] -> [N, H*W, H*W]``: the cosine similarity of every
    pair of positions of each image."""
    flat = F.normalize(features, p=2, dim=1).flatten(2)
    return flat.transpose(1, 2) @ flat


@feature_loss
def skd_loss(student_features: torch.Tensor, teacher_features: torch.Tensor,
             patch_size: int = 2, max_positions: int = 4096) -> torch.Tensor:
    """``mean (A_s - A_t)²`` over the images and pairs of positions, with
    ``A`` the :func:`pairwise_similarity` of the features max-pooled to
    patches of ``patch_size`` (``ceil_mode``, as the reference). The channel
    counts may differ. Returns a scalar."""
    pool = dict(kernel_size=patch_size, stride=patch_size, ceil_mode=True)
    student = F.max_pool2d(student_features, **pool)
    teacher = F.max_pool2d(teacher_features, **pool)
    check_positions('SKDLoss', student.shape[2] * student.shape[3],
                    max_positions, student.shape[0])
    return (pairwise_similarity(student) -
            pairwise_similarity(teacher)).pow(2).mean()


@MODELS.register_module()
class SKDLoss(DistillLoss):
    """``loss_weight * skd_loss(student_features, teacher_features, ...)``.

    A whole-map loss: it compares features of any channel counts and takes
    no ignored pixels. Its memory is quadratic in the pooled positions: a
    map of more than ``max_positions`` of them is refused with an error
    that names the memory it would take. CIRKD's setting for DeepLabV3-R101
    into R18 is 2x2 patches, weight 10, on the decode head's features
    before its classifier.
    """
    same_channels = False
    takes_valid_mask = False

    def __init__(self, patch_size: int = 2, max_positions: int = 4096,
                 loss_weight: float = 1.0):
        owner = type(self).__name__
        check_int(owner, 'patch_size', patch_size, 1)
        check_int(owner, 'max_positions', max_positions, 1)
        super().__init__(skd_loss, loss_weight, patch_size=patch_size,
                         max_positions=max_positions)
