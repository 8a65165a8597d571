"""DigitScapes: a small segmentation dataset made from real handwritten
digits, for runs that must not download anything.

The digits are the UCI handwritten digits that ship with scikit-learn
(``sklearn.datasets.load_digits``: 1797 scans of 8x8 pixels, 0-16 grey
levels, written by 43 people). Each image is a 64x128 canvas laid out as a
2x5 grid of cells; 6 to 9 different digits, each in a cell of its own with
some jitter, are upscaled to 24-34 pixels and drawn in dark random colours,
alpha-blended by their ink over light textured paper. A canvas thus holds
7 to 10 of the 11 classes, as a Cityscapes image holds most of its 19.
Each digit's ink is labelled with its digit's class, the background is
class 0, and the thin rim between ink and paper is 255 (ignored). Files use
the Cityscapes layout and names, so MMSegmentation's pipelines read them as
they read Cityscapes::

    leftImg8bit/{train,val,test}/digitown/digitown_000000_NNNNNN_leftImg8bit.png
    gtFine/{train,val,test}/digitown/digitown_000000_NNNNNN_gtFine_labelTrainIds.png

The three splits draw from disjoint digit scans (:func:`scan_split`):
settings are chosen on val, results are reported on test.

The classification counterpart, :func:`write_digit_patches`, draws the
same scans as DigitScapes draws digits, each alone on a small patch of
paper, in the folder layout MMPretrain's ``CustomDataset`` reads (a folder
per class)::

    {train,val,test}/<digit>/<scan index>_<copy>.png

Its train split also pretrains the DigitScapes backbones.
"""
import os
import os.path as osp
from typing import Tuple

import cv2
import numpy as np
from mmseg.datasets import BaseSegDataset

from mmkd.registry import DATASETS

__all__ = ['DigitScapesDataset', 'write_digitscapes', 'write_digit_patches',
           'DIGITSCAPES_DATA', 'DIGIT_PATCHES_DATA', 'CLASSES', 'SPLITS']

CLASSES = ('background', ) + tuple(str(digit) for digit in range(10))
PALETTE = [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25],
           [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240],
           [240, 50, 230], [210, 245, 60], [250, 190, 212]]
CITY = 'digitown'
SPLITS = {'train': 1000, 'val': 250, 'test': 250}  # images per split
IMAGE_SIZE = (64, 128)  # height, width
GRID = (2, 5)  # rows, columns: a digit per cell, so digits rarely overlap
DIGITS_PER_IMAGE = (6, 9)  # at least, at most; all different
DIGIT_SIZE = (24, 34)  # height in pixels, at least, at most
JITTER = 4  # pixels a digit's centre may move from its cell's centre
INK, RIM = 0.25, 0.1  # ink above INK is labelled, RIM..INK is ignored
PATCH_SIZE = 36  # side of a patch, room for the largest digit
PATCH_COPIES = 4  # patches per scan, each drawn anew


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


def scan_split(index: np.ndarray) -> np.ndarray:
    """The split of each scan index: of every ten consecutive scans, the
    first is val, the sixth test, the others train (80/10/10)."""
    return np.where(index % 10 == 0, 'val',
                    np.where(index % 10 == 5, 'test', 'train'))


def digit_scans() -> dict:
    """``{split: (scan indices, scans, digits)}`` for train, val and test:
    the 8x8 scans scaled to [0, 1] and their digits (:func:`scan_split`)."""
    from sklearn.datasets import load_digits  # only the builders need it
    digits = load_digits()
    images = digits.images.astype(np.float32) / 16
    index = np.arange(len(images))
    split = scan_split(index)
    return {name: (index[split == name], images[split == name],
                   digits.target[split == name])
            for name in SPLITS}


def _background(rng: np.random.Generator, size: Tuple[int, int]) -> np.ndarray:
    """Paper of ``size`` (height, width): a random colour with a few soft
    stripes and grain."""
    height, width = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = np.zeros(size, np.float32)
    for _ in range(3):
        angle, period = rng.uniform(0, np.pi), rng.uniform(8, 40)
        phase = rng.uniform(0, 2 * np.pi)
        texture += np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 *
                          np.pi / period + phase)
    base = rng.uniform(150, 230, size=3)
    return base + 15 * texture[..., None] + rng.normal(0, 8, (*size, 3))


def _ink(rng: np.random.Generator, scan: np.ndarray) -> np.ndarray:
    """The scan upscaled to a random height in ``DIGIT_SIZE`` and a width
    of 0.7 to 1 times that: ink coverage in [0, 1]."""
    size = int(rng.integers(DIGIT_SIZE[0], DIGIT_SIZE[1] + 1))
    width = max(8, int(size * rng.uniform(0.7, 1.0)))
    ink = np.clip(cv2.resize(scan, (width, size),
                             interpolation=cv2.INTER_CUBIC), 0, 1)
    return cv2.dilate(ink, np.ones((3, 3), np.uint8))


def _place(rng: np.random.Generator, ink: np.ndarray,
           centre: Tuple[float, float],
           size: Tuple[int, int]) -> Tuple[slice, slice]:
    """The window of ``ink`` centred at ``centre`` (y, x), moved by up to
    ``JITTER`` pixels and kept inside an image of ``size``."""
    top, left = (int(np.clip(
        round(middle - extent / 2 + rng.uniform(-JITTER, JITTER)), 0,
        limit - extent)) for middle, extent, limit in zip(
            centre, ink.shape, size))
    return slice(top, top + ink.shape[0]), slice(left, left + ink.shape[1])


def _draw(rng: np.random.Generator, image: np.ndarray, ink: np.ndarray,
          window: Tuple[slice, slice]) -> None:
    """Blend ``ink`` into ``image[window]`` in a random dark colour."""
    colour = rng.uniform(0, 110, size=3)  # darker than the paper
    image[window] = (ink[..., None] * colour +
                     (1 - ink[..., None]) * image[window])


def _scene(rng: np.random.Generator, scans: np.ndarray,
           digits: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """One RGB image and its label map: different digits in different grid
    cells."""
    height, width = IMAGE_SIZE
    rows, columns = GRID
    image = _background(rng, IMAGE_SIZE)
    label = np.zeros(IMAGE_SIZE, np.uint8)
    count = rng.integers(DIGITS_PER_IMAGE[0], DIGITS_PER_IMAGE[1] + 1)
    cells = rng.choice(rows * columns, count, replace=False)
    for digit, cell in zip(rng.choice(10, count, replace=False), cells):
        ink = _ink(rng, scans[rng.choice(np.flatnonzero(digits == digit))])
        window = _place(rng, ink, ((cell // columns + 0.5) * height / rows,
                                   (cell % columns + 0.5) * width / columns),
                        IMAGE_SIZE)
        _draw(rng, image, ink, window)
        patch = label[window]
        patch[ink > RIM] = 255
        patch[ink > INK] = digit + 1
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
            image, label = _scene(rng, *scans[split][1:])
            stem = f'{CITY}_000000_{frame:06d}'
            cv2.imwrite(osp.join(image_dir, f'{stem}_leftImg8bit.png'),
                        cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            cv2.imwrite(
                osp.join(label_dir, f'{stem}_gtFine_labelTrainIds.png'),
                label)
    return root


def write_digit_patches(root: str, seed: int = 0) -> str:
    """Write the digit patches under ``root``: each scan drawn
    ``PATCH_COPIES`` times as DigitScapes draws digits (size, colour,
    paper), alone on a ``PATCH_SIZE`` square patch, in MMPretrain's folder
    layout, with DigitScapes' splits (:func:`scan_split`)::

        {train,val,test}/<digit>/<scan index>_<copy>.png

    The classification counterpart of DigitScapes (``configs/digits``);
    its train split also pretrains the segmentation backbones
    (``configs/digitscapes/pretrain``), as ImageNet classifiers start
    Cityscapes ones. Val and test hold four drawings of each of their 180
    scans, so that one drawing's luck weighs less. Each split draws from a
    random stream of its own: same seed, same bytes, and the train split's
    bytes do not depend on the others. Returns ``root``."""
    scans = digit_scans()
    for split_index, split in enumerate(('train', 'val', 'test')):
        rng = np.random.default_rng([seed, split_index])
        for digit in range(10):
            os.makedirs(osp.join(root, split, str(digit)), exist_ok=True)
        for index, scan, digit in zip(*scans[split]):
            for copy in range(PATCH_COPIES):
                image = _background(rng, (PATCH_SIZE, PATCH_SIZE))
                ink = _ink(rng, scan)
                _draw(rng, image, ink, _place(
                    rng, ink, (PATCH_SIZE / 2, PATCH_SIZE / 2),
                    (PATCH_SIZE, PATCH_SIZE)))
                cv2.imwrite(
                    osp.join(root, split, str(digit),
                             f'{index:04d}_{copy}.png'),
                    cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8),
                                 cv2.COLOR_RGB2BGR))
    return root


# What ``mmkd.benchmark.runs.write_missing`` needs to write a dataset where
# the configs read it: (root, relative to the directory the runs start in,
# the folder its writer makes last, writer). The last folder ties the check
# to the writer's current layout.
DIGITSCAPES_DATA = ('data/digitscapes', 'gtFine/test', write_digitscapes)
DIGIT_PATCHES_DATA = ('data/digit_patches', 'test/9', write_digit_patches)
