"""The classification counterpart of DigitScapes: the digit patches, read
by MMPretrain's CustomDataset, and one short epoch of every configs/digits
config with tools/train.py."""
import filecmp
import glob
import os.path as osp
import subprocess
import sys

import cv2
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmkd.datasets.digitscapes import (PATCH_COPIES, PATCH_SIZE, digit_scans,
                                      write_digit_patches)
from mmkd.models.builder import save_initial_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'digits', '*.py')))
TEACHER_CONFIG = osp.join(ROOT, 'configs', 'digits', 'resnet18w16_digits.py')
PRETRAIN = osp.join(ROOT, 'configs', 'digitscapes', 'pretrain')


@pytest.fixture(scope='module')
def patches(tmp_path_factory):
    return write_digit_patches(str(tmp_path_factory.mktemp('patches')))


def files(root, split='*'):
    return sorted(osp.relpath(path, root)
                  for path in glob.glob(osp.join(root, split, '*', '*.png')))


def test_every_scan_drawn_four_times_in_its_split_and_digit_folder(patches):
    scans = digit_scans()
    for split, (indices, _, digits) in scans.items():
        names = files(patches, split)
        assert len(names) == PATCH_COPIES * len(indices)
        digit_of = dict(zip(indices, digits))
        drawn = {}
        for name in names:
            _, folder, file_name = name.split(osp.sep)
            index, copy = map(int, file_name[:-4].split('_'))
            assert int(folder) == digit_of[index]
            drawn.setdefault(index, set()).add(copy)
        assert drawn == {index: set(range(PATCH_COPIES))
                         for index in indices}
    image = cv2.imread(osp.join(patches, names[0]))
    assert image.shape == (PATCH_SIZE, PATCH_SIZE, 3)
    # each drawing of a scan is a new draw (size, colour, paper, place)
    first, second = (cv2.imread(osp.join(patches, name))
                     for name in names[:2])
    assert names[1] == names[0].replace('_0.png', '_1.png')
    assert (first != second).any()


def test_same_seed_same_bytes_another_seed_other_bytes(patches, tmp_path):
    again = write_digit_patches(str(tmp_path / 'again'))
    names = files(patches)
    assert filecmp.cmpfiles(patches, again, names, shallow=False)[0] == names
    other = write_digit_patches(str(tmp_path / 'other'), seed=1)
    assert not filecmp.cmpfiles(patches, other, names, shallow=False)[0]


def test_make_digitscapes_tool_writes_the_same_patches(patches, tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/make_digitscapes.py', str(tmp_path / 'd'),
         '--task', 'patches'], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    names = files(patches)
    assert filecmp.cmpfiles(patches, tmp_path / 'd', names,
                            shallow=False)[0] == names


@pytest.mark.parametrize('path', CONFIGS + sorted(glob.glob(osp.join(
    PRETRAIN, '*.py'))), ids=osp.basename)
def test_train_val_and_test_read_their_own_split(path, patches):
    """The classifiers train on train and validate on val; the benchmark
    configs test on test, the pretraining (nothing reported) on val."""
    from mmpretrain.datasets import CustomDataset
    config = Config.fromfile(path)
    expected = ('train', 'val', 'val' if PRETRAIN in path else 'test')
    for loader, split in zip(
            ('train_dataloader', 'val_dataloader', 'test_dataloader'),
            expected):
        dataset_cfg = config[loader].dataset
        assert dataset_cfg.data_prefix == split
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            dataset = CustomDataset(
                data_root=patches, data_prefix=split,
                pipeline=dataset_cfg.pipeline)
        assert len(dataset) == PATCH_COPIES * len(digit_scans()[split][0])
        sample = dataset[len(dataset) - 1]
        assert tuple(sample['inputs'].shape) == (3, PATCH_SIZE, PATCH_SIZE)
        assert sample['data_samples'].gt_label.item() == int(osp.basename(
            osp.dirname(sample['data_samples'].img_path)))


@pytest.fixture(scope='module')
def teacher_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    save_initial_checkpoint(Config.fromfile(TEACHER_CONFIG).model, str(path),
                           scope='mmpretrain')
    return path


def test_there_are_the_teacher_the_student_and_every_method():
    assert {osp.basename(path)[:-3] for path in CONFIGS} == {
        'resnet18w16_digits', 'resnet18w4_digits'} | {
            f'resnet18w16_to_resnet18w4_digits_{method}'
            for method in ('kd', 'dist', 'bdd', 'pcd', 'dkd', 'kd_ls')}


def test_the_distill_configs_read_the_checkpoint_the_teacher_writes():
    teacher = Config.fromfile(TEACHER_CONFIG)
    written = osp.join('work_dirs', 'resnet18w16_digits',
                       f'epoch_{teacher.train_cfg.max_epochs}.pth')
    for path in CONFIGS:
        model = Config.fromfile(path).model
        if 'teacher' in model:
            assert model.teacher.checkpoint == written


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_trains_one_short_epoch(path, patches, teacher_checkpoint,
                                       tmp_path):
    # 64 images: one training iteration and one validation batch
    options = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={patches}',
                    f'{loader}.dataset.indices=64']
    options += ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                'default_hooks.logger.interval=1',
                'default_hooks.checkpoint.interval=1']
    if 'teacher' in Config.fromfile(path).model:
        options.append(f'model.teacher.checkpoint={teacher_checkpoint}')
    result = subprocess.run(
        [sys.executable, 'tools/train.py', path, '--work-dir',
         str(tmp_path), '--cfg-options', *options],
        cwd=ROOT, capture_output=True, text=True)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Epoch(train) [1][1/1]' in log
    assert 'Epoch(val) [1][1/1]' in log and 'accuracy/top1' in log
    assert ('distill.loss_' in log) == ('_to_' in osp.basename(path))
    assert (tmp_path / 'epoch_1.pth').exists()
