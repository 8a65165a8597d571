"""Cross-image relational knowledge distillation (Yang et al., CVPR 2022):
pixel-to-pixel relations across the images of a batch, and pixel-to-region
relations against a memory of the teacher's class regions, as the authors'
code computes them (winycg/CIRKD, ``losses/cirkd_mini_batch.py``,
``CriterionMiniBatchCrossImagePair``; ``losses/cirkd_memory.py``,
``StudentSegContrast``, its region term)."""
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from mmkd.models.settings import check_int, check_numbers
from mmkd.registry import MODELS
from .base import DistillLoss, feature_loss, labels_at
from .skd import check_positions

# the reference pools maps of at least 256x256 positions to 4x4 patches
POOL_FROM, POOL_SIZE = 256, 4


def similarity_kd(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                  tau: float) -> torch.Tensor:
    """``tau² · KL(softmax(t / tau) ‖ softmax(s / tau))`` over the rows,
    summed and divided by the number of rows (``batchmean``)."""
    return F.kl_div(F.log_softmax(student_logits / tau, dim=1),
                    F.softmax(teacher_logits / tau, dim=1),
                    reduction='batchmean') * tau**2


def embeddings(features: torch.Tensor) -> torch.Tensor:
    """``[N, C, H, W] -> [N, H*W, C]``, L2-normalised over the channels;
    maps of at least 256x256 positions average-pooled to 4x4 patches
    first, as the reference."""
    if features.shape[2] >= POOL_FROM and features.shape[3] >= POOL_FROM:
        features = F.avg_pool2d(features, POOL_SIZE, POOL_SIZE,
                                ceil_mode=True)
    return F.normalize(features, p=2, dim=1).flatten(2).transpose(1, 2)


@feature_loss
def cirkd_pixel_loss(student_features: torch.Tensor,
                     teacher_features: torch.Tensor,
                     temperature: float = 0.1,
                     student_others: Optional[torch.Tensor] = None,
                     teacher_others: Optional[torch.Tensor] = None,
                     max_positions: int = 8192) -> torch.Tensor:
    """Pixel-to-pixel: for every pair of images ``(i, j)``, the similarity
    of each position of ``i`` to each of ``j`` (``E_i E_jᵀ``, ``E`` the
    :func:`embeddings`) is a distribution over ``j``'s positions (softmax at
    ``temperature``); ``KL(teacher ‖ student)`` per row, ``batchmean``, then
    the mean over the pairs. ``*_others``: the features of images on other
    ranks, ``[M, C, H, W]``, gathered without gradient, as the ``j`` of
    further pairs. Returns a scalar."""
    student, teacher = embeddings(student_features), embeddings(
        teacher_features)
    check_positions('CIRKDLoss', student.shape[1], max_positions, 1)
    partners_s: List[torch.Tensor] = list(student)
    partners_t: List[torch.Tensor] = list(teacher)
    if student_others is not None:
        partners_s += list(embeddings(student_others.to(student.dtype)))
        partners_t += list(embeddings(teacher_others.to(teacher.dtype)))
    total = student.new_zeros(())
    for s_i, t_i in zip(student, teacher):
        for s_j, t_j in zip(partners_s, partners_t):
            total = total + F.kl_div(
                F.log_softmax(s_i @ s_j.T / temperature, dim=1),
                F.softmax(t_i @ t_j.T / temperature, dim=1),
                reduction='batchmean')
    return total / (student.shape[0] * len(partners_s))


def cirkd_region_loss(student_features: torch.Tensor,
                      teacher_features: torch.Tensor,
                      labels: torch.Tensor,
                      contrast: torch.Tensor,
                      contrast_temperature: float = 0.1,
                      kd_temperature: float = 1.0,
                      ignore_index: int = 255) -> torch.Tensor:
    """Pixel-to-region: each labelled position's similarity to the region
    embeddings ``contrast`` (``[R, C]``, unit rows) is a distribution over
    the regions (logits divided by ``contrast_temperature``);
    :func:`similarity_kd` at ``kd_temperature`` between the student's
    (``[N, C, H, W]``, through its projection head) and the teacher's
    (detached). ``labels``: ``[N, H, W]`` at the features' size. Returns a
    scalar."""
    student = F.normalize(student_features, p=2, dim=1)
    teacher = F.normalize(teacher_features, p=2, dim=1).detach()
    keep = labels.flatten() != ignore_index
    if not keep.any():  # nothing labelled: zero, still attached
        return (student**2).mean() * 0
    student = student.movedim(1, -1).flatten(0, 2)[keep]
    teacher = teacher.movedim(1, -1).flatten(0, 2)[keep]
    return similarity_kd(student @ contrast.T / contrast_temperature,
                         teacher @ contrast.T / contrast_temperature,
                         kd_temperature)


def region_means(features: torch.Tensor, labels: torch.Tensor,
                 ignore_index: int):
    """The unit mean embedding of each class region of each image, in the
    reference's order (image by image, classes ascending): a list of
    ``(class, [C] tensor)``. ``features`` ``[N, C, H, W]``, ``labels``
    ``[N, H, W]``."""
    regions = []
    for image, image_labels in zip(features.flatten(2), labels.flatten(1)):
        for label in torch.unique(image_labels).tolist():
            if label == ignore_index:
                continue
            mean = image[:, image_labels == label].mean(1)
            regions.append((label, F.normalize(mean, p=2, dim=0)))
    return regions


def gather_from_all_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` of every rank, concatenated along dim 0 (this rank's in
    its place), without gradient; the tensor itself outside a distributed
    run."""
    if not (torch.distributed.is_available() and
            torch.distributed.is_initialized()) or \
            torch.distributed.get_world_size() == 1:
        return tensor
    gathered = [torch.empty_like(tensor)
                for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(gathered, tensor.detach().contiguous())
    return torch.cat(gathered)


@MODELS.register_module()
class CIRKDLoss(DistillLoss):
    """``loss_weight * (pixel_weight * pixel-to-pixel + region_weight *
    pixel-to-region)`` on a pair of feature maps.

    - Pixel-to-pixel (:func:`cirkd_pixel_loss`): every pair of images of
      the batch; with ``distributed=True`` also every image of the other
      ranks, gathered without gradient.
    - Pixel-to-region (:func:`cirkd_region_loss`): the student's features
      go through a projection head (1x1 convolution to the teacher's
      channels, batch norm, ReLU, 1x1 convolution), trained with the
      student; each step first adds the teacher's class regions of the
      batch (of all ranks with ``distributed``) to a per-class memory of
      ``region_memory_size`` region embeddings (first in, first out), then
      contrasts each labelled position with ``region_contrast_size //
      num_classes + 1`` regions per class drawn at random from it.

    The memory and its pointers are buffers, the projection head a module:
    both are saved in training checkpoints (a resumed run continues with
    the same memory; ``mmkd.ResumeRandomStateHook`` restores the random
    draws) and never exported. Memory: the pixel-to-pixel term keeps
    several ``H*W x H*W`` similarity maps per pair of images for the
    backward pass; at Cityscapes' 512x1024 crops and 1/8 features (8192
    positions) each is 256 MiB in float32, for the four pairs of two images
    per GPU (more with ``distributed``) about 2.9 GiB in all. Maps of more
    than ``max_positions`` positions are refused with an error naming the
    memory. The authors' setting for DeepLabV3-R101 into R18, on the decode
    head's features before its classifier: pixel weight 1 (temperature
    0.1), region weight 0.1, contrast temperature 0.1, KD
    temperature 1, memory 2000, 1024 regions per step.
    """
    same_channels = False
    takes_valid_mask = False
    needs_labels = True

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 num_classes: int,
                 ignore_index: int = 255,
                 pixel_weight: float = 1.0,
                 region_weight: float = 0.1,
                 pixel_temperature: float = 0.1,
                 contrast_temperature: float = 0.1,
                 kd_temperature: float = 1.0,
                 region_memory_size: int = 2000,
                 region_contrast_size: int = 1024,
                 distributed: bool = False,
                 max_positions: int = 8192,
                 loss_weight: float = 1.0):
        owner = type(self).__name__
        for name, value, minimum in (
                ('student_channels', student_channels, 1),
                ('teacher_channels', teacher_channels, 1),
                ('num_classes', num_classes, 1),
                ('region_memory_size', region_memory_size, 1),
                ('region_contrast_size', region_contrast_size, 1),
                ('max_positions', max_positions, 1)):
            check_int(owner, name, value, minimum)
        check_numbers(owner,
                      positive=dict(pixel_temperature=pixel_temperature,
                                    contrast_temperature=contrast_temperature,
                                    kd_temperature=kd_temperature),
                      nonnegative=dict(pixel_weight=pixel_weight,
                                       region_weight=region_weight))
        super().__init__(cirkd_pixel_loss, loss_weight)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.pixel_weight, self.region_weight = pixel_weight, region_weight
        self.pixel_temperature = pixel_temperature
        self.contrast_temperature = contrast_temperature
        self.kd_temperature = kd_temperature
        self.region_memory_size = region_memory_size
        self.regions_per_class = min(
            region_contrast_size // num_classes + 1, region_memory_size)
        self.distributed = distributed
        self.max_positions = max_positions
        self.project = nn.Sequential(
            nn.Conv2d(student_channels, teacher_channels, 1, bias=False),
            nn.BatchNorm2d(teacher_channels), nn.ReLU(inplace=True),
            nn.Conv2d(teacher_channels, teacher_channels, 1, bias=False))
        self.register_buffer('region_memory', F.normalize(
            torch.randn(num_classes, region_memory_size, teacher_channels),
            p=2, dim=2))
        self.register_buffer('region_pointer',
                             torch.zeros(num_classes, dtype=torch.long))

    @torch.no_grad()
    def remember(self, teacher_features: torch.Tensor,
                 labels: torch.Tensor) -> None:
        """Add the unit mean embedding of each class region of the batch
        (of every rank with ``distributed``) to the memory, first in, first
        out, as the reference's ``_dequeue_and_enqueue`` does."""
        features = F.normalize(teacher_features, p=2, dim=1)
        if self.distributed:
            features = gather_from_all_ranks(features)
            labels = gather_from_all_ranks(labels)
        for label, mean in region_means(features, labels,
                                        self.ignore_index):
            if not 0 <= label < self.num_classes:
                continue
            pointer = int(self.region_pointer[label])
            self.region_memory[label, pointer] = mean.to(
                self.region_memory.dtype)
            self.region_pointer[label] = (pointer + 1) % \
                self.region_memory_size

    def contrast(self) -> torch.Tensor:
        """``[K * m, C]``: ``m`` regions of each class's memory, the same
        random slots for every class, class by class."""
        index = torch.randperm(self.region_memory_size,
                               device=self.region_memory.device)[
                                   :self.regions_per_class]
        return self.region_memory[:, index].flatten(0, 1)

    @staticmethod
    def other_ranks(student_features: torch.Tensor,
                    teacher_features: torch.Tensor):
        """The features of the other ranks' images, without gradient; None,
        None outside a distributed run of several ranks."""
        if not (torch.distributed.is_available() and
                torch.distributed.is_initialized()) or \
                torch.distributed.get_world_size() == 1:
            return None, None
        n, rank = student_features.shape[0], torch.distributed.get_rank()
        keep = [i for i in range(n * torch.distributed.get_world_size())
                if not rank * n <= i < (rank + 1) * n]
        return (gather_from_all_ranks(student_features)[keep],
                gather_from_all_ranks(teacher_features)[keep])

    def forward(self, student_features: torch.Tensor,
                teacher_features: torch.Tensor, valid_mask=None,
                labels=None) -> torch.Tensor:
        if labels is None:
            raise ValueError('CIRKDLoss needs the ground-truth labels, which '
                             'the distiller passes')
        labels = labels_at(labels, student_features.shape[2:])
        others_s = others_t = None
        if self.distributed:
            others_s, others_t = self.other_ranks(student_features,
                                                  teacher_features)
        pixel = cirkd_pixel_loss(student_features, teacher_features,
                                 self.pixel_temperature, others_s, others_t,
                                 self.max_positions)
        self.remember(teacher_features.detach(), labels)
        region = cirkd_region_loss(
            self.project(student_features), teacher_features, labels,
            self.contrast(), self.contrast_temperature, self.kd_temperature,
            self.ignore_index)
        return self.loss_weight * (self.pixel_weight * pixel +
                                   self.region_weight * region)
