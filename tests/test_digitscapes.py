"""DigitScapes: the builder, the dataset class, and two iterations of every
DigitScapes config with tools/train.py."""
import filecmp
import glob
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmkd.datasets import (CLASSES, IMAGE_SIZE, SPLITS, DigitScapesDataset,
                           digit_scans, write_digitscapes)
from mmkd.testing import write_model_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'digitscapes', '*.py')))
TEACHER_CONFIG = osp.join(ROOT, 'configs', 'digitscapes',
                          'pspnet_r50_digitscapes.py')


@pytest.fixture(scope='module')
def digitscapes(tmp_path_factory):
    return write_digitscapes(str(tmp_path_factory.mktemp('digitscapes')))


def files(root):
    return sorted(osp.relpath(path, root)
                  for path in glob.glob(osp.join(root, '*', '*', '*', '*')))


def test_same_seed_same_bytes_other_seed_other_images(digitscapes, tmp_path):
    again = write_digitscapes(str(tmp_path / 'again'))
    names = files(digitscapes)
    assert names == files(again)
    assert len(names) == 2 * sum(SPLITS.values())
    match, mismatch, errors = filecmp.cmpfiles(digitscapes, again, names,
                                               shallow=False)
    assert mismatch == [] and errors == []
    other = write_digitscapes(str(tmp_path / 'other'), seed=1)
    _, mismatch, _ = filecmp.cmpfiles(digitscapes, other, names,
                                      shallow=False)
    assert len(mismatch) == len(names)


def test_train_and_val_use_disjoint_digit_scans():
    scans = digit_scans()
    train = {image.tobytes() for image in scans['train'][0]}
    val = {image.tobytes() for image in scans['val'][0]}
    assert len(train) > 1000 and len(val) > 300
    assert not train & val
    for images, digits in scans.values():
        assert set(digits) == set(range(10))
        assert images.min() == 0 and images.max() == 1


def test_labels_are_background_digits_and_ignored_rims(digitscapes):
    counts = np.zeros(256, np.int64)
    for path in glob.glob(osp.join(digitscapes, 'gtFine', '*', '*', '*.png')):
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert label.shape == IMAGE_SIZE and label.dtype == np.uint8
        counts += np.bincount(label.ravel(), minlength=256)
    assert set(np.flatnonzero(counts)) == set(range(len(CLASSES))) | {255}
    # background dominates; every digit is a visible share; rims are thin
    shares = counts / counts.sum()
    assert shares[0] > 0.6
    assert (shares[1:11] > 0.005).all()
    assert shares[255] < shares[1:11].sum()


def test_the_dataset_class_reads_the_layout(digitscapes):
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DigitScapesDataset(
            data_root=digitscapes,
            data_prefix=dict(img_path='leftImg8bit/val',
                             seg_map_path='gtFine/val'),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations'),
                      dict(type='PackSegInputs')])
    assert len(dataset) == SPLITS['val']
    assert dataset.metainfo['classes'] == CLASSES
    assert len(dataset.metainfo['palette']) == len(CLASSES)
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, *IMAGE_SIZE)
    label = sample['data_samples'].gt_sem_seg.data
    expected = cv2.imread(
        osp.join(digitscapes, 'gtFine', 'val', 'digitown',
                 'digitown_000000_000000_gtFine_labelTrainIds.png'),
        cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(label[0].numpy(), expected)


def test_make_digitscapes_tool_writes_the_same_dataset(digitscapes, tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/make_digitscapes.py', str(tmp_path / 'ds')],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    names = files(digitscapes)
    assert filecmp.cmpfiles(digitscapes, tmp_path / 'ds', names,
                            shallow=False)[0] == names


@pytest.fixture(scope='module')
def teacher_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    write_model_checkpoint(Config.fromfile(TEACHER_CONFIG).model, str(path))
    return path


def test_there_are_the_teacher_the_student_and_every_method():
    assert {osp.basename(path)[:-3] for path in CONFIGS} == {
        'pspnet_r50_digitscapes', 'pspnet_r18_digitscapes'} | {
            f'pspnet_r50_to_r18_digitscapes_{method}'
            for method in ('kd', 'cwd', 'dist', 'bdd', 'pcd')}


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_trains_two_iterations(path, digitscapes, teacher_checkpoint,
                                      tmp_path):
    options = [f'{loader}.dataset.data_root={digitscapes}'
               for loader in ('train_dataloader', 'val_dataloader',
                              'test_dataloader')]
    options += ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                'default_hooks.logger.interval=1',
                'default_hooks.checkpoint.interval=2']
    if 'teacher' in Config.fromfile(path).model:
        options.append(f'model.teacher.checkpoint={teacher_checkpoint}')
    result = subprocess.run(
        [sys.executable, 'tools/train.py', path, '--work-dir',
         str(tmp_path), '--cfg-options', *options],
        cwd=ROOT, capture_output=True, text=True)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Iter(train) [2/2]' in log
    batches = -(-SPLITS['val'] // 8)
    assert f'Iter(val) [{batches}/{batches}]' in log and 'mIoU' in log
    assert ('distill.loss_' in log) == ('_to_' in osp.basename(path))
    assert (tmp_path / 'iter_2.pth').exists()
