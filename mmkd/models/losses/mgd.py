"""Masked generative distillation (Yang et al., ECCV 2022), as its authors'
segmentation code computes it (yzd-v/MGD, ``seg/mmseg/distillation/losses/
mgd.py``, ``FeatureLoss``)."""
from typing import Optional

import torch
from torch import nn

from mmkd.models.settings import check_int, check_numbers
from mmkd.registry import MODELS
from .base import DistillLoss, feature_loss


@feature_loss
def mgd_loss(student_features: torch.Tensor, teacher_features: torch.Tensor,
             generation: nn.Module, mask: torch.Tensor) -> torch.Tensor:
    """``sum (G(student ⊙ mask) - teacher)² / N``: the student's
    ``[N, C, H, W]`` features (already of the teacher's channels), masked
    by ``mask`` (``[N, 1, H, W]``, 1 where a position is kept), must
    regenerate the teacher's through the block ``G``. Returns a scalar."""
    generated = generation(student_features * mask)
    return (generated - teacher_features).pow(2).sum() / \
        student_features.shape[0]


@MODELS.register_module()
class MGDLoss(DistillLoss):
    """``loss_weight * alpha_mgd * mgd_loss(align(student), teacher,
    generation, mask)``, with a random spatial mask that drops each
    position with probability ``lambda_mgd``.

    The loss holds trained modules: ``align`` (a 1x1 convolution from the
    student's channels to the teacher's, when they differ) and
    ``generation`` (3x3 convolution, ReLU, 3x3 convolution). They train with
    the student, are saved in training checkpoints and are never exported.
    The mask comes from torch's random generator, whose state
    ``mmkd.ResumeRandomStateHook`` saves, so a resumed run draws the same
    masks. The authors' segmentation setting: ``alpha_mgd=2e-5``,
    ``lambda_mgd=0.75`` on the last backbone stage.
    """
    same_channels = False
    takes_valid_mask = False

    def __init__(self, student_channels: int, teacher_channels: int,
                 alpha_mgd: float = 2e-5, lambda_mgd: float = 0.75,
                 loss_weight: float = 1.0):
        owner = type(self).__name__
        check_int(owner, 'student_channels', student_channels, 1)
        check_int(owner, 'teacher_channels', teacher_channels, 1)
        check_numbers(owner, nonnegative=dict(alpha_mgd=alpha_mgd))
        if not 0 <= lambda_mgd < 1:
            check_numbers(owner, nonnegative=dict(lambda_mgd=lambda_mgd))
            raise ValueError(f'{owner}: lambda_mgd is the share of positions '
                             f'masked, in [0, 1), got {lambda_mgd!r}')
        super().__init__(mgd_loss, loss_weight)
        self.alpha_mgd = alpha_mgd
        self.lambda_mgd = lambda_mgd
        self.align: Optional[nn.Module] = None
        if student_channels != teacher_channels:
            self.align = nn.Conv2d(student_channels, teacher_channels, 1)
        self.generation = nn.Sequential(
            nn.Conv2d(teacher_channels, teacher_channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(teacher_channels, teacher_channels, 3, padding=1))

    def random_mask(self, features: torch.Tensor) -> torch.Tensor:
        """``[N, 1, H, W]``: 1 where a position is kept (probability ``1 -
        lambda_mgd``), drawn as the authors' code draws it."""
        n, _, h, w = features.shape
        draw = torch.rand((n, 1, h, w), device=features.device)
        return (draw <= 1 - self.lambda_mgd).to(features.dtype)

    def forward(self, student_features: torch.Tensor,
                teacher_features: torch.Tensor,
                valid_mask=None, labels=None) -> torch.Tensor:
        if self.align is not None:
            student_features = self.align(student_features)
        mask = self.random_mask(teacher_features)
        return self.loss_weight * self.alpha_mgd * mgd_loss(
            student_features, teacher_features, self.generation, mask)

    def extra_repr(self) -> str:
        return (f'alpha_mgd={self.alpha_mgd}, lambda_mgd={self.lambda_mgd}, '
                f'loss_weight={self.loss_weight}')
