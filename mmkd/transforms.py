"""Loading transforms that check what they load, so that a bad file stops
a run with its name instead of a crash deep inside a dataloader worker.

They replace ``LoadImageFromFile`` and ``LoadAnnotations`` at the head of a
segmentation pipeline::

    dict(type='mmkd.LoadCheckedImage'),
    dict(type='mmkd.LoadCheckedAnnotations', num_classes=19),

With ``skip_bad=True`` a bad sample is logged and skipped (the training
dataset draws another one); test-mode datasets refuse skipped samples.
"""
import logging
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config
from mmengine.logging import print_log
from mmseg.datasets.transforms import LoadAnnotations

from mmkd.registry import TRANSFORMS

__all__ = [
    'DataError', 'LoadCheckedImage', 'LoadCheckedAnnotations',
    'plain_loaders'
]
# The loaders each checked one extends, and the arguments only it takes.
_PLAIN = {
    'mmkd.LoadCheckedImage': ('LoadImageFromFile', {'skip_bad'}),
    'mmkd.LoadCheckedAnnotations':
    ('LoadAnnotations', {'num_classes', 'ignore_index', 'skip_bad'}),
}


class DataError(ValueError):
    """A sample's files are missing, unreadable or inconsistent."""


# What decoding a file can raise: a missing or unreadable file (OSError,
# PIL's UnidentifiedImageError among them), an empty or undecodable one
# (OpenCV's cv2.error, mmcv's assertion that the image decoded, numpy's
# ValueError).
DECODING_ERRORS = (OSError, ValueError, AssertionError, cv2.error)


def _refuse(message: str, skip: bool) -> None:
    if not skip:
        raise DataError(message)
    print_log(message + '; sample skipped', logger='current',
              level=logging.WARNING)


@TRANSFORMS.register_module()
class LoadCheckedImage(LoadImageFromFile):
    """``LoadImageFromFile`` whose failures name the file.

    Args:
        skip_bad (bool): log and skip a missing or unreadable image instead
            of raising :class:`DataError`.
        Others as ``LoadImageFromFile``.
    """

    def __init__(self, skip_bad: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.skip_bad = skip_bad

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            return super().transform(results)
        except DECODING_ERRORS as error:
            _refuse(f'image {path} is missing or unreadable: {error}',
                    self.skip_bad)
            return None


@TRANSFORMS.register_module()
class LoadCheckedAnnotations(LoadAnnotations):
    """MMSegmentation's ``LoadAnnotations``, then checks that the label map
    was read, has the image's size and holds only class indices
    ``[0, num_classes)`` and ``ignore_index``.

    Args:
        num_classes (int): the number of classes of the dataset.
        ignore_index (int): the label of unlabelled pixels. Default 255.
        skip_bad (bool): log and skip a bad sample instead of raising
            :class:`DataError`.
        Others as ``LoadAnnotations``.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 skip_bad: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.skip_bad = skip_bad

    def transform(self, results: dict) -> Optional[dict]:
        path = results['seg_map_path']
        try:
            results = super().transform(results)
        except DECODING_ERRORS as error:
            _refuse(f'label map {path} is missing or unreadable: {error}',
                    self.skip_bad)
            return None
        problem = self._problem(results)
        if problem is None:
            return results
        _refuse(f'label map {path}: {problem}', self.skip_bad)
        return None

    def _problem(self, results: dict) -> Optional[str]:
        labels = results['gt_seg_map']
        # the image as read: a test pipeline may resize it before loading
        # the labels
        image_shape = results.get('ori_shape')
        if image_shape is None and results.get('img') is not None:
            image_shape = results['img'].shape
        if image_shape is not None and \
                tuple(image_shape[:2]) != labels.shape[:2]:
            return (f'{labels.shape[0]}x{labels.shape[1]} pixels, but its '
                    f'image {results["img_path"]} has '
                    f'{image_shape[0]}x{image_shape[1]}')
        if labels.dtype == np.uint8:  # a few times faster than np.unique
            values = np.flatnonzero(np.bincount(labels.ravel(), minlength=256))
        else:
            values = np.unique(labels)
        bad = values[(values >= self.num_classes) & (values != self.ignore_index)
                     | (values < 0)]
        if len(bad):
            return (f'values {bad.tolist()} are neither classes '
                    f'[0, {self.num_classes}) nor the ignore index '
                    f'{self.ignore_index}')
        return None


def plain_loaders(node):
    """``node`` (a config, or any part of one) with every checked loader
    replaced by the OpenMMLab loader it extends, in place; for configs that
    must run without mmkd. Returns ``node``."""
    if isinstance(node, Config):
        for key in list(node.keys()):
            plain_loaders(node[key])
    elif isinstance(node, dict):
        if node.get('type') in _PLAIN:
            plain, own_args = _PLAIN[node['type']]
            node['type'] = plain
            for name in own_args:
                node.pop(name, None)
        for value in node.values():
            plain_loaders(value)
    elif isinstance(node, list):
        for value in node:
            plain_loaders(value)
    return node
