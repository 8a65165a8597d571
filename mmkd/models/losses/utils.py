"""What the distill losses share: input checks, full-precision math and the
reductions over pixels.

Logits are ``[N, C]`` (classification) or ``[N, C, H, W]`` (segmentation);
"per position" means per sample of ``[N, C]`` and per pixel of every image
of ``[N, C, H, W]``. ``valid_mask`` marks the positions that count: ``[N]``
or ``[N, H, W]``, boolean.
"""
import functools
from typing import Callable, Optional

import torch
import torch.nn.functional as F


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


def check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f'{name} must be positive, got {value}')


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


def log_softmax(logits: torch.Tensor, tau: float) -> torch.Tensor:
    """``log softmax(logits / tau)`` over classes (dim 1)."""
    return F.log_softmax(logits / tau, dim=1)


def kl_per_position(log_p: torch.Tensor, log_q: torch.Tensor,
                    dim: int = 1) -> torch.Tensor:
    """``KL(p || q) = sum p * (log p - log q)`` over ``dim``, from log
    probabilities; the result lacks ``dim``."""
    return (log_p.exp() * (log_p - log_q)).sum(dim)


def masked_mean(values: torch.Tensor,
                valid_mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean of ``values`` over the valid positions (all when no mask); zero,
    still attached to the graph, when no position is valid."""
    if valid_mask is None:
        return values.mean()
    weights = valid_mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp_min(1)


class DistillLoss(torch.nn.Module):
    """A loss module: ``loss_weight * loss_fn(student_logits, teacher_logits,
    **hyperparameters, valid_mask=valid_mask)``. Subclasses give
    ``loss_fn`` and name their hyperparameters in their signature."""

    def __init__(self, loss_fn: Callable, loss_weight: float,
                 **hyperparameters):
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
