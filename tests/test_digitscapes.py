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
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmkd.datasets.digitscapes import (CLASSES, DIGIT_PATCHES_DATA,
                                      DIGITSCAPES_DATA, IMAGE_SIZE, SPLITS,
                                      DigitScapesDataset, digit_scans,
                                      scan_split, write_digit_patches,
                                      write_digitscapes)
from mmkd.models.builder import save_initial_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'digitscapes', '*.py')))
TEACHER_CONFIG = osp.join(ROOT, 'configs', 'digitscapes',
                          'pspnet_r18w16_digitscapes.py')
STUDENT_CONFIG = osp.join(ROOT, 'configs', 'digitscapes',
                          'pspnet_r18w8_digitscapes.py')
PRETRAIN = osp.join(ROOT, 'configs', 'digitscapes', 'pretrain')
PRETRAIN_CONFIGS = sorted(glob.glob(osp.join(PRETRAIN, '*.py')))


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


def test_train_val_and_test_use_disjoint_digit_scans():
    scans = digit_scans()
    assert list(scans) == ['train', 'val', 'test']
    indices = {split: set(index) for split, (index, _, _) in scans.items()}
    assert len(indices['train']) > 1400
    assert len(indices['val']) == 180 and len(indices['test']) == 180
    assert not indices['train'] & indices['val']
    assert not indices['train'] & indices['test']
    assert not indices['val'] & indices['test']
    assert set().union(*indices.values()) == set(range(1797))
    assert list(scan_split(np.arange(11))) == [
        'val', 'train', 'train', 'train', 'train', 'test', 'train', 'train',
        'train', 'train', 'val']
    for _, images, digits in scans.values():
        assert set(digits) == set(range(10))
        assert images.min() == 0 and images.max() == 1


def test_labels_are_background_digits_and_ignored_rims(digitscapes):
    counts = np.zeros(256, np.int64)
    for path in glob.glob(osp.join(digitscapes, 'gtFine', '*', '*', '*.png')):
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert label.shape == IMAGE_SIZE and label.dtype == np.uint8
        counts += np.bincount(label.ravel(), minlength=256)
    assert set(np.flatnonzero(counts)) == set(range(len(CLASSES))) | {255}
    # background is the largest class; every digit is a visible share;
    # rims are thin
    shares = counts / counts.sum()
    assert shares[0] > 0.4 and shares[0] == shares.max()
    assert (shares[1:11] > 0.01).all()
    assert shares[255] < shares[1:11].sum()


def test_a_canvas_holds_most_classes_each_digit_once(digitscapes):
    paths = glob.glob(osp.join(digitscapes, 'gtFine', 'val', '*', '*.png'))
    counts = []
    for path in paths:
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        present = set(np.unique(label)) - {255}
        counts.append(len(present))
        # every digit drawn is one connected blob or a few (its strokes),
        # never two copies in far-apart cells
        for digit in present - {0}:
            columns = np.flatnonzero((label == digit).any(0))
            assert columns.max() - columns.min() < 50
    assert min(counts) >= 7 and max(counts) <= 11
    assert np.mean(counts) > 8


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


@pytest.mark.parametrize('entry, configs', [
    (DIGITSCAPES_DATA, [STUDENT_CONFIG]),
    (DIGIT_PATCHES_DATA, PRETRAIN_CONFIGS + sorted(
        glob.glob(osp.join(ROOT, 'configs', 'digits', '*.py'))))],
    ids=['digitscapes', 'digit_patches'])
def test_data_entry_is_where_configs_read_and_what_its_writer_makes(
        entry, configs, tmp_path):
    """tools/demo.py and tools/benchmark_methods.py write a dataset when
    its entry's last folder is missing."""
    root, last_folder, write = entry
    assert osp.isdir(osp.join(write(str(tmp_path / 'data')), last_folder))
    for path in configs:
        config = Config.fromfile(path)
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            assert config[loader].dataset.data_root.rstrip('/') == root


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
    save_initial_checkpoint(Config.fromfile(TEACHER_CONFIG).model, str(path))
    return path


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """'student', 'teacher' -> a checkpoint of the classifier that
    pretrains that backbone (initial weights)."""
    directory = tmp_path_factory.mktemp('pretrained')
    paths = {}
    for role, width in (('student', 'w8'), ('teacher', 'w16')):
        paths[role] = directory / f'{role}.pth'
        save_initial_checkpoint(
            osp.join(PRETRAIN, f'pretrain_r18{width}_digit_patches.py'),
            str(paths[role]), scope='mmpretrain', seed=1)
    return paths


def test_the_pretrained_classifier_fits_the_backbone_key_for_key(pretrained):
    """The segmentors' init_cfg loads every backbone weight of the
    pretraining classifier, none missing, none left over."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        from mmseg.registry import MODELS
        for role, config in (('student', STUDENT_CONFIG),
                             ('teacher', TEACHER_CONFIG)):
            model_cfg = Config.fromfile(config).model
            model_cfg.backbone.init_cfg.checkpoint = str(pretrained[role])
            model = MODELS.build(model_cfg)
            model.init_weights()
            classifier = torch.load(pretrained[role],
                                    weights_only=True)['state_dict']
            backbone = {key[len('backbone.'):]: value
                        for key, value in classifier.items()
                        if key.startswith('backbone.')}
            assert backbone.keys() == model.backbone.state_dict().keys()
            for key, value in model.backbone.state_dict().items():
                torch.testing.assert_close(value, backbone[key])


@pytest.mark.parametrize('path', PRETRAIN_CONFIGS, ids=osp.basename)
def test_pretrain_config_trains_one_short_epoch(path, tmp_path):
    root = write_digit_patches(str(tmp_path / 'patches'))
    options = [f'{loader}.dataset.data_root={root}'
               for loader in ('train_dataloader', 'val_dataloader')]
    options += ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                'train_dataloader.dataset.indices=128',
                'val_dataloader.dataset.indices=128',
                'default_hooks.checkpoint.interval=1']
    result = subprocess.run(
        [sys.executable, 'tools/train.py', path, '--work-dir',
         str(tmp_path / 'work'), '--cfg-options', *options],
        cwd=ROOT, capture_output=True, text=True)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'accuracy/top1' in log
    assert (tmp_path / 'work' / 'epoch_1.pth').exists()


def test_there_are_the_teacher_the_student_and_every_method():
    assert {osp.basename(path)[:-3] for path in CONFIGS} == {
        'pspnet_r18w16_digitscapes', 'pspnet_r18w8_digitscapes'} | {
            f'pspnet_r18w16_to_r18w8_digitscapes_{method}'
            for method in ('kd', 'cwd', 'dist', 'bdd', 'bdd_spatial', 'pcd',
                           'dist_aux', 'cwd_feat', 'at', 'skd', 'ifvd',
                           'cirkd', 'mgd', 'dkd')}


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_trains_two_iterations(path, digitscapes, teacher_checkpoint,
                                      pretrained, tmp_path):
    options = [f'{loader}.dataset.data_root={digitscapes}'
               for loader in ('train_dataloader', 'val_dataloader',
                              'test_dataloader')]
    options += ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                'default_hooks.logger.interval=1',
                'default_hooks.checkpoint.interval=2']
    model = Config.fromfile(path).model
    if 'teacher' in model:
        options += [f'model.teacher.checkpoint={teacher_checkpoint}',
                    'model.student.backbone.init_cfg.checkpoint='
                    f'{pretrained["student"]}']
    else:
        role = 'teacher' if path == TEACHER_CONFIG else 'student'
        options.append(
            f'model.backbone.init_cfg.checkpoint={pretrained[role]}')
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
