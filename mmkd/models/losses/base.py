"""What the distill losses share: input checks, full-precision math, the
reductions over positions and channels, and the loss module around a
pure loss function.

Logits are ``[N, C]`` (classification) or ``[N, C, H, W]`` (segmentation);
"per position" means per sample of ``[N, C]`` and per pixel of every image
of ``[N, C, H, W]``. ``valid_mask`` marks the positions that count: ``[N]``
or ``[N, H, W]``, boolean.
"""
import functools
from typing import Callable, Optional, Tuple

import torch
from mmengine.logging import MessageHub

from mmkd.models.settings import check_number


def check_logits(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                 valid_mask: Optional[torch.Tensor] = None) -> None:
    """Both logits are ``[N, C]`` or ``[N, C, H, W]`` of the same shape, and
    ``valid_mask``, if given, is boolean of their shape without ``C``."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f'student logits {tuple(student_logits.shape)} and teacher '
            f'logits {tuple(teacher_logits.shape)} differ in shape')
    if student_logits.dim() not in (2, 4):
        raise ValueError(
            'logits must be [N, C] or [N, C, H, W], got '
            f'{tuple(student_logits.shape)}')
    if valid_mask is None:
        return
    positions = student_logits.shape[:1] + student_logits.shape[2:]
    if valid_mask.dtype != torch.bool or valid_mask.shape != positions:
        raise ValueError(
            f'valid_mask must be a bool tensor of shape {tuple(positions)}, '
            f'got {valid_mask.dtype} {tuple(valid_mask.shape)}')


def upcast(logits: torch.Tensor) -> torch.Tensor:
    """Half-precision logits as float32; float32 and float64 unchanged."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def logit_loss(loss: Callable) -> Callable:
    """Decorate ``loss(student_logits, teacher_logits, ..., valid_mask=None)``:
    check the inputs, then compute in float32 (float64 stays float64) with
    autocast off, whatever the inputs' dtype, so that fp16 and bf16 training
    get exact losses."""

    @functools.wraps(loss)
    def checked_full_precision(student_logits, teacher_logits, *args,
                               valid_mask=None, **kwargs):
        check_logits(student_logits, teacher_logits, valid_mask)
        with torch.autocast(student_logits.device.type, enabled=False):
            return loss(upcast(student_logits), upcast(teacher_logits),
                        *args, valid_mask=valid_mask, **kwargs)

    return checked_full_precision


def channel_logits(logits: torch.Tensor,
                   valid_mask: Optional[torch.Tensor]) -> torch.Tensor:
    """``[N, C, H, W]`` logits as ``[N, C, H*W]``: each class channel of each
    image becomes one distribution over the spatial positions (softmax along
    the last dimension). Positions outside ``valid_mask`` get the lowest
    finite value, not -inf: they get zero probability and ``log p - log q =
    0`` there, so no NaN arises (see :func:`mmkd.models.losses.divergence.divergences`)."""
    if logits.dim() != 4:
        raise ValueError(
            'a spatial distribution needs spatial maps: logits must be '
            f'[N, C, H, W], got {tuple(logits.shape)}')
    flat = logits.flatten(2)
    if valid_mask is None:
        return flat
    invalid = ~valid_mask.flatten(1)[:, None]
    return flat.masked_fill(invalid, torch.finfo(flat.dtype).min)


def channel_mean(per_channel: torch.Tensor,
                 valid_mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean of ``[N, C]`` per-channel values over ``N * C``; with
    ``valid_mask`` (``[N, H, W]``), images without a valid position are
    left out of the mean."""
    if valid_mask is None:
        return per_channel.mean()
    images = valid_mask.flatten(1).any(1).to(per_channel.dtype)  # [N]
    count = (images.sum() * per_channel.shape[1]).clamp_min(1)
    return (per_channel * images[:, None]).sum() / count


def masked_mean(values: torch.Tensor,
                valid_mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean of ``values`` over the valid positions (all when no mask); zero,
    still attached to the graph, when no position is valid."""
    if valid_mask is None:
        return values.mean()
    weights = valid_mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp_min(1)


def training_progress(owner: str, what: str) -> Tuple[int, int]:
    """The training iteration (0-based) and the number of iterations, from
    mmengine's message hub, which the runner updates every iteration and
    restores on ``--resume`` (so a loss that depends on them resumes
    exactly). ``owner`` and ``what`` name the loss and its setting that
    needs them, for the error raised outside a runner."""
    hub = MessageHub.get_current_instance()
    iteration, max_iters = hub.get_info('iter'), hub.get_info('max_iters')
    if iteration is None or not max_iters:
        raise RuntimeError(
            f'{owner}({what}) needs the training iteration and length from '
            "mmengine's message hub ('iter', 'max_iters'), which the runner "
            'sets; none were found')
    return iteration, max_iters


class DistillLoss(torch.nn.Module):
    """A loss module: ``loss_weight * loss_fn(student_logits, teacher_logits,
    **hyperparameters, valid_mask=valid_mask)``. Subclasses give
    ``loss_fn``, name their hyperparameters in their signature and check
    them (:func:`mmkd.models.settings.check_numbers`); ``loss_weight`` is
    checked here: a finite number >= 0 (a negative one would train the
    student away from the teacher)."""

    def __init__(self, loss_fn: Callable, loss_weight: float,
                 **hyperparameters):
        loss_weight = check_number(type(self).__name__, 'loss_weight',
                                   loss_weight)
        super().__init__()
        self.loss_fn = loss_fn
        self.loss_weight = loss_weight
        self.hyperparameters = hyperparameters

    def forward(self,
                student_logits: torch.Tensor,
                teacher_logits: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.loss_weight * self.loss_fn(
            student_logits, teacher_logits, **self.hyperparameters,
            valid_mask=valid_mask)

    def extra_repr(self) -> str:
        settings = {**self.hyperparameters, 'loss_weight': self.loss_weight}
        return ', '.join(f'{k}={v!r}' for k, v in settings.items())
