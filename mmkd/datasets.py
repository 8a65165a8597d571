"""DigitScapes: a small segmentation dataset made from real handwritten
digits, for runs that must not download anything.

The digits are the UCI handwritten digits that ship with scikit-learn
(``sklearn.datasets.load_digits``: 1797 scans of 8x8 pixels, 0-16 grey
levels, written by 43 people). Each image is a 64x128 canvas with 2 to 5
digits upscaled to 32-60 pixels, in dark random colours alpha-blended by
their ink over light textured paper. Each digit's ink is labelled with its
digit's class, the background is class 0, and the thin rim between ink and
paper is 255 (ignored). Files use the Cityscapes layout and names, so
MMSegmentation's pipelines read them as they read Cityscapes::

    leftImg8bit/{train,val}/digitown/digitown_000000_NNNNNN_leftImg8bit.png
    gtFine/{train,val}/digitown/digitown_000000_NNNNNN_gtFine_labelTrainIds.png

Train and val draw from disjoint digit scans: every fifth scan (by index)
is kept for val.

The classification counterpart, :func:`write_digit_folders`, writes the
same scans, each upsampled to 16x16, as one PNG per scan in the folder
layout MMPretrain's ``CustomDataset`` reads (a folder per class)::

    {train,val}/<digit>/<scan index>.png
"""
import os
import os.path as osp
from typing import Tuple

import cv2
import numpy as np
from mmseg.datasets import BaseSegDataset

from mmkd.registry import DATASETS

__all__ = ['DigitScapesDataset', 'write_digitscapes', 'write_digit_folders']

CLASSES = ('background', ) + tuple(str(digit) for digit in range(10))
PALETTE = [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25],
           [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240],
           [240, 50, 230], [210, 245, 60], [250, 190, 212]]
CITY = 'digitown'
SPLITS = {'train': 1000, 'val': 200}  # images per split
IMAGE_SIZE = (64, 128)  # height, width
DIGITS_PER_IMAGE = (2, 5)  # at least, at most
DIGIT_SIZE = (32, 60)  # height in pixels, at least, at most
INK, RIM = 0.25, 0.1  # ink above INK is labelled, RIM..INK is ignored
SCAN_SIZE = 16  # side of a classification image, upsampled from 8


@DATASETS.register_module()
class DigitScapesDataset(BaseSegDataset):
    """DigitScapes in the Cityscapes layout: 11 classes, background and the
    ten digits."""
    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self,
                 img_suffix='_leftImg8bit.png',
                 seg_map_suffix='_gtFine_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


def digit_scans() -> Tuple[dict, dict]:
    """``{'train': (images, labels), 'val': (images, labels)}``: the 8x8
    scans scaled to [0, 1] and their digits; every fifth scan is val."""
    splits = _scan_indices()
    return {split: (images, digits) for split, (_, images, digits)
            in splits.items()}


def _scan_indices() -> dict:
    """``{split: (scan indices, scans, digits)}``, see :func:`digit_scans`."""
    from sklearn.datasets import load_digits  # only the builders need it
    digits = load_digits()
    images = digits.images.astype(np.float32) / 16
    index = np.arange(len(images))
    is_val = index % 5 == 0
    return {
        'train': (index[~is_val], images[~is_val], digits.target[~is_val]),
        'val': (index[is_val], images[is_val], digits.target[is_val]),
    }


def _background(rng: np.random.Generator) -> np.ndarray:
    """Paper: a random colour with a few soft stripes and grain."""
    height, width = IMAGE_SIZE
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = np.zeros(IMAGE_SIZE, np.float32)
    for _ in range(3):
        angle, period = rng.uniform(0, np.pi), rng.uniform(8, 40)
        phase = rng.uniform(0, 2 * np.pi)
        texture += np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 *
                          np.pi / period + phase)
    base = rng.uniform(150, 230, size=3)
    image = base + 15 * texture[..., None] + rng.normal(0, 8, (*IMAGE_SIZE, 3))
    return image


def _scene(rng: np.random.Generator, scans: np.ndarray,
           digits: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """One RGB image and its label map."""
    height, width = IMAGE_SIZE
    image = _background(rng)
    label = np.zeros(IMAGE_SIZE, np.uint8)
    for _ in range(rng.integers(DIGITS_PER_IMAGE[0],
                                DIGITS_PER_IMAGE[1] + 1)):
        index = rng.integers(len(scans))
        size = int(rng.integers(DIGIT_SIZE[0], DIGIT_SIZE[1] + 1))
        digit_width = max(8, int(size * rng.uniform(0.7, 1.0)))
        ink = np.clip(cv2.resize(scans[index], (digit_width, size),
                                 interpolation=cv2.INTER_CUBIC), 0, 1)
        top = int(rng.integers(0, height - size + 1))
        left = int(rng.integers(0, width - digit_width + 1))
        window = (slice(top, top + size), slice(left, left + digit_width))
        colour = rng.uniform(0, 110, size=3)  # darker than the paper
        image[window] = (ink[..., None] * colour +
                         (1 - ink[..., None]) * image[window])
        patch = label[window]
        patch[ink > RIM] = 255
        patch[ink > INK] = digits[index] + 1
    return np.clip(image, 0, 255).astype(np.uint8), label


def write_digitscapes(root: str, seed: int = 0) -> str:
    """Write DigitScapes under ``root`` (see the module docstring). Same
    seed, same bytes. Returns ``root``."""
    scans = digit_scans()
    for split_index, (split, count) in enumerate(SPLITS.items()):
        rng = np.random.default_rng([seed, split_index])
        image_dir = osp.join(root, 'leftImg8bit', split, CITY)
        label_dir = osp.join(root, 'gtFine', split, CITY)
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(label_dir, exist_ok=True)
        for frame in range(count):
            image, label = _scene(rng, *scans[split])
            stem = f'{CITY}_000000_{frame:06d}'
            cv2.imwrite(osp.join(image_dir, f'{stem}_leftImg8bit.png'),
                        cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            cv2.imwrite(
                osp.join(label_dir, f'{stem}_gtFine_labelTrainIds.png'),
                label)
    return root


def write_digit_folders(root: str) -> str:
    """Write the digit scans for classification under ``root`` (see the
    module docstring): white ink on black, bicubic upsampling to
    ``SCAN_SIZE``, the same train/val split as DigitScapes. Deterministic;
    returns ``root``."""
    for split, (indices, scans, digits) in _scan_indices().items():
        for digit in range(10):
            os.makedirs(osp.join(root, split, str(digit)), exist_ok=True)
        for index, scan, digit in zip(indices, scans, digits):
            image = cv2.resize(scan, (SCAN_SIZE, SCAN_SIZE),
                               interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(osp.join(root, split, str(digit), f'{index:04d}.png'),
                        np.clip(image * 255, 0, 255).round().astype(np.uint8))
    return root
