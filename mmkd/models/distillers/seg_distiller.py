"""Logit distillation between two MMSegmentation ``EncoderDecoder`` models."""
import logging
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmseg.utils import add_prefix
from torch import nn

from mmkd.models.settings import DistillerConfigError, check_int
from mmkd.registry import MODELS
from .base import BaseDistiller


@MODELS.register_module()
class SegDistiller(BaseDistiller):
    """Distill a segmentor's decode-head logits into another's.

    Distill losses see the decode heads' logits before upsampling,
    ``[N, C, h, w]`` (1/8 of the input for the ``-d8`` models), or the
    outputs of the modules they name (e.g. ``student='auxiliary_head',
    teacher='auxiliary_head'``: the auxiliary heads' logits). When the two
    tensors differ in height and width, the teacher's are resized
    bilinearly to the student's (the student's are what is trained), or
    with ``distill_size='finer'`` the coarser map to the finer one.

    The training step returns the student's own losses
    (``decode.loss_ce``, ``aux.loss_ce``, ...) plus ``distill.<name>``.
    The teacher's losses are never computed, and its auxiliary head only
    when a distill loss reads it.

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
        if distill_ignore_index is not None:
            check_int('SegDistiller', 'distill_ignore_index',
                      distill_ignore_index, 0)
        super().__init__(*args, **kwargs)
        self.distill_ignore_index = distill_ignore_index
        whole_map = [name for name, loss in self.distill_losses.items()
                     if not getattr(loss, 'takes_valid_mask', True)]
        if distill_ignore_index is not None and whole_map:
            print_log(
                f'distill_ignore_index applies to the pixel-wise losses; '
                f'{whole_map} compare whole maps and count every pixel',
                logger='current', level=logging.WARNING)
        self.align_corners = self.student.decode_head.align_corners
        # The teacher's auxiliary head runs only when a loss reads it.
        self.teacher_runs_auxiliary = any(
            path.split('.')[0] == 'auxiliary_head'
            for path in self.teacher_paths())

    @staticmethod
    def num_classes(model: nn.Module) -> int:
        return model.decode_head.num_classes

    @staticmethod
    def logits(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        return model.decode_head(model.extract_feat(inputs))

    def teacher_forward(self, teacher: nn.Module,
                        inputs: torch.Tensor) -> torch.Tensor:
        features = teacher.extract_feat(inputs)
        if self.teacher_runs_auxiliary:
            # their outputs reach the losses through the capture hooks
            for head in auxiliary_heads(teacher).values():
                head(features)
        return teacher.decode_head(features)

    def student_forward(self, inputs: torch.Tensor, data_samples: List
                        ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        features = self.student.extract_feat(inputs)
        logits = self.student.decode_head(features)
        losses = add_prefix(
            self.student.decode_head.loss_by_feat(logits, data_samples),
            'decode')
        if self.student.with_auxiliary_head:
            losses.update(self.auxiliary_losses(features, data_samples))
        return logits, losses

    def valid_masks(self, data_samples: List) -> Optional[Callable]:
        """Without ``distill_ignore_index``, None (every pixel counts); else
        shape -> the labelled pixels of a 4-D tensor of that shape (None
        for pooled ones: no pixels to leave out)."""
        if self.distill_ignore_index is None:
            return None
        return lambda shape: self.labelled_pixels(
            data_samples, shape[2:]) if len(shape) == 4 else None

    def labels(self, data_samples: List) -> Callable:
        """student tensor -> the ground-truth label maps ``[N, h, w]`` at a
        4-D pair's height and width (nearest; the ignore index kept)."""
        def at(tensor):
            if tensor.dim() != 4:
                raise DistillerConfigError(
                    f'segmentation labels are label maps; a loss that needs '
                    f'them compares [N, C, H, W] tensors, got '
                    f'{tuple(tensor.shape)}')
            return self.label_maps(data_samples, tensor.shape[2:]).to(
                tensor.device)
        return at

    def label_maps(self, data_samples: List,
                   size: torch.Size) -> torch.Tensor:
        """``[N, h, w]``: the ground-truth labels sampled at ``size``."""
        labels = torch.stack([s.gt_sem_seg.data for s in data_samples])
        return F.interpolate(labels.float(), size=size,
                             mode='nearest')[:, 0].long()

    def auxiliary_losses(self, features: List[torch.Tensor],
                         data_samples: List) -> Dict[str, torch.Tensor]:
        """The student's auxiliary losses, keyed as ``EncoderDecoder`` keys
        them (``aux.*``, or ``aux_<i>.*`` for a list of heads). Each head is
        called as a module, not through its ``loss`` (which calls
        ``forward`` directly), so that capture hooks on it fire."""
        losses = {}
        for prefix, head in auxiliary_heads(self.student).items():
            losses.update(add_prefix(
                head.loss_by_feat(head(features), data_samples), prefix))
        return losses

    def labelled_pixels(self, data_samples: List,
                        size: torch.Size) -> torch.Tensor:
        """``[N, h, w]``: the pixels whose ground-truth label, sampled at
        ``size``, is not ``distill_ignore_index``."""
        return self.label_maps(data_samples, size) != \
            self.distill_ignore_index


def auxiliary_heads(model: nn.Module) -> Dict[str, nn.Module]:
    """An ``EncoderDecoder``'s auxiliary heads by the prefix it gives their
    losses: ``aux``, or ``aux_<i>`` for a list of heads."""
    heads = model.auxiliary_head
    if isinstance(heads, nn.ModuleList):
        return {f'aux_{index}': head for index, head in enumerate(heads)}
    return {'aux': heads}
