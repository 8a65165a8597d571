"""Checks shared by the distill losses."""
import torch


def check_logits(student_logits: torch.Tensor,
                 teacher_logits: torch.Tensor) -> None:
    """Both logits are ``[N, C]`` or ``[N, C, H, W]`` of the same shape."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f'student logits {tuple(student_logits.shape)} and teacher '
            f'logits {tuple(teacher_logits.shape)} differ in shape')
    if student_logits.dim() not in (2, 4):
        raise ValueError(
            'logits must be [N, C] or [N, C, H, W], got '
            f'{tuple(student_logits.shape)}')


def check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f'{name} must be positive, got {value}')


def upcast(logits: torch.Tensor) -> torch.Tensor:
    """Half-precision logits as float32; float32 and float64 unchanged."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))
