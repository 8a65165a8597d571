"""Logit distillation between two MMSegmentation ``EncoderDecoder`` models."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmseg.utils import add_prefix
from torch import nn

from mmkd.registry import MODELS
from .base import BaseDistiller


@MODELS.register_module()
class SegDistiller(BaseDistiller):
    """Distill a segmentor's decode-head logits into another's.

    Distill losses see the decode heads' logits before upsampling,
    ``[N, C, h, w]`` (1/8 of the input for the ``-d8`` models). When the
    two networks' logits differ in size, the teacher's are resized
    bilinearly to the student's: the student's logits are what is trained,
    and the smaller map keeps the losses cheap.

    The training step returns the student's own losses
    (``decode.loss_ce``, ``aux.loss_ce``, ...) plus ``distill.<name>``.
    The teacher's auxiliary head and losses are never computed.

    Args:
        distill_ignore_index (int, optional): leave the pixels labelled so in
            the ground truth (255 in Cityscapes, also the padding) out of the
            distill losses, which then average over the other pixels. The
            label map is resized to the logits with nearest-neighbour
            sampling. Default None: distil every pixel, as the published
            methods do.
        Others as :class:`BaseDistiller`.
    """

    task_scope = 'mmseg'

    def __init__(self, *args, distill_ignore_index: Optional[int] = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.distill_ignore_index = distill_ignore_index

    @staticmethod
    def num_classes(model: nn.Module) -> int:
        return model.decode_head.num_classes

    @staticmethod
    def logits(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        return model.decode_head(model.extract_feat(inputs))

    def loss(self, inputs: torch.Tensor,
             data_samples: List) -> Dict[str, torch.Tensor]:
        teacher_logits = self.teacher_logits(inputs)
        features = self.student.extract_feat(inputs)
        student_logits = self.student.decode_head(features)
        losses = add_prefix(
            self.student.decode_head.loss_by_feat(student_logits,
                                                  data_samples), 'decode')
        if self.student.with_auxiliary_head:
            losses.update(
                self.student._auxiliary_head_forward_train(
                    features, data_samples))
        if teacher_logits.shape[2:] != student_logits.shape[2:]:
            teacher_logits = F.interpolate(
                teacher_logits, size=student_logits.shape[2:],
                mode='bilinear',
                align_corners=self.student.decode_head.align_corners)
        valid_mask = None
        if self.distill_ignore_index is not None:
            valid_mask = self.labelled_pixels(data_samples,
                                              student_logits.shape[2:])
        losses.update(self.distill(student_logits, teacher_logits, valid_mask))
        return losses

    def student_loss(self, inputs: torch.Tensor,
                     data_samples: List) -> Dict[str, torch.Tensor]:
        # EncoderDecoder.loss keys its losses decode.* and aux.*, as loss().
        return self.student.loss(inputs, data_samples)

    def labelled_pixels(self, data_samples: List,
                        size: torch.Size) -> torch.Tensor:
        """``[N, h, w]``: the pixels whose ground-truth label, sampled at
        ``size``, is not ``distill_ignore_index``."""
        labels = torch.stack([s.gt_sem_seg.data for s in data_samples])
        labels = F.interpolate(labels.float(), size=size, mode='nearest')
        return labels[:, 0] != self.distill_ignore_index
