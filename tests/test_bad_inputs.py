"""Bad input, one case per fault: checkpoints from URLs that would run code,
damaged checkpoints, settings that are not numbers a loss can take, data
checks under tools/test.py and in exported configs, and split folders
with nothing in them. What already held is tested where it lives:
teacher checkpoints and local pickles in test_reliability.py, bad samples
in test_data_checks.py, exact resume in test_resume.py, wrong shapes and
module paths in test_distillers.py and test_feature_distill.py;
docs/faq.md lists them all."""
import functools
import glob
import http.server
import os
import os.path as osp
import re
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.registry import MODELS as ROOT_MODELS

from conftest import distiller_cfg, flip_tensor_bytes, truncate
from mmkd import checkpoint as checkpoint_module
from mmkd.export import exported_config, student_config
from mmkd.runner import InputError, check_inputs
from mmkd.checkpoint import (CheckpointError, add_checksum,
                             latest_good_checkpoint, load_checkpoint_file)
from mmkd.models.settings import SettingError
from mmkd.models.builder import save_initial_checkpoint
from mmkd.synthetic import write_cityscapes_layout

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(ROOT, 'configs', 'demo', 'pspnet_r101_to_r18_kd_tiny.py')
DIGITSCAPES_KD = osp.join(ROOT, 'configs', 'digitscapes',
                          'pspnet_r18w16_to_r18w8_digitscapes_kd.py')


class RunsCode:
    """Unpickled by the full unpickler, it creates ``witness``."""

    def __init__(self, witness):
        self.witness = str(witness)

    def __reduce__(self):
        return os.makedirs, (self.witness, )


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A loopback HTTP server (127.0.0.1, a free port) serving
    ``tmp_path/served``; stopped when the test ends. ``TORCH_HOME`` is the
    test's own, so that nothing comes from an earlier download."""
    served = tmp_path / 'served'
    served.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f'http://127.0.0.1:{httpd.server_port}'
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def evil_url(server, tmp_path):
    """The URL of a checkpoint holding a pickle that would create
    ``tmp_path/PWNED``; and that path."""
    served, url = server
    witness = tmp_path / 'PWNED'
    torch.save({'state_dict': {'w': torch.zeros(1)},
                'meta': {'payload': RunsCode(witness)}}, served / 'evil.pth')
    return f'{url}/evil.pth', witness


# ---- checkpoints from URLs ------------------------------------------------


def test_a_url_teacher_that_would_run_code_is_refused_unrun(evil_url, task):
    url, witness = evil_url
    with pytest.raises(CheckpointError) as error:
        ROOT_MODELS.build(distiller_cfg(url, task=task))
    assert f'checkpoint {url} (downloaded to ' in str(error.value)
    assert 'holds Python objects' in str(error.value)
    assert not witness.exists()


@pytest.mark.parametrize('prefix', ['', 'open-mmlab://'])
def test_mmengine_url_loads_are_weights_only(evil_url, prefix, monkeypatch):
    """``load_from``, ``--resume URL`` and ``Pretrained`` backbones load
    through mmengine's ``CheckpointLoader``: by URL, or by an
    ``open-mmlab://`` name that mmengine resolves to one."""
    from mmengine.runner import checkpoint as mmengine_checkpoint
    url, witness = evil_url
    name = url
    if prefix:
        monkeypatch.setattr(mmengine_checkpoint, 'get_external_models',
                            lambda: {'evil': url})
        name = prefix + 'evil'
    with pytest.raises(CheckpointError, match='holds Python objects'):
        mmengine_checkpoint.CheckpointLoader.load_checkpoint(name)
    assert not witness.exists()


def run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def tiny_cityscapes(tmp_path_factory):
    """The tiny Cityscapes KD config's data and a teacher checkpoint, as
    ``--cfg-options``; a checkpoint of its student."""
    root = tmp_path_factory.mktemp('cityscapes')
    write_cityscapes_layout(str(root), images_per_city=1, size=(64, 128))
    teacher = root / 'teacher.pth'
    save_initial_checkpoint(
        'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        str(teacher))
    student = root / 'student.pth'
    save_initial_checkpoint(Config.fromfile(TINY_CONFIG).model.student,
                           str(student))
    options = [f'{loader}.dataset.data_root={root}' for loader in
               ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    return root, options + [f'model.teacher.checkpoint={teacher}'], student


TOOL_CALLS = {
    'train --resume URL': lambda url, options, work: [
        'tools/train.py', TINY_CONFIG, '--work-dir', work, '--resume', url,
        '--cfg-options', *options],
    'train load_from': lambda url, options, work: [
        'tools/train.py', TINY_CONFIG, '--work-dir', work, '--cfg-options',
        *options, f'load_from={url}'],
    'test': lambda url, options, work: [
        'tools/test.py', TINY_CONFIG, url, '--work-dir', work,
        '--cfg-options', *options],
    'export_student': lambda url, options, work: [
        'tools/export_student.py', url, osp.join(work, 'student.pth')],
    'visualize': lambda url, options, work: [
        'tools/visualize.py', TINY_CONFIG, url, 'image.png', '--out', work],
}


@pytest.mark.parametrize('call', list(TOOL_CALLS))
def test_every_tool_refuses_a_url_checkpoint_that_would_run_code(
        call, evil_url, tiny_cityscapes, tmp_path):
    url, witness = evil_url
    _, options, _ = tiny_cityscapes
    result = run(*TOOL_CALLS[call](url, options, str(tmp_path / 'work')))
    assert result.returncode != 0
    assert f'checkpoint {url} (downloaded to ' in result.stderr
    assert 'holds Python objects' in result.stderr
    assert not witness.exists()


def test_a_url_checkpoint_is_downloaded_once_and_loads_as_a_file(
        server, tmp_path):
    served, url = server
    good = add_checksum({'state_dict': {'w': torch.arange(3.)}})
    torch.save(good, served / 'good.pth')
    loaded = load_checkpoint_file(f'{url}/good.pth')
    assert torch.equal(loaded['state_dict']['w'], torch.arange(3.))
    cached = tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'good.pth'
    assert cached.is_file()
    (served / 'good.pth').unlink()  # a second load needs no server
    assert torch.equal(load_checkpoint_file(f'{url}/good.pth')[
        'state_dict']['w'], torch.arange(3.))


# ---- settings -------------------------------------------------------------


BAD_SETTINGS = [
    (dict(type='KDLoss', loss_weight=-1),
     'KDLoss: loss_weight must be a finite number >= 0, got -1'),
    (dict(type='KDLoss', loss_weight='1.0'),
     "KDLoss: loss_weight must be a finite number >= 0, got '1.0' (a str)"),
    (dict(type='KDLoss', loss_weight=float('nan')),
     'KDLoss: loss_weight must be a finite number >= 0, got nan'),
    (dict(type='KDLoss', tau='4'),
     "KDLoss: tau must be a finite number > 0, got '4' (a str)"),
    (dict(type='KDLoss', tau=0),
     'KDLoss: tau must be a finite number > 0, got 0'),
    (dict(type='CWDLoss', tau=float('inf')),
     'CWDLoss: tau must be a finite number > 0, got inf'),
    (dict(type='BDDLoss', reverse_weight=-0.3),
     'BDDLoss: reverse_weight must be a finite number >= 0, got -0.3'),
    (dict(type='BDDLoss', tau_reverse=-4),
     'BDDLoss: tau_reverse must be a finite number > 0, got -4'),
    (dict(type='DISTLoss', gamma=True),
     'DISTLoss: gamma must be a finite number >= 0, got True (a bool)'),
    (dict(type='PCDLoss', num_stages=2.5),
     'PCDLoss: num_stages must be an integer >= 1, got 2.5'),
    (dict(type='MSELoss', loss_weight=None),
     'MSELoss: loss_weight must be a finite number >= 0, got None '
     '(a NoneType)'),
]


@pytest.mark.parametrize('cfg,message', BAD_SETTINGS,
                         ids=[m.split(',')[0] for _, m in BAD_SETTINGS])
def test_a_bad_loss_setting_is_refused_when_built(cfg, message):
    with pytest.raises(SettingError, match=f'^{re.escape(message)}$'):
        ROOT_MODELS.build(dict(cfg, _scope_='mmkd'))


def test_a_bad_connector_distiller_or_hook_setting_is_refused(
        teacher_checkpoint):
    from mmkd.hooks import DistillScheduleHook
    with pytest.raises(SettingError, match='ConvConnector: out_channels '
                       "must be an integer >= 1, got '8' \\(a str\\)"):
        ROOT_MODELS.build(dict(type='mmkd.ConvConnector', in_channels=8,
                               out_channels='8'))
    with pytest.raises(SettingError, match='SegDistiller: '
                       'distill_ignore_index must be an integer >= 0, got '
                       '-1'):
        ROOT_MODELS.build(distiller_cfg(teacher_checkpoint,
                                        distill_ignore_index=-1))
    with pytest.raises(SettingError, match='DistillScheduleHook: '
                       'warmup_iters must be an integer >= 0, got -5'):
        DistillScheduleHook(warmup_iters=-5)


# ---- data checks under tools/test.py and in exported configs ------------


def loaders(cfg):
    return {transform['type'] for key in ('val_dataloader', 'test_dataloader')
            for transform in cfg[key].dataset.pipeline}


def test_the_students_config_keeps_the_checked_loading():
    cfg = student_config(Config.fromfile(DIGITSCAPES_KD))
    assert cfg.model.type == 'EncoderDecoder'
    assert {'mmkd.LoadCheckedImage', 'mmkd.LoadCheckedAnnotations'} <= \
        loaders(cfg)
    assert 'mmkd' in cfg.custom_imports.imports
    assert all(not hook['type'].startswith('mmkd.')
               for hook in cfg.get('custom_hooks', []))


def test_an_exported_config_imports_mmkd_only_for_what_names_it():
    digitscapes = exported_config(Config.fromfile(DIGITSCAPES_KD))
    assert digitscapes.test_dataloader.dataset.type == \
        'mmkd.DigitScapesDataset'
    assert 'mmkd' in digitscapes.custom_imports.imports
    assert {'LoadImageFromFile', 'LoadAnnotations'} <= loaders(digitscapes)
    cityscapes = exported_config(Config.fromfile(TINY_CONFIG))
    assert 'custom_imports' not in cityscapes
    assert 'mmkd' not in cityscapes.pretty_text


def test_the_test_tool_checks_the_labels_under_a_distiller_config(
        tiny_cityscapes, tmp_path):
    root, options, student = tiny_cityscapes
    label = sorted(glob.glob(
        f'{root}/gtFine/val/*/*_gtFine_labelTrainIds.png'))[0]
    original = cv2.imread(label, cv2.IMREAD_UNCHANGED)
    broken = original.copy()
    broken[0, 0] = 200
    cv2.imwrite(label, broken)
    try:
        result = run('tools/test.py', TINY_CONFIG, str(student),
                     '--work-dir', str(tmp_path), '--cfg-options', *options)
    finally:
        cv2.imwrite(label, original)
    assert result.returncode != 0
    assert (f'label map {label}: values [200] are neither classes [0, 19) '
            'nor the ignore index 255') in result.stderr


# ---- split folders with nothing to read ---------------------------------


def digitscapes_split(tmp_path, images=2):
    """A DigitScapes-layout train split with ``images`` image/label
    pairs; the config of the DigitScapes KD run on it."""
    for index in range(images):
        stem = f'digitown_000000_{index:06d}'
        for folder, suffix, array in (
                ('leftImg8bit', '_leftImg8bit.png',
                 np.zeros((64, 128, 3), np.uint8)),
                ('gtFine', '_gtFine_labelTrainIds.png',
                 np.zeros((64, 128), np.uint8))):
            os.makedirs(tmp_path / folder / 'train' / 'digitown',
                        exist_ok=True)
            cv2.imwrite(str(tmp_path / folder / 'train' / 'digitown' /
                            f'{stem}{suffix}'), array)
    os.makedirs(tmp_path / 'gtFine' / 'train', exist_ok=True)
    os.makedirs(tmp_path / 'leftImg8bit' / 'train', exist_ok=True)
    cfg = Config.fromfile(DIGITSCAPES_KD)
    cfg.train_dataloader.dataset.data_root = str(tmp_path)
    cfg.model.teacher.checkpoint = str(tmp_path / 'teacher.pth')
    (tmp_path / 'teacher.pth').touch()
    return cfg


def test_an_empty_split_folder_is_refused_naming_it(tmp_path):
    cfg = digitscapes_split(tmp_path, images=0)
    with pytest.raises(InputError) as error:
        check_inputs(cfg, ['train_dataloader'])
    folder = osp.join(str(tmp_path), 'leftImg8bit/train')
    assert str(error.value) == (
        f'error: train_dataloader: {folder} holds no *_leftImg8bit.png '
        f'image (expected {folder}/**/<name>_leftImg8bit.png with '
        f'{osp.join(str(tmp_path), "gtFine/train")}/**/<name>'
        '_gtFine_labelTrainIds.png) (python tools/make_digitscapes.py '
        'data/digitscapes, or mmkd.datasets.write_digitscapes, builds it)')


def test_images_without_label_maps_are_refused_naming_one(tmp_path):
    cfg = digitscapes_split(tmp_path, images=3)
    missing = tmp_path / 'gtFine/train/digitown' / \
        'digitown_000000_000001_gtFine_labelTrainIds.png'
    missing.unlink()
    with pytest.raises(InputError, match=(
            f'train_dataloader: 1 of the 3 images of '
            f'{tmp_path}/leftImg8bit/train have no label map, e.g. '
            f'{missing} ')):
        check_inputs(cfg, ['train_dataloader'])
    missing.touch()
    check_inputs(cfg, ['train_dataloader'])  # complete: no complaint


# ---- checkpoint integrity -------------------------------------------------


def training_checkpoint(path, step):
    """A checkpoint with what mmengine's training checkpoints hold (a
    message hub with history buffers and numpy values), checksummed."""
    history = HistoryBuffer()
    history.update(np.float64(0.5), 2)
    checkpoint = {
        'meta': {'iter': step, 'seed': 0, 'cfg': 'x = 1'},
        'state_dict': {'w': torch.full((64, 64), float(step))},
        'message_hub': {'log_scalars': {'train/loss': history},
                        'runtime_info': {'iter': step,
                                         'lr': np.float64(0.01)}},
        'optimizer': {'state': {0: {'momentum_buffer': torch.ones(64, 64)}},
                      'param_groups': [{'lr': 0.01, 'params': [0]}]},
    }
    torch.save(add_checksum(checkpoint), path)
    return str(path)


def test_a_checksummed_checkpoint_loads_and_damage_is_named(tmp_path):
    path = training_checkpoint(tmp_path / 'iter_2.pth', 2)
    loaded = load_checkpoint_file(path)  # the checksum survives a load
    assert torch.equal(loaded['state_dict']['w'], torch.full((64, 64), 2.))
    flip_tensor_bytes(path)
    with pytest.raises(CheckpointError, match=f'^checkpoint {path} fails '
                       'its checksum'):
        load_checkpoint_file(path)
    truncate(path)
    with pytest.raises(CheckpointError, match=f'^cannot read checkpoint '
                       f'{path} \\(truncated or not a checkpoint\\?\\)'):
        load_checkpoint_file(path)


def test_a_checkpoint_without_a_checksum_still_loads(tmp_path):
    torch.save({'state_dict': {'w': torch.ones(2)}}, tmp_path / 'zoo.pth')
    assert load_checkpoint_file(str(tmp_path / 'zoo.pth'))['state_dict']


@pytest.fixture
def warnings_logged(monkeypatch):
    logged = []
    monkeypatch.setattr(checkpoint_module, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    return logged


def work_dir_with(tmp_path, steps, latest=None):
    """A work dir with checkpoints at ``steps`` and ``last_checkpoint``
    naming ``latest`` (default: the last step; '' for an empty file)."""
    for step in steps:
        training_checkpoint(tmp_path / f'iter_{step}.pth', step)
    latest = str(tmp_path / f'iter_{steps[-1]}.pth') if latest is None \
        else latest
    (tmp_path / 'last_checkpoint').write_text(latest)
    return str(tmp_path)


@pytest.mark.parametrize('damage', [flip_tensor_bytes, truncate])
def test_resume_skips_a_damaged_latest_checkpoint_naming_both(
        tmp_path, damage, warnings_logged):
    work_dir = work_dir_with(tmp_path, [2, 4, 6])
    damage(tmp_path / 'iter_6.pth')
    assert latest_good_checkpoint(work_dir) == str(tmp_path / 'iter_4.pth')
    assert warnings_logged[0].startswith(
        f'not resuming from {tmp_path}/iter_6.pth: ')
    assert warnings_logged[1] == (f'resuming from {tmp_path}/iter_4.pth '
                                  f'instead of the newer {tmp_path}/'
                                  'iter_6.pth')


@pytest.mark.parametrize('latest', ['', 'work_dirs/gone/iter_9.pth'],
                         ids=['empty', 'dangling'])
def test_an_empty_or_dangling_last_checkpoint_is_treated_as_absent(
        tmp_path, latest, warnings_logged):
    work_dir = work_dir_with(tmp_path, [2, 4], latest=latest)
    assert latest_good_checkpoint(work_dir) == str(tmp_path / 'iter_4.pth')
    pointer = tmp_path / 'last_checkpoint'
    assert warnings_logged == [
        f'{pointer} is empty: treated as absent' if not latest else
        f'{pointer} names {latest}, which does not exist: treated as absent']


def test_resume_from_a_work_dir_of_damaged_checkpoints_only_stops(tmp_path):
    work_dir = work_dir_with(tmp_path, [2])
    truncate(tmp_path / 'iter_2.pth')
    with pytest.raises(CheckpointError, match=f'no checkpoint of {work_dir} '
                       f'can be resumed from: {work_dir}/iter_2.pth'):
        latest_good_checkpoint(work_dir)
    assert latest_good_checkpoint(str(tmp_path / 'fresh')) is None
