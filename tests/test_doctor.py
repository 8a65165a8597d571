"""tools/distill_doctor.py (mmkd.doctor): it reports on every DigitScapes
distiller config and on the tiny Cityscapes one, and catches the broken
setups it is for: wrong normalisation, wrong class count, an untrained
teacher, a loss weight far too large."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmkd.datasets.digitscapes import write_digit_patches, write_digitscapes
from mmkd.doctor import MAX_GRADIENT_RATIO, diagnose, near_chance
from mmkd.models.builder import save_initial_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DIGITSCAPES = osp.join(ROOT, 'configs', 'digitscapes')
DISTILLERS = sorted(glob.glob(osp.join(DIGITSCAPES, '*_to_*.py')))
KD = osp.join(DIGITSCAPES, 'pspnet_r18w16_to_r18w8_digitscapes_kd.py')
DIST = osp.join(DIGITSCAPES, 'pspnet_r18w16_to_r18w8_digitscapes_dist.py')
DIGITS = osp.join(ROOT, 'configs', 'digits')
CLS_DISTILLERS = sorted(glob.glob(osp.join(DIGITS, '*_to_*.py')))
EXAMPLE = osp.join(ROOT, 'configs', 'examples',
                   'fcn_mobilenetv2_from_pspnet_digitscapes.py')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """cfg-options pointing a DigitScapes distiller at tiny written data, a
    random teacher and a random pretrained student backbone."""
    directory = tmp_path_factory.mktemp('doctor')
    data = write_digitscapes(str(directory / 'data'))
    teacher = directory / 'teacher.pth'
    save_initial_checkpoint(Config.fromfile(KD).model.teacher.config,
                            str(teacher))
    backbone = directory / 'student_backbone.pth'
    save_initial_checkpoint(
        osp.join(DIGITSCAPES, 'pretrain', 'pretrain_r18w8_digit_patches.py'),
        str(backbone), scope='mmpretrain', seed=1)
    options = {f'{loader}.dataset.data_root': data
               for loader in ('train_dataloader', 'val_dataloader',
                              'test_dataloader')}
    options.update({
        'model.teacher.checkpoint': str(teacher),
        'model.student.backbone.init_cfg.checkpoint': str(backbone),
        'train_dataloader.batch_size': 4, 'val_dataloader.batch_size': 4})
    return options


def run(config, options, **changes):
    return diagnose(config, dict(options, **changes), val_batches=2,
                    train_steps=2, device='cpu')


def checks(report):
    return {check.name: check for check in report.checks}


def test_near_chance_is_no_clear_gain_on_the_most_frequent_class():
    # 60 % of pixels are the majority class: 0.64 is within a tenth of the
    # remaining 40 points, 0.70 is not
    assert near_chance(0.60, 0.60) and near_chance(0.63, 0.60)
    assert not near_chance(0.65, 0.60)
    assert near_chance(0.10, 0.05) and not near_chance(0.96, 0.37)


@pytest.mark.parametrize('path', DISTILLERS, ids=osp.basename)
def test_reports_on_every_digitscapes_distiller(path, setup):
    report = run(path, setup)
    found = checks(report)
    assert list(found) == ['setup', 'build', 'teacher', 'pairs', 'balance',
                           'steps']
    losses = Config.fromfile(path).model.distill_losses
    assert set(found['pairs'].details['pairs']) == set(losses)
    assert set(found['balance'].details['losses']) == set(losses)
    for name, figures in found['balance'].details['losses'].items():
        # the weight that balances is the weight over the ratio
        if 0 < figures['gradient_ratio'] < float('inf'):
            assert figures['balanced_loss_weight'] == pytest.approx(
                figures['loss_weight'] / figures['gradient_ratio'])
    assert found['steps'].status == 'ok'
    assert found['steps'].details['steps'] == 2
    assert found['steps'].details['projected_hours'] == pytest.approx(
        found['steps'].details['seconds_per_iter'] *
        Config.fromfile(path).train_cfg.max_iters / 3600)
    # the teacher has its initial weights: near chance, an error
    assert found['teacher'].status == 'error'
    assert 'near chance' in found['teacher'].message
    assert not report.ok


@pytest.fixture(scope='module')
def cls_setup(tmp_path_factory):
    """The same for the digit-patch classifiers: 64 patches a split."""
    directory = tmp_path_factory.mktemp('doctor_cls')
    data = write_digit_patches(str(directory / 'patches'))
    teacher = directory / 'teacher.pth'
    save_initial_checkpoint(osp.join(DIGITS, 'resnet18w16_digits.py'),
                            str(teacher), scope='mmpretrain')
    options = {'model.teacher.checkpoint': str(teacher)}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = data
        options[f'{loader}.dataset.indices'] = 64
    return options


@pytest.mark.parametrize('path', CLS_DISTILLERS, ids=osp.basename)
def test_reports_on_every_digits_distiller(path, cls_setup):
    report = run(path, cls_setup)
    found = checks(report)
    assert found['build'].status == 'ok'
    assert 'top-1' in found['teacher'].message
    assert found['teacher'].details['counted'] == 64  # one image each
    cfg = Config.fromfile(path)
    assert set(found['balance'].details['losses']) == set(
        cfg.model.distill_losses)
    assert found['steps'].status == 'ok'
    # an epoch-based schedule: epochs times the 64 patches' batches
    batches = -(-64 // cfg.train_dataloader.batch_size)
    assert found['steps'].details['max_iters'] == \
        cfg.train_cfg.max_epochs * batches


def test_a_loss_weight_1000_times_too_large(setup):
    found = checks(run(DIST, setup))
    ratio = found['balance'].details['losses']['loss_dist'][
        'gradient_ratio']
    assert found['balance'].status == 'ok'
    weight = Config.fromfile(DIST).model.distill_losses.loss_dist.loss_weight
    found = checks(run(DIST, setup, **{
        'model.distill_losses.loss_dist.loss_weight': 1000 * weight}))
    assert found['balance'].status == 'error'
    assert "'loss_dist'" in found['balance'].message
    assert 'far too large' in found['balance'].message
    big = found['balance'].details['losses']['loss_dist']
    assert big['gradient_ratio'] == pytest.approx(1000 * ratio, rel=1e-3)
    assert big['gradient_ratio'] > MAX_GRADIENT_RATIO


def test_wrong_normalisation(setup):
    report = run(KD, setup, **{
        'model.student.data_preprocessor.mean': [0.0, 0.0, 0.0]})
    found = checks(report)
    assert found['build'].status == 'error'
    assert 'normalisation' in found['build'].details['cause']
    assert "normalisation: the student's data_preprocessor mean is " \
        '[0.0, 0.0, 0.0]' in found['setup'].message
    assert not report.ok


def test_wrong_class_count(setup):
    report = run(KD, setup, **{'model.student.decode_head.num_classes': 12,
                               'model.student.auxiliary_head.num_classes':
                               12})
    found = checks(report)
    assert found['build'].status == 'error'
    assert 'class count' in found['build'].details['cause']
    assert '12' in found['build'].message


def test_reduce_zero_label_against_the_teachers_data(setup):
    found = checks(run(KD, setup, **{
        'train_dataloader.dataset.reduce_zero_label': True,
        'val_dataloader.dataset.reduce_zero_label': True}))
    assert found['setup'].status == 'warning'
    assert 'reduce_zero_label: True for the data, False' in \
        found['setup'].message


def test_missing_data_is_named(setup, tmp_path):
    report = run(KD, setup, **{
        'train_dataloader.dataset.data_root': str(tmp_path / 'nowhere')})
    assert [check.name for check in report.checks] == ['data']
    assert 'nowhere' in report.checks[0].message


def test_the_tool_prints_text_writes_json_and_exits_1_on_errors(
        setup, tmp_path):
    options = [f'{key}={value}' for key, value in setup.items()]
    out = tmp_path / 'report.json'
    result = subprocess.run(
        [sys.executable, 'tools/distill_doctor.py', KD, '--val-batches', '1',
         '--steps', '2', '--device', 'cpu', '--json', str(out),
         '--cfg-options', *options],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr[-2000:]
    assert '[  error] teacher: the teacher is near chance' in result.stdout
    assert '[     ok] steps:' in result.stdout
    report = json.loads(out.read_text())
    assert report['ok'] is False
    assert [check['name'] for check in report['checks']] == [
        'setup', 'build', 'teacher', 'pairs', 'balance', 'steps']


def test_the_worked_example_of_a_new_pair(setup):
    """docs/own_models.md: an FCN-MobileNetV2 student of the DigitScapes
    teacher, with a feature pair through a connector."""
    options = {key: value for key, value in setup.items()
               if 'student' not in key}
    found = checks(run(EXAMPLE, options))
    assert found['build'].status == 'ok'
    pairs = found['pairs'].details['pairs']
    assert pairs['loss_feat']['student'] == 'decode_head.convs'
    # 32 channels through the connector to the teacher's 64, at 1/8
    assert pairs['loss_feat']['before'] == [[4, 32, 8, 16], [4, 64, 8, 16]]
    assert pairs['loss_feat']['after'] == [[4, 64, 8, 16], [4, 64, 8, 16]]
    assert found['balance'].status == 'ok'
    assert found['steps'].status == 'ok'
