"""Progressive Class-level Distillation, pixel-wise.

At every position the classes are ranked by how far the student's logit is
from the teacher's, largest gap first. A stage with ``G`` groups cuts that
ranking into ``G`` near-equal contiguous groups and distils within each
group: both distributions are softmaxes over the group's classes only, so
classes that the student already matches do not drown the ones it misses.
Fine-to-coarse walks the stages from ``num_stages`` groups down to one (plain
KD over all classes); coarse-to-fine walks them back up. That is the
paper's description; :func:`pcd_reference_loss` is what the authors' public
code computes, which differs (``PCDLoss(reference=True)``).
"""
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from mmkd.models.settings import SettingError, check_int, check_numbers
from mmkd.registry import MODELS
from .base import (DistillLoss, check_flag, epoch_warmup_factor, logit_loss,
                   masked_mean, standardize, training_progress)
from .divergence import divergences

SCHEDULES = ('joint', 'progressive')


def stage_sequence(num_stages: int) -> List[int]:
    """The number of groups of each stage in order: fine-to-coarse
    ``S, ..., 1``, then coarse-to-fine ``1, ..., S``."""
    fine_to_coarse = list(range(num_stages, 0, -1))
    return fine_to_coarse + fine_to_coarse[::-1]


def group_layout(num_classes: int, num_groups: int,
                 device: torch.device) -> Tuple[torch.Tensor, int]:
    """Split ranks ``0..C-1`` into ``num_groups`` contiguous groups whose
    sizes differ by at most one (larger groups first). Returns the rank held
    by each slot of a ``[num_groups, width]`` grid, flattened, with ``C``
    (a padding column) in unused slots; and ``width``."""
    width = -(-num_classes // num_groups)
    sizes = torch.full((num_groups, ), num_classes // num_groups)
    sizes[:num_classes % num_groups] += 1
    starts = torch.cumsum(sizes, 0) - sizes
    slots = torch.arange(width)
    ranks = torch.where(slots < sizes[:, None], starts[:, None] + slots,
                        num_classes)
    return ranks.flatten().to(device), width


def rank_order(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Per position, the class indices by descending ``|teacher - student|``
    (ties by class index), ``[N, C, *]``. Sorted in a channels-last copy:
    sorting along the contiguous last dimension is twice as fast on CPU."""
    gap = (teacher - student).abs().detach().movedim(1, -1).contiguous()
    return gap.argsort(dim=-1, descending=True, stable=True).movedim(-1, 1)


def grouped_kl(student_padded: torch.Tensor, teacher_padded: torch.Tensor,
               num_groups: int) -> torch.Tensor:
    """``sum_g lambda_g KL(p_g || q_g)`` per position for one stage.

    ``*_padded`` hold the logits (divided by the temperature) in rank order
    along dim 1, plus one last class of the lowest finite value: the unused
    slots of the ``[G, width]`` group grid point there, so they get zero
    probability and ``log p - log q = 0``, with no NaN and no mask.
    """
    num_classes = student_padded.shape[1] - 1
    ranks, width = group_layout(num_classes, num_groups,
                                student_padded.device)

    def as_groups(padded):  # [N, C + 1, *] -> [N, G, width, *]
        return padded.index_select(1, ranks).unflatten(1, (num_groups, width))

    return divergences(as_groups(student_padded), as_groups(teacher_padded),
                       dim=2, cosine_weighted=True).sum(1)


@logit_loss
def pcd_loss(student_logits: torch.Tensor,
             teacher_logits: torch.Tensor,
             stages: Sequence[int],
             tau: float = 1.0,
             standardized: bool = False,
             valid_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``tau^2 * mean_i sum_{stage in stages} sum_g lambda_g KL(p_g || q_g)``:
    for each stage (its number of groups ``G``), the classes ranked at
    position ``i`` by ``|teacher - student|`` (descending, detached) are cut
    into ``G`` near-equal contiguous groups; ``p_g`` and ``q_g`` are the
    softmaxes of ``teacher / tau`` and ``student / tau`` restricted to group
    ``g``, ``lambda_g = 1 - cos(p_g, q_g)`` (detached). ``i`` runs over the
    (valid) samples of ``[N, C]`` or pixels of ``[N, C, H, W]``.

    One sort serves every stage, each distinct stage is computed once, and
    the one-group stage (all classes) needs no sort. Ties in the gap are
    ordered by class index. ``standardized``: z-score each position's
    logits over the classes first (:func:`standardize`). Returns a scalar.
    """
    if standardized:
        student_logits = standardize(student_logits)
        teacher_logits = standardize(teacher_logits)
    num_classes = student_logits.shape[1]
    if max(stages) > num_classes:
        raise ValueError(f'a stage of {max(stages)} groups needs at least as '
                         f'many classes, got {num_classes}')
    student = student_logits / tau
    teacher = teacher_logits / tau
    counts = Counter(stages)
    per_position = 0
    if 1 in counts:
        per_position = counts.pop(1) * divergences(
            student, teacher, cosine_weighted=True)
    if counts:
        order = rank_order(student, teacher)

        def ranked_and_padded(logits):
            lowest = torch.finfo(logits.dtype).min
            return torch.cat([logits.gather(1, order),
                              logits.new_full(logits[:, :1].shape, lowest)],
                             dim=1)

        student_padded = ranked_and_padded(student)
        teacher_padded = ranked_and_padded(teacher)
        for num_groups, count in counts.items():
            per_position = per_position + count * grouped_kl(
                student_padded, teacher_padded, num_groups)
    return tau**2 * masked_mean(per_position, valid_mask)


@logit_loss
def pcd_reference_loss(student_logits: torch.Tensor,
                       teacher_logits: torch.Tensor,
                       num_stages: int = 3,
                       tau: float = 4.0,
                       standardized: bool = False,
                       valid_mask: Optional[torch.Tensor] = None
                       ) -> torch.Tensor:
    """PCD as the authors' released classification code computes it
    (lijiayan401/PCD, ``mdistiller/distillers/PCD.py``, ``PCD_loss``),
    each (valid) position of ``[N, C]`` or ``[N, C, H, W]`` logits one
    sample of ``M``:

        ``2 S · tau² · KL_M(p ‖ q) · mean_i (1 − cos(p_i, log q_i))``

    with ``p = softmax(teacher / tau)``, ``q = softmax(student / tau)`` over
    all classes, ``KL_M`` the KL summed over the ``M`` samples and divided
    by ``M`` (``batchmean``), and the cosine between the teacher's
    probabilities and the student's log-probabilities, not detached (so
    ``1 − cos`` lies in (1, 2]). Why all classes: the code forms stage
    ``i``'s blocks as index ranges ``[j·C, (j+1)·C)``, ``j < i``, of the
    classes in their given order (no ranking), with the block size equal
    to the number of classes ``C``; block 0 holds every class and the other
    blocks none (masked out: no value, no gradient). Its ``S`` stages down
    and ``S`` back up thus add ``2 S`` equal terms. Returns a scalar.
    """
    if student_logits.dim() == 4:  # positions as samples
        student_logits = student_logits.movedim(1, -1).flatten(0, 2)
        teacher_logits = teacher_logits.movedim(1, -1).flatten(0, 2)
        if valid_mask is not None:
            valid_mask = valid_mask.flatten()
    if valid_mask is not None:
        student_logits = student_logits[valid_mask]
        teacher_logits = teacher_logits[valid_mask]
    if student_logits.shape[0] == 0:  # nothing valid: zero, still attached
        return student_logits.sum() * 0
    if standardized:  # the code's --logit-stand
        student_logits = standardize(student_logits)
        teacher_logits = standardize(teacher_logits)
    log_q = F.log_softmax(student_logits / tau, dim=1)
    p = F.softmax(teacher_logits / tau, dim=1)
    kl = F.kl_div(log_q, p, reduction='batchmean')
    scale = 1 - F.cosine_similarity(p, log_q, dim=1)
    return 2 * num_stages * tau**2 * kl * scale.mean()


@MODELS.register_module()
class PCDLoss(DistillLoss):
    """``loss_weight * pcd_loss(student_logits, teacher_logits, stages, tau)``.

    Args:
        num_stages (int): the finest stage has this many groups.
        tau (float): temperature.
        loss_weight (float): factor on the loss.
        schedule (str): ``'joint'`` sums every stage of both directions
            (each stage twice) at every step. ``'progressive'`` runs one
            stage at a time: the fine-to-coarse stages over the first half
            of training, the coarse-to-fine ones over the second, in equal
            shares of the iterations. The training iteration and length come
            from mmengine's message hub, which the runner updates every
            iteration and restores on ``--resume``; so the stage resumes
            with the checkpoint.
        reference (bool): compute what the authors' public code computes
            (:func:`pcd_reference_loss`) instead of the paper's reading:
            every stage at every step, all classes, stage weights not
            detached. Their setting is ``tau=4``, ``num_stages=3``.
        warmup_epochs (int, optional): with ``reference``, the authors'
            warm-up: the loss times ``min(epoch / warmup_epochs, 1)``,
            epochs counted from 1 (mmengine's message hub counts from 0);
            20 in their code. For epoch-based training; an iteration-based
            run warms up with ``mmkd.DistillScheduleHook(warmup_iters=...)``.
    """

    def __init__(self,
                 num_stages: int = 3,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 schedule: str = 'joint',
                 reference: bool = False,
                 warmup_epochs: Optional[int] = None,
                 standardize: bool = False):
        owner = type(self).__name__
        check_flag(owner, 'reference', reference)
        check_flag(owner, 'standardize', standardize)
        check_int(owner, 'num_stages', num_stages, 1)
        if schedule not in SCHEDULES:
            raise ValueError(f'{owner}: schedule must be one of '
                             f'{SCHEDULES}, got {schedule!r}')
        check_numbers(owner, positive=dict(tau=tau))
        if reference and schedule != 'joint':
            raise SettingError(f'{owner}: reference=True runs every stage '
                               f'at every step; schedule={schedule!r} '
                               'does not apply')
        if warmup_epochs is not None:
            if not reference:
                raise SettingError(f'{owner}: warmup_epochs is the '
                                   'reference code\'s warm-up; without '
                                   'reference=True use '
                                   'mmkd.DistillScheduleHook')
            check_int(owner, 'warmup_epochs', warmup_epochs, 1)
        super().__init__(pcd_loss, loss_weight, tau=tau,
                         standardized=standardize)
        self.num_stages = num_stages
        self.schedule = schedule
        self.reference = reference
        self.warmup_epochs = warmup_epochs

    def current_stages(self) -> List[int]:
        """The stages (numbers of groups) that the next step distils."""
        sequence = stage_sequence(self.num_stages)
        if self.schedule == 'joint':
            return sequence
        iteration, max_iters = training_progress('PCDLoss',
                                                 "schedule='progressive'")
        index = min(len(sequence) - 1,
                    iteration * len(sequence) // max_iters)
        return [sequence[index]]

    def forward(self,
                student_logits: torch.Tensor,
                teacher_logits: torch.Tensor,
                valid_mask: Optional[torch.Tensor] = None,
                labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.reference:
            return self.loss_weight * self.warmup_factor() * \
                pcd_reference_loss(student_logits, teacher_logits,
                                   self.num_stages, **self.hyperparameters,
                                   valid_mask=valid_mask)
        return self.loss_weight * self.loss_fn(
            student_logits, teacher_logits, self.current_stages(),
            **self.hyperparameters, valid_mask=valid_mask)

    def warmup_factor(self) -> float:
        """``min(epoch / warmup_epochs, 1)``, epochs counted from 1; 1
        without a warm-up."""
        return epoch_warmup_factor('PCDLoss', self.warmup_epochs)

    def extra_repr(self) -> str:
        return (f'num_stages={self.num_stages}, schedule={self.schedule!r}, '
                f'reference={self.reference}, '
                f'warmup_epochs={self.warmup_epochs}, '
                + super().extra_repr())
