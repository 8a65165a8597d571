"""The official Cityscapes evaluation (``cityscapesscripts``) as an mmengine
metric, next to MMSegmentation's ``IoUMetric``; ``IoUMetric`` away from
label boundaries; and the mIoU that a decode head's output stride leaves
reachable on a label set."""
import os.path as osp
from typing import Dict, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmseg.evaluation import CityscapesMetric, IoUMetric

from mmkd.registry import METRICS

try:
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as \
        cityscapes_eval
except ImportError:  # mmseg's CityscapesMetric says how to install it
    cityscapes_eval = None


@METRICS.register_module()
class CityscapesOfficialMetric(CityscapesMetric):
    """Class mIoU and category mIoU (in %) from ``cityscapesscripts``'
    ``evaluateImgLists`` on the predictions, converted to Cityscapes label
    ids, against the ``*_gtFine_labelIds.png`` maps of the official
    download; logged as ``cityscapes_official/mIoU`` and
    ``cityscapes_official/category_mIoU``.

    MMSegmentation's ``CityscapesMetric`` writes the predictions the same
    way but reports category scores only, and asks for the instance maps;
    this one reports the class mIoU, comparable with ``IoUMetric``'s, and
    needs only the label ids.

    Args:
        output_dir (str): where the prediction PNGs go.
        keep_results (bool): keep them after evaluation.
    """
    default_prefix = 'cityscapes_official'

    def __init__(self, output_dir: str, keep_results: bool = False,
                 **kwargs) -> None:
        super().__init__(output_dir, keep_results=keep_results, **kwargs)
        # CityscapesMetric sets the prefix to the argument, even when None
        self.prefix = kwargs.get('prefix') or self.default_prefix

    def compute_metrics(self, results: list) -> Dict[str, float]:
        predictions, ground_truths = zip(*results)
        missing = [path for path in ground_truths if not osp.exists(path)]
        if missing:
            raise FileNotFoundError(
                f'the official Cityscapes evaluation reads '
                f'*_gtFine_labelIds.png maps (from gtFine_trainvaltest.zip); '
                f'{len(missing)} are missing, e.g. {missing[0]}')
        args = cityscapes_eval.args
        args.evalInstLevelScore = False
        args.evalPixelAccuracy = False
        args.JSONOutput = False
        args.predictionPath = osp.abspath(self.output_dir)
        scores = cityscapes_eval.evaluateImgLists(
            list(predictions), list(ground_truths), args)
        return {
            'mIoU': round(100 * scores['averageScoreClasses'], 2),
            'category_mIoU': round(100 * scores['averageScoreCategories'], 2),
        }


def near_label_change(labels: torch.Tensor, band: int) -> torch.Tensor:
    """``[H, W]`` bool: the pixels of ``labels`` ``[H, W]`` with a different
    label (``ignore_index`` included) within ``band`` pixels, i.e. in
    their ``(2 * band + 1)`` square window."""
    window = dict(kernel_size=2 * band + 1, stride=1, padding=band)
    labels = labels[None, None].float()
    # max_pool2d pads with -inf: the image's border adds no change
    return (F.max_pool2d(labels, **window) !=
            -F.max_pool2d(-labels, **window))[0, 0]


@METRICS.register_module()
class InteriorIoUMetric(IoUMetric):
    """``IoUMetric`` on the pixels at least ``band + 1`` pixels away from
    any change of ground-truth label (:func:`near_label_change`; changes
    to and from ``ignore_index`` count): how well a model recognises
    regions, with their outlines left out. Set it as a test evaluator,
    e.g. ``--cfg-options test_evaluator.type=mmkd.InteriorIoUMetric
    test_evaluator.band=1``; logs ``interior/mIoU``.

    Args:
        band (int): pixels on each side of a label change left out, >= 1.
        Others as ``IoUMetric``.
    """
    default_prefix = 'interior'

    def __init__(self, band: int = 1, **kwargs) -> None:
        if not isinstance(band, int) or band < 1:
            raise ValueError(f'band must be an int >= 1, got {band!r}')
        if kwargs.get('format_only'):
            raise ValueError('InteriorIoUMetric scores predictions against '
                             'the ground truth; format_only has none')
        super().__init__(**kwargs)
        self.band = band

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        interior = []
        for sample in data_samples:
            labels = sample['gt_sem_seg']['data'].squeeze()
            labels = labels.masked_fill(
                near_label_change(labels, self.band), self.ignore_index)
            interior.append(dict(sample, gt_sem_seg=dict(
                sample['gt_sem_seg'], data=labels[None])))
        super().process(data_batch, interior)


def output_stride_ceiling(label_maps: Iterable[torch.Tensor], stride: int,
                          num_classes: int, ignore_index: int = 255,
                          floor: float = 1e-3) -> float:
    """mIoU (%) of the ground truth seen through a decode head's output
    stride: what a segmentor whose logits are ``1/stride`` of its input
    scores if its logits hold each cell's class shares exactly.

    Each label map ``[H, W]`` (class ids, ``ignore_index`` where
    unlabelled; ``H`` and ``W`` multiples of ``stride``) becomes logits
    ``[C, H/stride, W/stride]``: the log of each class's share of the
    labelled pixels of each ``stride x stride`` cell, floored at ``floor``
    (a class absent from a cell must still lose to those present, and
    ``log 0`` would leave nothing to interpolate). They are resized back to
    ``H x W`` bilinearly as MMSegmentation resizes a decode head's logits
    (``align_corners=False``), the prediction is their argmax, and the
    score is ``IoUMetric``'s mIoU over all maps (areas summed over maps,
    classes absent from both prediction and labels left out).

    A reference, not a bound: a trained model can place its logits better
    than the shares do. Stripes of whole cells score 100 at any stride;
    detail finer than the cells is lost, and so are pixels near a corner
    where a class's cell meets cells of others.
    """
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f'stride must be an int >= 1, got {stride!r}')
    areas = torch.zeros(4, num_classes, dtype=torch.float64)
    for labels in label_maps:
        if labels.dim() != 2:
            raise ValueError(
                f'a label map must be [H, W], got {tuple(labels.shape)}')
        if labels.shape[0] % stride or labels.shape[1] % stride:
            raise ValueError(f'a label map of {tuple(labels.shape)} pixels '
                             f'does not split into cells of {stride}')
        labelled = labels != ignore_index
        classes = torch.where(labelled, labels, 0).long()
        if classes.min() < 0 or classes.max() >= num_classes:
            raise ValueError(
                f'a label map holds class ids outside 0..{num_classes - 1} '
                f'(other than ignore_index {ignore_index})')
        one_hot = F.one_hot(classes, num_classes).permute(2, 0, 1).float()
        one_hot = one_hot * labelled
        # a cell without labelled pixels has no shares: all at the floor
        shares = F.avg_pool2d(one_hot[None], stride) / F.avg_pool2d(
            labelled[None, None].float(), stride).clamp(min=1e-12)
        logits = F.interpolate(
            shares.clamp(min=floor).log(), size=labels.shape,
            mode='bilinear', align_corners=False)
        areas += torch.stack(IoUMetric.intersect_and_union(
            logits[0].argmax(0), labels, num_classes, ignore_index))
    if not areas[3].any():
        raise ValueError('no labelled pixel in the label maps')
    iou = IoUMetric.total_area_to_metrics(*areas, ['mIoU'])['IoU']
    return float(np.nanmean(iou) * 100)
