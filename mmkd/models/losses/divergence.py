"""The core every KL-based loss runs on (KD, BDD, CWD and PCD's groups):
forward and reverse KL along one dimension in one pass, with a gradient
written out rather than traced through the softmaxes."""
import torch
import torch.nn.functional as F

__all__ = ['divergences']


class _Divergences(torch.autograd.Function):
    """See ``divergences``. The gradient is written out rather than traced
    through the softmaxes: it needs only ``p``, ``q`` and ``log p - log q``,
    which the forward pass has anyway, and takes a fraction of the time and
    memory of autograd's path."""

    @staticmethod
    def forward(ctx, student, teacher, dim, forward_weight, reverse_weight,
                cosine_weighted):
        log_q = F.log_softmax(student, dim)
        log_p = F.log_softmax(teacher, dim)
        log_ratio = log_p - log_q
        p, q = log_p.exp_(), log_q.exp_()  # the logs are spent: reuse them
        coefficient = p if forward_weight == 1 else p * forward_weight
        if reverse_weight:
            coefficient = torch.sub(coefficient, q, alpha=reverse_weight)
        value = (coefficient * log_ratio).sum(dim)
        weight = None
        if cosine_weighted:
            # sums of products, not vector_norm: 25x faster on CPU when dim
            # is not the last one
            cosine = (p * q).sum(dim) / ((p * p).sum(dim) *
                                         (q * q).sum(dim)).sqrt()
            weight = 1 - cosine
            value = value * weight
        # KD's student gradient needs only p and q
        needs_log_ratio = reverse_weight or ctx.needs_input_grad[1]
        ctx.save_for_backward(p, q, log_ratio if needs_log_ratio else None,
                              weight)
        ctx.dim = dim
        ctx.weights = forward_weight, reverse_weight
        return value

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_value):
        p, q, log_ratio, weight = ctx.saved_tensors
        forward_weight, reverse_weight = ctx.weights
        if weight is not None:
            grad_value = grad_value * weight
        grad_value = grad_value.unsqueeze(ctx.dim)
        grad_student = grad_teacher = None
        if ctx.needs_input_grad[0] and not reverse_weight:
            grad_student = torch.sub(q, p).mul_(grad_value * forward_weight)
        elif ctx.needs_input_grad[0]:
            # fw (q - p) + rw q (log q - log p - KL(q || p)), as
            # q * (fw + rw sum q log_ratio) - rw q log_ratio - fw p
            q_log_ratio = q * log_ratio
            scale = grad_value * (forward_weight + reverse_weight *
                                  q_log_ratio.sum(ctx.dim, keepdim=True))
            grad_student = (q * scale).addcmul_(
                q_log_ratio, grad_value, value=-reverse_weight).addcmul_(
                    p, grad_value, value=-forward_weight)
        if ctx.needs_input_grad[1]:
            # fw p (log p - log q - KL(p || q)) + rw (p - q), as
            # p * (rw - fw sum p log_ratio) + fw p log_ratio - rw q
            p_log_ratio = p * log_ratio
            scale = grad_value * (reverse_weight - forward_weight *
                                  p_log_ratio.sum(ctx.dim, keepdim=True))
            grad_teacher = (p * scale).addcmul_(
                p_log_ratio, grad_value, value=forward_weight).addcmul_(
                    q, grad_value, value=-reverse_weight)
        return grad_student, grad_teacher, None, None, None, None


def divergences(student: torch.Tensor,
                teacher: torch.Tensor,
                dim: int = 1,
                forward_weight: float = 1.0,
                reverse_weight: float = 0.0,
                cosine_weighted: bool = False) -> torch.Tensor:
    """``fw * KL(p || q) + rw * KL(q || p)`` along ``dim``, with ``p =
    softmax(teacher)`` and ``q = softmax(student)`` along ``dim`` (scale the
    logits by the temperature first); times ``1 - cos(p, q)``, detached,
    when ``cosine_weighted``. The result lacks ``dim``.

    Positions whose logits are the lowest finite value in both inputs get
    zero probability and add nothing; the losses pad and mask with that.
    """
    return _Divergences.apply(student, teacher, dim, forward_weight,
                              reverse_weight, cosine_weighted)
