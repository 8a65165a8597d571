"""The Cityscapes workflow with our tools, on a small dataset in the real
layout (polygon files, label maps drawn by cityscapesscripts) and the real
PSPNet-R101 -> R18 KD config shrunk to 64x128 crops: conversion, training
with teacher validation, official evaluation, student export, and a
two-process distributed run."""
import argparse
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from cityscapesscripts.preparation.json2labelImg import json2labelImg
from mmengine.config import Config
from PIL import Image

import mmkd  # noqa: F401  (checkpoint allowlist, compat for mmseg.apis)
from mmkd.checkpoint import CHECKSUM_KEY
from mmkd.models.builder import save_initial_checkpoint
from mmkd.synthetic import write_cityscapes_layout

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(ROOT, 'configs', 'demo',
                       'pspnet_r101_to_r18_kd_tiny.py')
TEACHER_CONFIG = 'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py'


def run(*args, env=None, check=True):
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                            env=env)
    log = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, log[-6000:]
    return result.returncode, log


def run_tool(*args, **kwargs):
    return run(sys.executable, *args, **kwargs)[1]


def data_options(root, teacher):
    return [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')] + [
                               f'model.teacher.checkpoint={teacher}']


def metrics(log, marker):
    """The figures of the last log line holding ``marker``."""
    line = [line for line in log.splitlines() if marker in line][-1]
    return {name: float(value) for name, value in
            re.findall(r'([\w/]+): (-?[\d.]+)', line.split(marker, 1)[1])}


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('cityscapes')
    write_cityscapes_layout(str(root), images_per_city=2)
    teacher = root / 'teacher.pth'
    save_initial_checkpoint(TEACHER_CONFIG, str(teacher))
    return root, teacher


@pytest.fixture(scope='module')
def trained(dataset, tmp_path_factory):
    """Two iterations of KD with the teacher validated before training."""
    root, teacher = dataset
    work_dir = tmp_path_factory.mktemp('work')
    log = run_tool(
        'tools/train.py', TINY_CONFIG, '--work-dir', str(work_dir),
        '--cfg-options', *data_options(root, teacher),
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.logger.interval=1', 'custom_hooks.0.enabled=True')
    return work_dir / 'iter_2.pth', log


# ---- data preparation ------------------------------------------------------


def test_converter_writes_what_cityscapesscripts_draws(tmp_path):
    root = tmp_path / 'cityscapes'
    write_cityscapes_layout(str(root), images_per_city=3, label_maps=False)
    polygons = sorted(glob.glob(str(root / 'gtFine/*/*/*_polygons.json')))
    assert len(polygons) == 9
    assert not glob.glob(str(root / 'gtFine/*/*/*_labelTrainIds.png'))

    log = run_tool('tools/convert_cityscapes.py', str(root), '--nproc', '2')
    assert '9 to convert with 2 workers' in log
    for path in polygons:
        ours = path.replace('_polygons.json', '_labelTrainIds.png')
        reference = str(tmp_path / 'reference.png')
        json2labelImg(path, reference, 'trainIds')
        ours_pixels = np.asarray(Image.open(ours))
        np.testing.assert_array_equal(ours_pixels,
                                      np.asarray(Image.open(reference)))
        assert set(np.unique(ours_pixels)) - set(range(19)) == {255}
    assert not glob.glob(str(root / 'gtFine/*/*/*partial*'))

    written = {path: os.stat(path).st_mtime_ns
               for path in glob.glob(str(root / 'gtFine/*/*/*TrainIds.png'))}
    log = run_tool('tools/convert_cityscapes.py', str(root), '--nproc', '1')
    assert '9 already converted, 0 to convert' in log
    assert {path: os.stat(path).st_mtime_ns for path in written} == written


def test_converter_names_what_is_missing(tmp_path):
    def convert_fails(root, message):
        code, log = run(sys.executable, 'tools/convert_cityscapes.py',
                        str(root), check=False)
        assert code != 0
        assert message in log, log[-2000:]

    root = tmp_path / 'cityscapes'
    convert_fails(root, f'{root} is not a directory')
    write_cityscapes_layout(str(root), images_per_city=2, label_maps=False)

    json_file = root / ('gtFine/val/frankfurt/'
                        'frankfurt_000000_000001_gtFine_polygons.json')
    json_file.rename(tmp_path / 'kept.json')
    convert_fails(root, '1 val images have no polygon file (a partial gtFine '
                  'download?): gtFine/val/frankfurt/frankfurt_000000_000001_'
                  'gtFine_polygons.json')
    (tmp_path / 'kept.json').rename(json_file)

    image = root / ('leftImg8bit/train/aachen/'
                    'aachen_000000_000000_leftImg8bit.png')
    image.unlink()
    convert_fails(root, '1 train annotations have no image (a partial '
                  'leftImg8bit download?): leftImg8bit/train/aachen/'
                  'aachen_000000_000000_leftImg8bit.png')

    shutil.rmtree(root / 'leftImg8bit')
    convert_fails(root, f'{root / "leftImg8bit"} is missing: unzip '
                  'leftImg8bit_trainvaltest.zip')


def test_converter_names_a_polygon_file_it_cannot_read(tmp_path):
    root = tmp_path / 'cityscapes'
    write_cityscapes_layout(str(root), images_per_city=1, label_maps=False)
    bad = root / ('gtFine/val/frankfurt/'
                  'frankfurt_000000_000000_gtFine_polygons.json')
    bad.write_text('{"imgHeight": 4, "imgWidth": 4, "objects": '
                   '[{"label": "spaceship", "polygon": [[0, 0], [1, 1]]}]}')
    code, log = run(sys.executable, 'tools/convert_cityscapes.py', str(root),
                    '--nproc', '1', check=False)
    assert code != 0
    assert "Label 'spaceship' not known" in log
    assert f'cityscapesscripts could not convert {bad}' in log


# ---- teacher validation, evaluation, export ---------------------------------


def test_teacher_validation_logs_the_teachers_figures(dataset, trained,
                                                      tmp_path):
    root, teacher = dataset
    _, train_log = trained
    teacher_figures = metrics(train_log, 'Teacher on the validation set:')
    assert set(teacher_figures) == {'teacher/aAcc', 'teacher/mIoU',
                                    'teacher/mAcc'}
    assert train_log.index('Teacher on the validation set') < train_log.index(
        'Iter(train) [1/2]')

    # the same figures as testing the teacher alone on the same data
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model = Config.fromfile(
        Config._get_cfg_path(TEACHER_CONFIG, '')[0]).model
    cfg.model.pretrained = None
    cfg.pop('custom_hooks')
    cfg.dump(str(tmp_path / 'teacher_tiny.py'))
    test_log = run_tool('tools/test.py', str(tmp_path / 'teacher_tiny.py'),
                        str(teacher), '--work-dir', str(tmp_path / 'test'),
                        '--cfg-options', *data_options(root, teacher)[:3])
    alone = metrics(test_log, 'Iter(test) [2/2]')
    assert {f'teacher/{name}': alone[name]
            for name in ('aAcc', 'mIoU', 'mAcc')} == teacher_figures


def test_teacher_validation_is_off_by_default():
    cfg = Config.fromfile(TINY_CONFIG)
    assert cfg.custom_hooks == [
        dict(type='mmkd.ValidateTeacherHook', enabled=False),
        dict(type='mmkd.ResumeRandomStateHook')]


def test_official_evaluation_agrees_with_miou(dataset, trained, tmp_path):
    root, teacher = dataset
    checkpoint, _ = trained
    log = run_tool('tools/test.py', TINY_CONFIG, str(checkpoint), '--work-dir',
                   str(tmp_path / 'test'), '--cityscapes-official',
                   '--cfg-options', *data_options(root, teacher))
    figures = metrics(log, 'Iter(test) [2/2]')
    assert figures['mIoU'] == figures['cityscapes_official/mIoU']
    assert 'cityscapes_official/category_mIoU' in figures
    assert 'per class results' in log
    assert re.search(r'\|\s+road\s+\| [\d.]+ \| [\d.]+ \|', log)
    predictions = glob.glob(
        str(tmp_path / 'test/cityscapes_official/*_leftImg8bit.png'))
    assert len(predictions) == 2  # the two frankfurt val images

    # labelIds that disagree with the labelTrainIds: the tool says so
    copy = tmp_path / 'tampered'
    shutil.copytree(root, copy)
    for label_ids in glob.glob(str(copy / 'gtFine/val/*/*_labelIds.png')):
        Image.fromarray(np.full((128, 256), 7, np.uint8)).save(label_ids)
    code, log = run(sys.executable, 'tools/test.py', TINY_CONFIG,
                    str(checkpoint), '--work-dir', str(tmp_path / 'test2'),
                    '--cityscapes-official', '--cfg-options',
                    *data_options(copy, teacher), check=False)
    assert code != 0
    assert re.search(r'error: mIoU [\d.]+ and the official Cityscapes mIoU '
                     r'[\d.]+ disagree on the same predictions', log)


def test_exported_student_is_a_plain_mmseg_model(dataset, trained, tmp_path):
    from mmseg.apis import inference_model, init_model

    root, teacher = dataset
    checkpoint, _ = trained
    out = tmp_path / 'export' / 'student.pth'
    run_tool('tools/export_student.py', str(checkpoint), str(out))
    config_text = (tmp_path / 'export' / 'student.py').read_text()
    assert 'mmkd' not in config_text
    assert Config.fromfile(str(tmp_path / 'export/student.py')).model.type \
        == 'EncoderDecoder'

    exported = torch.load(out, weights_only=True)
    training = torch.load(checkpoint, weights_only=True)
    assert exported['meta']['dataset_meta'] == training['meta'][
        'dataset_meta']
    model = init_model(str(tmp_path / 'export/student.py'), str(out), 'cpu')
    assert model.load_state_dict(exported['state_dict'],
                                 strict=True).missing_keys == []

    # the distiller's student, as training left it, predicts the same
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.teacher.checkpoint = str(teacher)
    from mmengine.registry import MODELS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        distiller = MODELS.build(cfg.model)
    distiller.load_state_dict(training['state_dict'])
    distiller.student.cfg = model.cfg
    distiller.eval()
    image = sorted(glob.glob(str(root / 'leftImg8bit/val/*/*.png')))[0]
    ours = inference_model(distiller.student, image).seg_logits.data
    theirs = inference_model(model, image).seg_logits.data
    assert torch.equal(ours, theirs)
    assert not torch.equal(ours, inference_model(
        init_model(str(tmp_path / 'export/student.py'), None, 'cpu'),
        image).seg_logits.data)


def test_visualize_draws_a_cityscapes_image(dataset, trained, tmp_path):
    root, teacher = dataset
    checkpoint, _ = trained
    image = sorted(glob.glob(str(root / 'leftImg8bit/val/*/*.png')))[0]
    log = run_tool('tools/visualize.py', TINY_CONFIG, str(checkpoint), image,
                   '--out', str(tmp_path / 'pictures'),
                   '--teacher-checkpoint', str(teacher))
    stem = osp.splitext(osp.basename(image))[0]
    # the ground truth was found (labelTrainIds beside the polygons): each
    # model has its mIoU on the image
    assert re.search(rf'wrote {tmp_path}/pictures/{stem}\.png \(teacher '
                     r'[\d.]+ mIoU, student [\d.]+ mIoU\)', log), log[-2000:]
    assert (tmp_path / 'pictures' / f'{stem}.png').stat().st_size > 0


def test_export_refuses_a_checkpoint_without_a_student(dataset, tmp_path):
    _, teacher = dataset
    code, log = run(sys.executable, 'tools/export_student.py', str(teacher),
                    str(tmp_path / 'out.pth'), '--config', TINY_CONFIG,
                    check=False)
    assert code != 0
    assert f'{teacher} holds no student.* weights' in log
    assert not (tmp_path / 'out.pth').exists()


def test_export_of_a_legacy_pickle_needs_trust(dataset, trained, tmp_path):
    _, teacher = dataset
    checkpoint, _ = trained
    legacy = tmp_path / 'legacy.pth'
    saved = torch.load(checkpoint, weights_only=True)
    saved['meta']['args'] = argparse.Namespace(lr=0.1)  # as old scripts did
    del saved[CHECKSUM_KEY]  # nor did they write one
    torch.save(saved, legacy)
    out = tmp_path / 'export' / 'student.pth'
    code, log = run(sys.executable, 'tools/export_student.py', str(legacy),
                    str(out), check=False)
    assert code != 0 and not out.exists()
    assert f'checkpoint {legacy} holds Python objects' in log
    assert 'tools/export_student.py exports' in log

    log = run_tool('tools/export_student.py', str(legacy), str(out),
                   '--trust-checkpoint')
    assert "left out of the exported meta, as they need the full " \
        "unpickler: ['args']" in log
    exported = torch.load(out, weights_only=True)  # loads without trust
    assert 'args' not in exported['meta']
    assert set(exported['state_dict']) == {
        key[len('student.'):] for key in saved['state_dict']
        if key.startswith('student.')}


# ---- distributed -------------------------------------------------------------


# a feature loss through a connector (R18's PSP bottleneck has 128
# channels, R101's 512), whose parameters DDP must keep equal on all ranks
FEATURE_LOSS = """
model = dict(distill_losses=dict(loss_feat=dict(
    type='CWDLoss', student='decode_head.bottleneck',
    teacher='decode_head.bottleneck',
    connector=dict(type='mmkd.ConvConnector', in_channels=128,
                   out_channels=512))))
"""


@pytest.mark.parametrize('extra, port', [('', 29731), (FEATURE_LOSS, 29732)],
                         ids=['logits', 'connector'])
def test_two_processes_train_one_student(dataset, tmp_path, extra, port):
    root, teacher = dataset
    config = tmp_path / 'rank_weights_config.py'
    config.write_text(
        f"_base_ = ['{TINY_CONFIG}']\n"
        "custom_imports = dict(imports=['mmkd', 'rank_weights'])\n"
        "custom_hooks = [dict(type='SaveRankWeightsHook')]\n" + extra)
    env = dict(os.environ, PORT=str(port),
               PATH=osp.dirname(sys.executable) + os.pathsep +
               os.environ['PATH'],
               PYTHONPATH=osp.join(ROOT, 'tests'))
    _, log = run('tools/dist_train.sh', str(config), '2', '--work-dir',
                 str(tmp_path / 'work'), '--cfg-options',
                 *data_options(root, teacher), 'train_cfg.max_iters=3',
                 'train_cfg.val_interval=3', 'default_hooks.logger.interval=1',
                 env=env)
    assert 'Distributed training: True' in log
    assert 'SyncBN layer configs of the trained model run as BN' in log
    assert 'Iter(train) [3/3]' in log
    ranks = [torch.load(tmp_path / f'work/rank{rank}.pth', weights_only=True)
             for rank in (0, 1)]
    saved = torch.load(tmp_path / 'work/iter_3.pth', weights_only=True)
    for part in ('student', 'connectors'):
        for name, value in ranks[0][part].items():
            if 'running_' in name or 'num_batches' in name:
                continue  # BN statistics: rank-local after the last step
            assert torch.equal(value, ranks[1][part][name]), name
            assert torch.equal(value, saved['state_dict'][f'{part}.{name}'])
    assert bool(ranks[0]['connectors']) == bool(extra)
    for rank in ranks:
        # DDP reduces the gradients of the student's and connectors'
        # parameters, and only those
        assert rank['reduced_parameters'] == rank['trained_parameters'] > 0
        assert rank['reduced_teacher_parameters'] == 0


def test_slurm_scripts_run_the_tools_under_srun(tmp_path):
    """With a stand-in srun that prints its command line: one task per GPU,
    the tool's arguments kept, mmengine's slurm launcher selected."""
    fake = tmp_path / 'srun'
    fake.write_text('#!/bin/sh\necho srun "$@"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}',
               GPUS='16', SRUN_ARGS='--qos high')
    _, log = run('tools/slurm_train.sh', 'gpu', 'kd',
                 'configs/pspnet_r101_to_r18_kd.py', '--amp', env=env)
    assert log.split() == [
        'srun', '-p', 'gpu', '--job-name=kd', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        '--qos', 'high', 'python', '-u', osp.join(ROOT, 'tools', 'train.py'),
        'configs/pspnet_r101_to_r18_kd.py', '--amp', '--launcher', 'slurm']
    env.update(GPUS='2', SRUN_ARGS='')
    _, log = run('tools/slurm_test.sh', 'gpu', 'eval', 'a.py', 'b.pth',
                 '--tta', env=env)
    assert log.split()[4:7] == ['--gres=gpu:2', '--ntasks=2',
                                '--ntasks-per-node=2']
    assert log.split()[-6:] == [osp.join(ROOT, 'tools', 'test.py'), 'a.py',
                                'b.pth', '--tta', '--launcher', 'slurm']
    code, log = run('tools/slurm_test.sh', 'gpu', 'eval', 'a.py', env=env,
                    check=False)
    assert code == 2 and 'usage:' in log
