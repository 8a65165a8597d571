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

from mmkd.models.settings import SettingError, check_number


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


def feature_loss(loss: Callable) -> Callable:
    """Decorate ``loss(student_features, teacher_features, ...)`` on whole
    feature maps: check that both are ``[N, C, H, W]`` of the same ``N``,
    ``H`` and ``W`` (the channels may differ), then compute in float32
    (float64 stays float64) with autocast off."""

    @functools.wraps(loss)
    def checked_full_precision(student, teacher, *args, **kwargs):
        if student.dim() != 4 or teacher.dim() != 4 or \
                student.shape[0] != teacher.shape[0] or \
                student.shape[2:] != teacher.shape[2:]:
            raise ValueError(
                f'{loss.__name__} compares [N, C, H, W] maps of the same N, '
                f'H and W; got student {tuple(student.shape)}, teacher '
                f'{tuple(teacher.shape)}')
        with torch.autocast(student.device.type, enabled=False):
            return loss(upcast(student), upcast(teacher), *args, **kwargs)

    return checked_full_precision


def check_flag(owner: str, name: str, value) -> None:
    """Refuse anything but True or False, naming the owner and setting."""
    if not isinstance(value, bool):
        raise SettingError(f'{owner}: {name} is True or False, got '
                           f'{value!r}')


def standardize(logits: torch.Tensor) -> torch.Tensor:
    """Logit standardisation (Sun et al., CVPR 2024): each position's logits
    z-scored over the classes (dim 1), ``(z - mean) / (1e-7 + std)`` with
    the unbiased standard deviation, as the authors' code does."""
    mean = logits.mean(dim=1, keepdim=True)
    std = logits.std(dim=1, keepdim=True)
    return (logits - mean) / (1e-7 + std)


def epoch_warmup_factor(owner: str, warmup_epochs: Optional[int]) -> float:
    """``min(epoch / warmup_epochs, 1)``, epochs counted from 1 as the
    authors' classification code counts them (mmengine's message hub
    counts from 0); 1 without a warm-up."""
    if warmup_epochs is None:
        return 1.0
    epoch = MessageHub.get_current_instance().get_info('epoch')
    if epoch is None:
        raise RuntimeError(
            f"{owner}(warmup_epochs=...) needs the training epoch from "
            "mmengine's message hub ('epoch'), which the runner sets; none "
            'was found')
    return min((epoch + 1) / warmup_epochs, 1.0)


def labels_at(labels: torch.Tensor, size) -> torch.Tensor:
    """``[N, H, W]`` integer labels resized to ``size`` (nearest), the
    ignore index kept."""
    return torch.nn.functional.interpolate(
        labels[:, None].float(), size=tuple(size), mode='nearest')[:, 0].long()


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
    """A loss module: ``loss_weight * loss_fn(student, teacher,
    **hyperparameters, valid_mask=valid_mask)``. Subclasses give
    ``loss_fn``, name their hyperparameters in their signature and check
    them (:func:`mmkd.models.settings.check_numbers`); ``loss_weight`` is
    checked here: a finite number >= 0 (a negative one would train the
    student away from the teacher).

    What a loss declares to the distiller that calls it:

    - ``same_channels``: the two tensors must have one shape (logit
      losses); False for losses on whole feature maps whose channel counts
      may differ (their height and width must still agree).
    - ``takes_valid_mask``: it averages over positions and honours
      ``valid_mask`` (``distill_ignore_index``); False for losses on whole
      maps, which are called without one.
    - ``needs_labels``: it needs the ground truth, passed as ``labels``:
      ``[N]`` class indices for ``[N, C]`` tensors, ``[N, H, W]`` label
      maps at the compared tensors' size (nearest) for ``[N, C, H, W]``
      ones, the ignore index kept.
    """
    same_channels = True
    takes_valid_mask = True
    needs_labels = False

    def __init__(self, loss_fn: Callable, loss_weight: float,
                 **hyperparameters):
        loss_weight = check_number(type(self).__name__, 'loss_weight',
                                   loss_weight)
        super().__init__()
        self.loss_fn = loss_fn
        self.loss_weight = loss_weight
        self.hyperparameters = hyperparameters

    def forward(self,
                student: torch.Tensor,
                teacher: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None,
                labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.loss_weight * self.loss_fn(
            student, teacher, **self.hyperparameters,
            **self.extra_inputs(valid_mask, labels))

    def extra_inputs(self, valid_mask: Optional[torch.Tensor],
                     labels: Optional[torch.Tensor]) -> dict:
        """``valid_mask`` and ``labels`` as ``loss_fn`` takes them: each
        only where the loss declares it (a mask given to a loss that takes
        none is refused, not dropped)."""
        owner = type(self).__name__
        inputs = {}
        if self.takes_valid_mask:
            inputs['valid_mask'] = valid_mask
        elif valid_mask is not None:
            raise ValueError(f'{owner} compares whole maps and takes no '
                             'valid_mask')
        if self.needs_labels:
            if labels is None:
                raise ValueError(f'{owner} needs the ground-truth labels '
                                 '(labels=...), which the distiller passes')
            inputs['labels'] = labels
        return inputs

    def extra_repr(self) -> str:
        settings = {**self.hyperparameters, 'loss_weight': self.loss_weight}
        return ', '.join(f'{k}={v!r}' for k, v in settings.items())
