"""The classification counterpart of DigitScapes: the digit folders, read by
MMPretrain's CustomDataset, and one short epoch of every configs/digits
config with tools/train.py."""
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
from sklearn.datasets import load_digits

from mmkd.datasets import SCAN_SIZE, scan_split, write_digit_folders
from mmkd.testing import write_model_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'digits', '*.py')))
TEACHER_CONFIG = osp.join(ROOT, 'configs', 'digits', 'resnet50_digits.py')


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    return write_digit_folders(str(tmp_path_factory.mktemp('digits')))


def files(root):
    return sorted(osp.relpath(path, root)
                  for path in glob.glob(osp.join(root, '*', '*', '*.png')))


def test_same_bytes_every_time(digits, tmp_path):
    again = write_digit_folders(str(tmp_path / 'again'))
    names = files(digits)
    assert names == files(again) and len(names) == 1797
    assert filecmp.cmpfiles(digits, again, names, shallow=False)[0] == names


def test_every_scan_once_in_its_split_and_its_digits_folder(digits):
    reference = load_digits()
    seen = {}
    for name in files(digits):
        split, folder, file_name = name.split(osp.sep)
        index = int(file_name[:-4])
        assert index not in seen
        seen[index] = split
        assert int(folder) == reference.target[index]
        image = cv2.imread(osp.join(digits, name), cv2.IMREAD_UNCHANGED)
        assert image.shape == (SCAN_SIZE, SCAN_SIZE)
        assert image.dtype == np.uint8
    assert sorted(seen) == list(range(1797))
    assert all(split == scan_split(np.array([index]))[0]
               for index, split in seen.items())
    assert set(seen.values()) == {'train', 'val', 'test'}


def test_upsampled_image_keeps_the_scan(digits):
    scan = load_digits().images[7]  # 0..16 grey levels, a 7
    image = cv2.imread(osp.join(digits, 'train', '7', '0007.png'),
                       cv2.IMREAD_UNCHANGED).astype(np.float32)
    # averaging each 2x2 block back to 8x8 gives the scan again, up to the
    # bicubic overshoot that the clipping cut
    blocks = image.reshape(8, 2, 8, 2).mean(axis=(1, 3)) / 255 * 16
    assert np.abs(blocks - scan).max() < 3  # of 16 grey levels
    assert np.corrcoef(blocks.ravel(), scan.ravel())[0, 1] > 0.99


def test_mmpretrain_custom_dataset_reads_the_folders(digits):
    from mmpretrain.datasets import CustomDataset
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = CustomDataset(
            data_root=digits, data_prefix='val',
            pipeline=[dict(type='LoadImageFromFile',
                           color_type='grayscale'),
                      dict(type='PackInputs')])
    assert dataset.metainfo['classes'] == tuple(str(d) for d in range(10))
    assert len(dataset) == 180
    sample = dataset[len(dataset) - 1]
    assert tuple(sample['inputs'].shape) == (1, SCAN_SIZE, SCAN_SIZE)
    path = sample['data_samples'].img_path
    assert sample['data_samples'].gt_label.item() == int(
        osp.basename(osp.dirname(path)))


def test_make_digitscapes_tool_writes_the_same_folders(digits, tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/make_digitscapes.py', str(tmp_path / 'd'),
         '--task', 'cls'], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    names = files(digits)
    assert filecmp.cmpfiles(digits, tmp_path / 'd', names,
                            shallow=False)[0] == names


def test_make_digitscapes_tool_refuses_a_seed_for_classification(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/make_digitscapes.py', str(tmp_path / 'd'),
         '--task', 'cls', '--seed', '3'], cwd=ROOT, capture_output=True,
        text=True)
    assert result.returncode == 2
    assert 'no random draws' in result.stderr
    assert not (tmp_path / 'd').exists()


@pytest.fixture(scope='module')
def teacher_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    write_model_checkpoint(Config.fromfile(TEACHER_CONFIG).model, str(path),
                           scope='mmpretrain')
    return path


def test_there_are_the_teacher_the_student_and_every_method():
    assert {osp.basename(path)[:-3] for path in CONFIGS} == {
        'resnet50_digits', 'resnet18_digits'} | {
            f'resnet50_to_resnet18_digits_{method}'
            for method in ('kd', 'dist', 'bdd', 'pcd')}


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_trains_one_short_epoch(path, digits, teacher_checkpoint,
                                       tmp_path):
    # 64 images: two training iterations and one validation batch
    options = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={digits}',
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
    assert 'Epoch(train) [1][2/2]' in log
    assert 'Epoch(val) [1][1/1]' in log and 'accuracy/top1' in log
    assert ('distill.loss_' in log) == ('_to_' in osp.basename(path))
    assert (tmp_path / 'epoch_1.pth').exists()
