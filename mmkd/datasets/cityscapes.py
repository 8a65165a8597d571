"""Cityscapes as the configs read it: the 19-class
``*_gtFine_labelTrainIds.png`` maps drawn from the polygon files of the
official download by the official ``cityscapesscripts``
(``tools/convert_cityscapes.py``), after checking that the tree is
complete."""
import glob
import os
import os.path as osp

__all__ = ['CityscapesLayoutError', 'polygon_files', 'is_converted',
           'convert', 'POLYGONS', 'TRAIN_IDS']

POLYGONS = '_gtFine_polygons.json'
TRAIN_IDS = '_gtFine_labelTrainIds.png'
IMAGE = '_leftImg8bit.png'
CHECKED_SPLITS = ('train', 'val')
SHOWN = 5  # missing files named in an error


class CityscapesLayoutError(ValueError):
    """The Cityscapes tree is missing or incomplete."""


def stems(directory: str, suffix: str) -> set:
    """``split/city/frame`` of every ``*suffix`` file under ``directory``."""
    files = glob.glob(osp.join(directory, '*', '*', f'*{suffix}'))
    return {osp.relpath(path, directory)[:-len(suffix)] for path in files}


def named(paths: list) -> str:
    listed = ', '.join(sorted(paths)[:SHOWN])
    more = len(paths) - SHOWN
    return listed + (f' and {more} more' if more > 0 else '')


def polygon_files(data_root: str) -> list:
    """Every polygon file under ``gtFine``, after checking that the tree is
    complete: each train and val image has its polygons and vice versa."""
    if not osp.isdir(data_root):
        raise CityscapesLayoutError(f'{data_root} is not a directory')
    for name, archive in (('leftImg8bit', 'leftImg8bit_trainvaltest.zip'),
                          ('gtFine', 'gtFine_trainvaltest.zip')):
        if not osp.isdir(osp.join(data_root, name)):
            raise CityscapesLayoutError(
                f'{osp.join(data_root, name)} is missing: unzip {archive} '
                f'from https://www.cityscapes-dataset.com into {data_root}')
    images = stems(osp.join(data_root, 'leftImg8bit'), IMAGE)
    polygons = stems(osp.join(data_root, 'gtFine'), POLYGONS)
    if not polygons:
        raise CityscapesLayoutError(
            f'no *{POLYGONS} files under {data_root}/gtFine/<split>/<city>/: '
            'unzip gtFine_trainvaltest.zip there')
    for split in CHECKED_SPLITS:
        split_images = {s for s in images if s.startswith(split + os.sep)}
        split_polygons = {s for s in polygons if s.startswith(split + os.sep)}
        if not split_images:
            raise CityscapesLayoutError(
                f'no *{IMAGE} files under {data_root}/leftImg8bit/{split}/')
        without_polygons = split_images - split_polygons
        if without_polygons:
            raise CityscapesLayoutError(
                f'{len(without_polygons)} {split} images have no polygon '
                'file (a partial gtFine download?): ' + named(
                    [f'gtFine/{s}{POLYGONS}' for s in without_polygons]))
        without_images = split_polygons - split_images
        if without_images:
            raise CityscapesLayoutError(
                f'{len(without_images)} {split} annotations have no image (a '
                'partial leftImg8bit download?): ' + named(
                    [f'leftImg8bit/{s}{IMAGE}' for s in without_images]))
    return sorted(
        osp.join(data_root, 'gtFine', s + POLYGONS) for s in polygons)


def is_converted(polygons: str) -> bool:
    output = polygons[:-len(POLYGONS)] + TRAIN_IDS
    return (osp.exists(output)
            and osp.getmtime(output) >= osp.getmtime(polygons))


def convert(polygons: str) -> None:
    """Draw one trainId map; written under a temporary name and renamed, so
    an interrupted run leaves no truncated map behind."""
    from cityscapesscripts.preparation.json2labelImg import json2labelImg
    output = polygons[:-len(POLYGONS)] + TRAIN_IDS
    partial = output + '.partial.png'
    try:
        json2labelImg(polygons, partial, 'trainIds')
    except SystemExit:
        # cityscapesscripts prints the problem and calls sys.exit
        raise RuntimeError(f'cityscapesscripts could not convert {polygons} '
                           '(its message is above)') from None
    except Exception as error:
        raise RuntimeError(f'cityscapesscripts could not convert {polygons}: '
                           f'{error!r}') from None
    os.replace(partial, output)
