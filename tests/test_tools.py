"""tools/train.py and tools/test.py on the real PSPNet-R101 -> R18 KD
config, shrunk to 64x128 crops, on a small dataset in the Cityscapes layout
with a teacher checkpoint written here."""
import glob
import os.path as osp
import py_compile
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmkd.models.builder import save_initial_checkpoint
from mmkd.synthetic import write_cityscapes_layout

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
KD_CONFIG = osp.join(ROOT, 'configs', 'pspnet_r101_to_r18_kd.py')
TINY_CONFIG = osp.join(ROOT, 'configs', 'demo', 'pspnet_r101_to_r18_kd_tiny.py')
TEACHER_URL = ('https://download.openmmlab.com/mmsegmentation/v0.5/pspnet/'
               'pspnet_r101-d8_512x1024_80k_cityscapes/'
               'pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-'
               'e1e1100f.pth')


@pytest.fixture(scope='module')
def cityscapes(tmp_path_factory):
    root = tmp_path_factory.mktemp('cityscapes')
    write_cityscapes_layout(str(root), images_per_city=2)
    teacher = root / 'teacher.pth'
    save_initial_checkpoint(
        'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        str(teacher))
    return root, teacher


def run_tool(*args):
    result = subprocess.run([sys.executable, *args], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout + result.stderr


def data_options(root, teacher):
    return [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')] + [
                               f'model.teacher.checkpoint={teacher}']


def last_metrics(log, prefix):
    lines = [line for line in log.splitlines() if prefix in line and 'mIoU' in line]
    return {k: float(v) for k, v in
            re.findall(r'(aAcc|mIoU|mAcc): ([\d.]+)', lines[-1])}


def test_kd_config_is_mmsegs_pspnet_r18_with_the_zoo_r101_teacher():
    cfg = Config.fromfile(KD_CONFIG)
    assert cfg.model.type == 'mmkd.SegDistiller'
    assert cfg.model.student.type == 'EncoderDecoder'
    assert cfg.model.student.backbone.depth == 18
    assert cfg.model.student.pretrained == 'open-mmlab://resnet18_v1c'
    assert cfg.model.teacher.config == (
        'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py')
    assert cfg.model.teacher.checkpoint == TEACHER_URL
    assert cfg.train_cfg.max_iters == 80000
    assert cfg.train_dataloader.dataset.type == 'CityscapesDataset'
    assert cfg.train_dataloader.dataset.data_root == 'data/cityscapes/'
    assert cfg.train_dataloader.dataset.pipeline[3].crop_size == (512, 1024)


def test_train_test_and_resume(cityscapes, tmp_path):
    root, teacher = cityscapes
    work_dir = tmp_path / 'work'
    options = data_options(root, teacher)
    train_log = run_tool(
        'tools/train.py', TINY_CONFIG, '--work-dir', str(work_dir),
        '--cfg-options', *options, 'train_cfg.max_iters=2',
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1')
    assert re.search(r'Iter\(train\) \[2/2\].*distill\.loss_kd: [\d.]+',
                     train_log)
    assert 'aux.loss_ce' in train_log and 'decode.loss_ce' in train_log

    checkpoint = torch.load(work_dir / 'iter_2.pth', weights_only=True)
    keys = checkpoint['state_dict'].keys()
    assert keys and all(key.startswith('student.') for key in keys)

    # tools/test.py tests the student alone: same weights, same val set,
    # so the same mIoU as the validation that closed training
    test_log = run_tool('tools/test.py', TINY_CONFIG,
                        str(work_dir / 'iter_2.pth'), '--work-dir',
                        str(tmp_path / 'test'), '--cfg-options', *options)
    assert last_metrics(test_log, 'Iter(test)') == last_metrics(
        train_log, 'Iter(val)')
    assert 'teacher' not in test_log.split('Iter(test)')[0].lower()

    # a plain student checkpoint (student.* keys unprefixed) tests the same
    plain = {k[len('student.'):]: v for k, v in checkpoint['state_dict'].items()}
    torch.save({'state_dict': plain, 'meta': checkpoint['meta']},
               tmp_path / 'student.pth')
    plain_log = run_tool('tools/test.py', TINY_CONFIG,
                         str(tmp_path / 'student.pth'), '--work-dir',
                         str(tmp_path / 'test_plain'), '--cfg-options',
                         *options)
    assert last_metrics(plain_log, 'Iter(test)') == last_metrics(
        test_log, 'Iter(test)')

    # --resume picks up iter_2.pth (loaded with weights_only) and goes on
    resume_log = run_tool(
        'tools/train.py', TINY_CONFIG, '--work-dir', str(work_dir),
        '--resume', '--cfg-options', *options, 'train_cfg.max_iters=3',
        'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1')
    assert 'Resuming from the latest good checkpoint ' \
        f'{work_dir}/iter_2.pth' in resume_log
    assert 'resumed epoch: 0, iter: 2' in resume_log
    assert 'Iter(train) [3/3]' in resume_log
    assert 'Iter(train) [1/3]' not in resume_log
    assert 'missing keys' not in resume_log
    assert (work_dir / 'iter_3.pth').exists()


def test_tensorboard_gets_the_losses_and_the_validation(cityscapes,
                                                        tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    root, teacher = cityscapes
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', TINY_CONFIG, '--work-dir', str(work_dir),
             '--tensorboard', '--cfg-options', *data_options(root, teacher),
             'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
             'default_hooks.logger.interval=1')
    events = glob.glob(str(work_dir / '*/vis_data/events.out.tfevents.*'))
    assert len(events) == 1
    accumulator = EventAccumulator(events[0])
    accumulator.Reload()
    tags = set(accumulator.Tags()['scalars'])
    assert {'loss', 'decode.loss_ce', 'distill.loss_kd', 'mIoU'} <= tags
    assert [e.step for e in accumulator.Scalars('distill.loss_kd')] == [1, 2]


def test_test_tool_refuses_a_checkpoint_of_another_model(cityscapes, tmp_path):
    root, teacher = cityscapes
    result = subprocess.run(
        [sys.executable, 'tools/test.py', TINY_CONFIG, str(teacher),
         '--work-dir', str(tmp_path), '--cfg-options',
         *data_options(root, teacher)],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert f'checkpoint {teacher} does not fit the model' in result.stderr


@pytest.mark.parametrize(
    'path', sorted(glob.glob(osp.join(ROOT, 'tools', '*.py'))),
    ids=osp.basename)
def test_every_tool_compiles(path):
    # the long-running tools (demo, benchmarks) run nowhere else in the tests
    py_compile.compile(path, doraise=True)


# ---- missing inputs: one line each, before any model is built --------------


def failing_tool(*args, cwd=ROOT):
    result = subprocess.run([sys.executable, *args], cwd=cwd,
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    return [line for line in result.stderr.splitlines()
            if line.startswith('error: ')]


def test_train_names_a_missing_dataset_and_where_to_get_it(tmp_path):
    errors = failing_tool(
        osp.join(ROOT, 'tools/train.py'),
        osp.join(ROOT, 'configs/pspnet_r101_to_r18_bdd.py'), '--work-dir',
        str(tmp_path / 'work'), cwd=tmp_path)
    hint = ('(docs/cityscapes.md in the mmkd repository shows how to '
            'prepare Cityscapes)')
    assert errors == [
        f'error: train_dataloader: data/cityscapes/ does not exist {hint}',
        f'error: val_dataloader: data/cityscapes/ does not exist {hint}']
    assert not (tmp_path / 'work').exists()  # no runner was built


def test_a_missing_split_folder_and_teacher_file_are_named(tmp_path):
    root = tmp_path / 'digitscapes'
    for folder in ('leftImg8bit/train', 'gtFine/train', 'leftImg8bit/val'):
        (root / folder).mkdir(parents=True)
    teacher = tmp_path / 'absent.pth'
    errors = failing_tool(
        'tools/train.py', 'configs/digitscapes/'
        'pspnet_r18w16_to_r18w8_digitscapes_kd.py', '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'model.teacher.checkpoint={teacher}')
    image_dir, label_dir = root / 'leftImg8bit/train', root / 'gtFine/train'
    assert errors == [
        f'error: train_dataloader: {image_dir} holds no *_leftImg8bit.png '
        f'image (expected {image_dir}/**/<name>_leftImg8bit.png with '
        f'{label_dir}/**/<name>_gtFine_labelTrainIds.png) (python '
        'tools/make_digitscapes.py data/digitscapes, or '
        'mmkd.datasets.write_digitscapes, builds it)',
        f'error: val_dataloader: {root}/gtFine/val does not exist (python '
        'tools/make_digitscapes.py data/digitscapes, or '
        'mmkd.datasets.write_digitscapes, builds it)',
        f'error: model.teacher.checkpoint: {teacher} does not exist (train '
        'the teacher first, or point the config at its weights)']


def test_test_names_a_missing_test_split(tmp_path):
    errors = failing_tool(
        'tools/test.py', KD_CONFIG, str(tmp_path / 'x.pth'), '--cfg-options',
        f'test_dataloader.dataset.data_root={tmp_path}')
    assert errors == [
        f'error: test_dataloader: {tmp_path}/leftImg8bit/val does not exist '
        '(docs/cityscapes.md in the mmkd repository shows how to prepare '
        'Cityscapes)']


# ---- configs in the package -------------------------------------------------


def test_packaged_configs_resolve_from_any_directory(tmp_path, monkeypatch):
    from mmkd.models.builder import model_config
    errors = failing_tool(
        osp.join(ROOT, 'tools/train.py'), 'mmkd::pspnet_r101_to_r18_bdd.py',
        '--work-dir', str(tmp_path / 'work'), cwd=tmp_path)
    # the config was found: the tool got as far as checking its data
    assert errors[0].startswith(
        'error: train_dataloader: data/cityscapes/ does not exist')
    path, _ = Config._get_cfg_path(
        'mmkd::digitscapes/pspnet_r18w16_to_r18w8_digitscapes_kd.py', '')
    assert osp.samefile(path, osp.join(
        ROOT, 'configs/digitscapes/pspnet_r18w16_to_r18w8_digitscapes_kd.py'))
    # a distill config names its teacher's config in the package, so that
    # it builds from anywhere
    monkeypatch.chdir(tmp_path)
    teacher = Config.fromfile(path).model.teacher
    assert teacher.config == 'mmkd::digitscapes/pspnet_r18w16_digitscapes.py'
    assert model_config(teacher.config).backbone.base_channels == 16
