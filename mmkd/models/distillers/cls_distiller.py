"""Logit distillation between two MMPretrain ``ImageClassifier`` models."""
from typing import Dict, List, Tuple

import torch
from torch import nn

from mmkd.registry import MODELS
from mmkd.models.settings import DistillerConfigError
from .base import BaseDistiller


@MODELS.register_module()
class ClsDistiller(BaseDistiller):
    """Distill a classifier's logits, ``[N, C]``, into another's.

    The training step returns the student's own classification loss as
    ``cls.loss`` (with batch augmentations such as Mixup applied by the data
    preprocessor to the batch both networks see) plus ``distill.<name>``.
    The teacher computes features and head logits only, without loss.
    Distill losses may name modules of both networks instead of the logits
    (e.g. ``student='neck', teacher='neck'``: the pooled features).

    Args: as :class:`BaseDistiller`; teacher and student are MMPretrain
    classifier configs (``mmpretrain::`` paths for the teacher's config).
    """

    task_scope = 'mmpretrain'

    @staticmethod
    def num_classes(model: nn.Module) -> int:
        return model.head.num_classes

    @staticmethod
    def logits(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        return model.head(model.extract_feat(inputs))

    def labels(self, data_samples: List):
        """student tensor -> the ``[N]`` ground-truth class indices (for a
        loss that needs them on ``[N, C]`` logits)."""
        def indices(tensor):
            missing = [i for i, s in enumerate(data_samples)
                       if 'gt_label' not in s]
            if missing or tensor.dim() != 2:
                raise DistillerConfigError(
                    'a classification loss that needs labels takes [N, C] '
                    f'logits and samples with gt_label (got '
                    f'{tuple(tensor.shape)}; samples without one: '
                    f'{missing})')
            return torch.cat([s.gt_label for s in data_samples]).to(
                tensor.device).long()
        return indices

    def student_forward(self, inputs: torch.Tensor, data_samples: List
                        ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        logits = self.logits(self.student, inputs)
        losses = self.student.head._get_loss(logits, data_samples)
        return logits, {f'cls.{name}': value for name, value in
                        losses.items()}
