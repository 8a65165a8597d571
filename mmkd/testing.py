"""Small stand-ins for Cityscapes and model-zoo checkpoints, for tests and
the demo on machines that cannot download the real ones.

The dataset has the real Cityscapes directory layout and file names, so
MMSegmentation's ``CityscapesDataset`` reads it unchanged; its content is
generated: each class paints shapes in its own colour (the Cityscapes
palette) over noise, so a network can learn it.
"""
import os
import os.path as osp
from typing import Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import ConfigDict

from mmkd.models.distillers.base import build_in_scope, load_model_config

__all__ = ['write_cityscapes_layout', 'write_model_checkpoint']

CITYSCAPES_PALETTE = np.array(
    [[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156],
     [190, 153, 153], [153, 153, 153], [250, 170, 30], [220, 220, 0],
     [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
     [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100],
     [0, 0, 230], [119, 11, 32]], dtype=np.uint8)
SPLIT_CITIES = {'train': ('aachen', 'bochum'), 'val': ('frankfurt', )}


def _scene(rng: np.random.Generator,
           size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """An RGB image and its trainId label map: a road-like base class and
    a few rectangles and ellipses of other classes, 255 on a thin border."""
    height, width = size
    label = np.zeros(size, dtype=np.uint8)
    for _ in range(rng.integers(3, 8)):
        cls = int(rng.integers(1, len(CITYSCAPES_PALETTE)))
        y, x = rng.integers(0, height), rng.integers(0, width)
        h = int(rng.integers(height // 8, height // 2))
        w = int(rng.integers(width // 8, width // 2))
        if rng.random() < 0.5:
            label[y:y + h, x:x + w] = cls
        else:
            cv2.ellipse(label, (int(x), int(y)), (w // 2, h // 2), 0, 0, 360,
                        cls, -1)
    label[:2], label[-2:], label[:, :2], label[:, -2:] = 255, 255, 255, 255
    colour = CITYSCAPES_PALETTE[np.minimum(label, len(CITYSCAPES_PALETTE) - 1)]
    noise = rng.normal(0, 20, size=colour.shape)
    image = np.clip(colour + noise, 0, 255).astype(np.uint8)
    return image, label


def write_cityscapes_layout(root: str,
                            images_per_city: int = 2,
                            size: Tuple[int, int] = (128, 256),
                            seed: int = 0) -> str:
    """Write a small dataset in the Cityscapes layout under ``root``::

        leftImg8bit/{train,val}/<city>/<city>_000000_0000NN_leftImg8bit.png
        gtFine/{train,val}/<city>/<city>_000000_0000NN_gtFine_labelTrainIds.png

    Two training cities and one validation city, ``images_per_city`` images
    each, of ``size`` (height, width). Same seed, same files.
    """
    rng = np.random.default_rng(seed)
    for split, cities in SPLIT_CITIES.items():
        for city in cities:
            image_dir = osp.join(root, 'leftImg8bit', split, city)
            label_dir = osp.join(root, 'gtFine', split, city)
            os.makedirs(image_dir, exist_ok=True)
            os.makedirs(label_dir, exist_ok=True)
            for frame in range(images_per_city):
                stem = f'{city}_000000_{frame:06d}'
                image, label = _scene(rng, size)
                cv2.imwrite(
                    osp.join(image_dir, f'{stem}_leftImg8bit.png'),
                    cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                cv2.imwrite(
                    osp.join(label_dir, f'{stem}_gtFine_labelTrainIds.png'),
                    label)
    return root


def write_model_checkpoint(config: Union[str, ConfigDict],
                           path: str,
                           scope: str = 'mmseg',
                           seed: int = 0) -> torch.nn.Module:
    """Build the model of ``config`` (a config path, ``mmseg::`` path or
    model dict) with initial weights and save it as a checkpoint, in the
    layout of the OpenMMLab model zoo (``state_dict`` and ``meta``).
    Returns the model."""
    torch.manual_seed(seed)
    model = build_in_scope(load_model_config(config), scope)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    torch.save({'state_dict': model.state_dict(), 'meta': {'seed': seed}},
               path)
    return model
