"""Synthetic inputs, for tests, benchmarks about computation and smoke runs
on machines that cannot download the real data: random batches as the
data preprocessors receive them, and a small dataset in the Cityscapes
layout (stand-in checkpoints: :func:`mmkd.models.builder.
save_initial_checkpoint`).

The dataset has the real Cityscapes directory layout and file names, so
MMSegmentation's ``CityscapesDataset`` reads it unchanged; its content is
generated: polygon annotations of random shapes, label maps drawn from them
by the official ``cityscapesscripts``, and images that paint each class in
its Cityscapes colour over noise, so a network can learn it.
"""
import json
import os
import os.path as osp
from typing import Tuple

import cv2
import numpy as np
import torch
from cityscapesscripts.helpers import labels as cityscapes_labels
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.preparation.json2labelImg import createLabelImage
from mmengine.structures import PixelData

__all__ = ['write_cityscapes_layout', 'make_seg_batch', 'make_cls_batch']

CITYSCAPES_PALETTE = np.array(
    [[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156],
     [190, 153, 153], [153, 153, 153], [250, 170, 30], [220, 220, 0],
     [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
     [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100],
     [0, 0, 230], [119, 11, 32]], dtype=np.uint8)
SPLIT_CITIES = {'train': ('aachen', 'bochum'), 'val': ('frankfurt', )}
# Cityscapes label names by trainId 0..18 (road, sidewalk, ...)
TRAIN_ID_NAMES = [
    label.name for label in sorted(
        (label for label in cityscapes_labels.labels
         if 0 <= label.trainId < 19),
        key=lambda label: label.trainId)
]


def _polygons(rng: np.random.Generator, size: Tuple[int, int]) -> dict:
    """A Cityscapes polygon annotation: road everywhere, a few rectangles
    and ellipses of other classes on top, and a 2-pixel 'out of roi'
    frame (trainId 255)."""
    height, width = size
    objects = [('road', [[0, 0], [width, 0], [width, height], [0, height]])]
    for _ in range(rng.integers(3, 8)):
        name = TRAIN_ID_NAMES[int(rng.integers(1, len(TRAIN_ID_NAMES)))]
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        h = int(rng.integers(height // 8, height // 2))
        w = int(rng.integers(width // 8, width // 2))
        if rng.random() < 0.5:
            polygon = [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]
        else:
            polygon = cv2.ellipse2Poly((x, y), (w // 2, h // 2), 0, 0, 360,
                                       15).tolist()
        objects.append((name, polygon))
    right, bottom = width - 1, height - 1
    for x0, y0, x1, y1 in ((0, 0, right, 1), (0, bottom - 1, right, bottom),
                           (0, 0, 1, bottom), (right - 1, 0, right, bottom)):
        objects.append(
            ('out of roi', [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return dict(imgHeight=height, imgWidth=width, objects=[
        dict(label=name, polygon=polygon) for name, polygon in objects])


def _image(rng: np.random.Generator, train_ids: np.ndarray) -> np.ndarray:
    """An RGB image for a trainId map: each class in its Cityscapes colour
    (black where ignored), plus noise."""
    colour = np.where((train_ids == 255)[..., None], 0,
                      CITYSCAPES_PALETTE[np.minimum(train_ids, 18)])
    noise = rng.normal(0, 20, size=colour.shape)
    return np.clip(colour + noise, 0, 255).astype(np.uint8)


def write_cityscapes_layout(root: str,
                            images_per_city: int = 2,
                            size: Tuple[int, int] = (128, 256),
                            seed: int = 0,
                            label_maps: bool = True) -> str:
    """Write a small dataset in the Cityscapes layout under ``root``, as
    the official download has it plus the trainId maps::

        leftImg8bit/{train,val}/<city>/<city>_000000_0000NN_leftImg8bit.png
        gtFine/{train,val}/<city>/<city>_000000_0000NN_gtFine_polygons.json
        gtFine/.../<city>_000000_0000NN_gtFine_labelIds.png
        gtFine/.../<city>_000000_0000NN_gtFine_labelTrainIds.png

    The label maps are drawn from the polygons by ``cityscapesscripts``;
    ``label_maps=False`` leaves them out, as before conversion (the
    ``labelIds`` maps ship with the official download, the ``labelTrainIds``
    ones do not). Two training cities and one validation city,
    ``images_per_city`` images each, of ``size`` (height, width). Same
    seed, same files.
    """
    rng = np.random.default_rng(seed)
    for split, cities in SPLIT_CITIES.items():
        for city in cities:
            image_dir = osp.join(root, 'leftImg8bit', split, city)
            label_dir = osp.join(root, 'gtFine', split, city)
            os.makedirs(image_dir, exist_ok=True)
            os.makedirs(label_dir, exist_ok=True)
            for frame in range(images_per_city):
                stem = osp.join(label_dir, f'{city}_000000_{frame:06d}')
                polygons = f'{stem}_gtFine_polygons.json'
                with open(polygons, 'w') as file:
                    json.dump(_polygons(rng, size), file)
                annotation = Annotation()
                annotation.fromJsonFile(polygons)
                train_ids = createLabelImage(annotation, 'trainIds')
                if label_maps:
                    train_ids.save(f'{stem}_gtFine_labelTrainIds.png')
                    createLabelImage(annotation, 'ids').save(
                        f'{stem}_gtFine_labelIds.png')
                image = _image(rng, np.asarray(train_ids))
                cv2.imwrite(
                    osp.join(image_dir,
                             f'{city}_000000_{frame:06d}_leftImg8bit.png'),
                    cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return root


def make_seg_batch(num_images: int = 2, size: Tuple[int, int] = (32, 32),
                   num_classes: int = 4, seed: int = 0) -> dict:
    """Random images and label maps, as MMSegmentation's dataloader gives
    them to the data preprocessor."""
    from mmseg.structures import SegDataSample
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(num_images):
        inputs.append(torch.randint(0, 256, (3, *size), generator=generator,
                                    dtype=torch.uint8))
        label = torch.randint(0, num_classes, (1, *size), generator=generator)
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=size, ori_shape=size,
                                 pad_shape=size))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def make_cls_batch(num_images: int = 4, size: Tuple[int, int] = (32, 32),
                   num_classes: int = 4, seed: int = 0,
                   channels: int = 3) -> dict:
    """Random images and labels, as MMPretrain's dataloader gives them to
    the data preprocessor."""
    from mmpretrain.structures import DataSample
    generator = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (channels, *size), generator=generator,
                            dtype=torch.uint8) for _ in range(num_images)]
    labels = torch.randint(0, num_classes, (num_images, ), generator=generator)
    samples = [DataSample().set_gt_label(int(label)) for label in labels]
    return dict(inputs=inputs, data_samples=samples)


# ADE20K and Pascal VOC 2012 + SBD, in the layouts MMSegmentation reads


def _class_colours(seed: int) -> np.ndarray:
    """256 fixed RGB colours, one per label value."""
    return np.random.default_rng(seed).integers(0, 256, (256, 3),
                                                dtype=np.uint8)


def _shapes(rng: np.random.Generator, labels: np.ndarray, classes: range,
            outline=None) -> np.ndarray:
    """``labels`` with 2 to 5 rectangles and ellipses of random ``classes``
    drawn on it, in place; each with a 2-pixel ``outline`` value if
    given."""
    height, width = labels.shape
    for _ in range(rng.integers(2, 6)):
        value = int(rng.choice(classes))
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        h = int(rng.integers(height // 8, height // 2))
        w = int(rng.integers(width // 8, width // 2))
        if rng.random() < 0.5:
            polygon = np.array([[x, y], [x + w, y], [x + w, y + h],
                                [x, y + h]], np.int32)
        else:
            polygon = cv2.ellipse2Poly((x, y), (max(w // 2, 1),
                                                max(h // 2, 1)), 0, 0, 360, 15)
        cv2.fillPoly(labels, [polygon], value)
        if outline is not None:
            cv2.polylines(labels, [polygon], True, outline, thickness=2)
    return labels


def _painted(rng: np.random.Generator, labels: np.ndarray,
             colours: np.ndarray) -> np.ndarray:
    """An RGB image for a label map: each value in its colour, plus
    noise."""
    noise = rng.normal(0, 20, size=labels.shape + (3, ))
    return np.clip(colours[labels] + noise, 0, 255).astype(np.uint8)


def _write_jpeg(path: str, image: np.ndarray) -> None:
    cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 95])


def write_ade20k_layout(root: str,
                        images_per_split: int = 2,
                        size: Tuple[int, int] = (64, 96),
                        seed: int = 0) -> str:
    """Write a small dataset in the ADE20K (SceneParsing,
    ``ADEChallengeData2016.zip``) layout under ``root``, the data root of
    MMSegmentation's ADE20K configs (``data/ade/ADEChallengeData2016``)::

        images/training/ADE_train_000000NN.jpg
        images/validation/ADE_val_000000NN.jpg
        annotations/training/ADE_train_000000NN.png
        annotations/validation/ADE_val_000000NN.png

    The label maps are 8-bit grayscale PNGs, as in the download: 0 for
    "other objects" (a 2-pixel frame and some shapes, which the configs'
    ``reduce_zero_label`` turns into the ignore index) and the classes
    1..150 (a background class and a few shapes of others).
    ``images_per_split`` images of ``size`` (height, width) per split. Same
    seed, same files.
    """
    rng = np.random.default_rng(seed)
    colours = _class_colours(seed + 150)
    for split, prefix in (('training', 'ADE_train'),
                          ('validation', 'ADE_val')):
        image_dir = osp.join(root, 'images', split)
        label_dir = osp.join(root, 'annotations', split)
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(label_dir, exist_ok=True)
        for index in range(1, images_per_split + 1):
            labels = np.full(size, int(rng.integers(1, 151)), np.uint8)
            _shapes(rng, labels, range(0, 151))
            for frame in (np.s_[:2], np.s_[-2:], np.s_[:, :2], np.s_[:, -2:]):
                labels[frame] = 0
            stem = f'{prefix}_{index:08d}'
            cv2.imwrite(osp.join(label_dir, stem + '.png'), labels)
            _write_jpeg(osp.join(image_dir, stem + '.jpg'),
                        _painted(rng, labels, colours))
    return root


def voc_palette() -> np.ndarray:
    """The Pascal VOC colour map, ``[256, 3]``, as the devkit builds it
    (the bits of the label value spread over the three channels)."""
    palette = np.zeros((256, 3), np.uint8)
    for value in range(256):
        label = value
        for bit in range(8):
            for channel in range(3):
                palette[value, channel] |= ((label >> channel) & 1) << \
                    (7 - bit)
            label >>= 3
    return palette


def write_voc_layout(root: str,
                     images_per_split: int = 2,
                     size: Tuple[int, int] = (64, 96),
                     seed: int = 0) -> str:
    """Write a small dataset in the Pascal VOC 2012 layout, with the SBD
    annotations as MMSegmentation's ``tools/dataset_converters/voc_aug.py``
    converts them, under ``root``, the data root of MMSegmentation's VOC
    configs (``data/VOCdevkit/VOC2012``)::

        JPEGImages/<year>_<NNNNNN>.jpg             every image
        SegmentationClass/<name>.png               VOC train and val
        SegmentationClassAug/<name>.png            SBD: VOC train and aug
        ImageSets/Segmentation/{train,val,trainval}.txt
        ImageSets/Segmentation/{aug,trainaug}.txt  (voc_aug.py writes them)

    ``SegmentationClass`` maps are palette PNGs, as in the VOC download:
    background 0, objects 1..20, 255 on a 2-pixel border around each
    object. ``SegmentationClassAug`` maps are 8-bit grayscale PNGs of 0..20
    (SBD has no border label). ``aug.txt`` lists the SBD images that are in
    neither VOC split; ``trainaug.txt`` those and the VOC training ones.
    ``images_per_split`` images of ``size`` (height, width) in each of the
    train, val and aug splits. Same seed, same files.
    """
    from PIL import Image
    rng = np.random.default_rng(seed)
    colours = _class_colours(seed + 21)
    folders = {name: osp.join(root, name) for name in (
        'JPEGImages', 'SegmentationClass', 'SegmentationClassAug',
        'ImageSets/Segmentation')}
    for folder in folders.values():
        os.makedirs(folder, exist_ok=True)
    palette = voc_palette().ravel().tolist()
    names = {}
    for offset, split in enumerate(('train', 'val', 'aug')):
        names[split] = [
            f'{2007 + (offset * images_per_split + index) % 5}_'
            f'{offset * 1000 + index:06d}' for index in range(images_per_split)
        ]
        for name in names[split]:
            labels = _shapes(rng, np.zeros(size, np.uint8), range(1, 21),
                             outline=255)
            _write_jpeg(osp.join(folders['JPEGImages'], name + '.jpg'),
                        _painted(rng, labels, colours))
            if split != 'aug':
                voc = Image.fromarray(labels)
                voc.putpalette(palette)  # 'L' becomes 'P', values kept
                voc.save(osp.join(folders['SegmentationClass'],
                                  name + '.png'))
            if split != 'val':
                # SBD has no border label: background there
                sbd = labels.copy()
                sbd[labels == 255] = 0
                cv2.imwrite(osp.join(folders['SegmentationClassAug'],
                                     name + '.png'), sbd)
    for split, listed in (('train', names['train']), ('val', names['val']),
                          ('trainval', names['train'] + names['val']),
                          ('aug', names['aug']),
                          ('trainaug', names['train'] + names['aug'])):
        with open(osp.join(folders['ImageSets/Segmentation'],
                           f'{split}.txt'), 'w') as file:
            file.writelines(name + '\n' for name in listed)
    return root


__all__ += ['write_ade20k_layout', 'write_voc_layout', 'voc_palette']
