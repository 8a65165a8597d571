"""Pictures of what a student learned from its teacher: for one image, the
input, its ground truth, the teacher's and the student's predictions in
the dataset's palette, and where the student departs from the teacher
(the per-pixel KL(teacher || student)), each model's mIoU on that image in
its title (``tools/visualize.py``, the demo)."""
import os.path as osp
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from mmkd.checkpoint import load_state_dict_verified
from mmkd.datasets.layout import dataset_class, dataset_setting
from mmkd.export import is_distiller_config, student_config, student_weights
from mmkd.models.builder import build_model, config_path, model_config
from mmkd.models.teacher import build_teacher
from mmkd.transforms import plain_loaders

__all__ = ['VisualizationError', 'load_pair', 'label_path', 'image_miou',
           'pixel_kl', 'render']

IGNORE = 255


class VisualizationError(ValueError):
    """The inputs of a picture do not fit together."""


def load_pair(config: str, checkpoint: str,
              teacher_config: Optional[str] = None,
              teacher_checkpoint: Optional[str] = None,
              trust: bool = False) -> Tuple[Config, nn.Module, nn.Module]:
    """The student (weights from ``checkpoint``: a distiller checkpoint or
    a plain one) and the teacher of a distiller ``config``, or of a student
    ``config`` given ``teacher_config`` and ``teacher_checkpoint``; with
    the plain config that their inference runs on, in eval mode."""
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(config_path(config))
    scope = cfg.get('default_scope', 'mmseg')
    init_default_scope(scope)  # the test pipeline's transforms resolve there
    if is_distiller_config(cfg.model, scope):
        teacher = dict(cfg.model.teacher)
        cfg = student_config(cfg)
    elif teacher_config is None or teacher_checkpoint is None:
        raise VisualizationError(
            f'{config} is not a distiller config: name the teacher with '
            '--teacher-config and --teacher-checkpoint')
    else:
        teacher = dict(config=teacher_config, checkpoint=teacher_checkpoint)
    if teacher_config is not None:
        teacher['config'] = teacher_config
    if teacher_checkpoint is not None:
        teacher['checkpoint'] = teacher_checkpoint
    # mmseg.apis.inference_model drops MMSegmentation's LoadAnnotations
    # from the test pipeline (an image has no labels there), not mmkd's
    # checked loader
    plain_loaders(cfg)
    student = build_model(model_config(cfg), scope)
    load_state_dict_verified(student, student_weights(checkpoint, trust),
                             checkpoint, what='student')
    teacher = build_teacher(teacher, scope)
    for model in (student, teacher):
        model.cfg = cfg  # mmseg.apis.inference_model reads the pipeline
        model.eval()
    return cfg, student, teacher


def label_path(cfg: Config, image: str) -> Optional[str]:
    """The ground-truth label map of ``image`` by the test dataset's
    layout (``data_prefix`` and suffixes, as in Cityscapes), or None when
    there is none."""
    dataset = cfg.test_dataloader.dataset
    scope = cfg.get('default_scope', 'mmseg')

    def setting(name):  # the config's, else the dataset class's default
        return dataset_setting(dataset, name, scope)

    img_suffix, seg_suffix = setting('img_suffix'), setting('seg_map_suffix')
    prefixes = dataset.get('data_prefix', {})
    image_dir = osp.normpath(prefixes.get('img_path', ''))
    label_dir = osp.normpath(prefixes.get('seg_map_path', ''))
    if not (img_suffix and seg_suffix and image.endswith(img_suffix)):
        return None
    parts = osp.normpath(image).split(osp.sep)
    # the image folder's last part (leftImg8bit) becomes the label one's
    image_top, label_top = image_dir.split(osp.sep)[0], \
        label_dir.split(osp.sep)[0]
    if image_top not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index(image_top)
    parts[index] = label_top
    path = osp.sep.join(parts)[:-len(img_suffix)] + seg_suffix
    return path if osp.isfile(path) else None


def image_miou(prediction: np.ndarray, label: np.ndarray,
               num_classes: int) -> float:
    """mIoU (%) of one image: the mean IoU over the classes present in the
    label or the prediction, pixels labelled 255 left out."""
    valid = label != IGNORE
    ious = []
    for c in range(num_classes):
        predicted, labelled = (prediction == c) & valid, (label == c) & valid
        union = (predicted | labelled).sum()
        if union:
            ious.append((predicted & labelled).sum() / union)
    return 100 * float(np.mean(ious)) if ious else float('nan')


def pixel_kl(teacher_logits: torch.Tensor,
             student_logits: torch.Tensor) -> torch.Tensor:
    """``[H, W]``: KL(p_t || p_s) over the classes at each pixel, from
    logits ``[C, H, W]`` (softmax at temperature 1)."""
    log_p = torch.log_softmax(teacher_logits.float(), dim=0)
    log_q = torch.log_softmax(student_logits.float(), dim=0)
    return (log_p.exp() * (log_p - log_q)).sum(dim=0)


def colour(prediction: np.ndarray, palette) -> np.ndarray:
    palette = np.asarray(palette, dtype=np.uint8)
    picture = np.zeros((*prediction.shape, 3), dtype=np.uint8)
    known = prediction < len(palette)
    picture[known] = palette[prediction[known]]
    return picture


def render(cfg: Config, student: nn.Module, teacher: nn.Module, image: str,
           out: str) -> Dict[str, float]:
    """Write the picture of ``image`` to ``out``; returns each model's
    mIoU on it (empty without a ground truth)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from mmcv import imread
    from mmseg.apis import inference_model

    if not osp.isfile(image):
        raise VisualizationError(f'image {image} does not exist')
    results = {name: inference_model(model, image)
               for name, model in (('teacher', teacher),
                                   ('student', student))}
    logits = {name: r.seg_logits.data for name, r in results.items()}
    if logits['teacher'].shape != logits['student'].shape:
        raise VisualizationError(
            f'teacher logits {tuple(logits["teacher"].shape)} and student '
            f'logits {tuple(logits["student"].shape)} differ for {image}')
    predictions = {name: r.pred_sem_seg.data[0].numpy()
                   for name, r in results.items()}
    meta = student.dataset_meta if getattr(student, 'dataset_meta', None) \
        else dataset_class(cfg.test_dataloader.dataset,
                          cfg.get('default_scope', 'mmseg')).METAINFO
    num_classes = len(meta['classes'])
    label_file = label_path(cfg, image)
    label = imread(label_file, flag='unchanged') if label_file else None
    scores = {name: image_miou(p, label, num_classes)
              for name, p in predictions.items()} if label is not None \
        else {}

    panels = [('input', imread(image, channel_order='rgb'))]
    if label is not None:
        panels.append(('ground truth', colour(label, meta['palette'])))
    for name in ('teacher', 'student'):
        title = name + (f': {scores[name]:.1f} mIoU' if scores else '')
        panels.append((title, colour(predictions[name], meta['palette'])))
    kl = pixel_kl(logits['teacher'], logits['student']).numpy()
    figure, axes = plt.subplots(1, len(panels) + 1,
                                figsize=(3.6 * (len(panels) + 1), 3.2))
    for axis, (title, picture) in zip(axes, panels):
        axis.imshow(picture)
        axis.set_title(title, fontsize=9)
        axis.axis('off')
    heat = axes[-1].imshow(kl, cmap='magma')
    axes[-1].set_title(f'KL(teacher || student), mean {kl.mean():.3f}',
                       fontsize=9)
    axes[-1].axis('off')
    figure.colorbar(heat, ax=axes[-1], fraction=0.046)
    figure.suptitle(osp.basename(image), fontsize=9)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return scores
