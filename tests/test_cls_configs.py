"""The classification configs and tools on MMPretrain: every config builds
with its real teacher and student and runs one iteration on a small dataset
in MMPretrain's CustomDataset folder layout; tools/train.py, tools/test.py
(top-1 against a hand count) and tools/export_student.py on the CIFAR-100
KD config."""
import glob
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope, MODELS
from mmengine.runner import Runner

from mmkd.models.builder import build_model
from mmkd.models.builder import save_initial_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'cls', '*_to_*.py')))
CIFAR_KD = osp.join(ROOT, 'configs', 'cls',
                    'resnet50_to_resnet18_cifar100_kd.py')
LOSS_TYPES = {'kd': 'KDLoss', 'bdd': 'BDDLoss', 'dist': 'DISTLoss',
              'pcd': 'PCDLoss', 'dkd': 'DKDLoss', 'kd_ls': 'KDLoss'}
LOAD = dict(type='LoadImageFromFile')


def write_folder_dataset(root, classes=3, per_class=2, size=(40, 48), seed=0):
    """``root/<class>/<n>.png``: MMPretrain's CustomDataset folder layout."""
    rng = np.random.default_rng(seed)
    for label in range(classes):
        (root / f'class_{label}').mkdir(parents=True)
        for index in range(per_class):
            image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            cv2.imwrite(str(root / f'class_{label}' / f'{index}.png'), image)
    return root


def loaded(pipeline):
    """The config's pipeline reading image files: the CIFAR datasets hand
    over arrays, so their pipelines start after loading."""
    pipeline = list(pipeline)
    return pipeline if pipeline[0]['type'] == 'LoadImageFromFile' else [
        LOAD, *pipeline]


@pytest.fixture(scope='module')
def teachers(tmp_path_factory):
    """Written on first use: teacher config -> checkpoint."""
    directory = tmp_path_factory.mktemp('zoo')
    paths = {}

    def checkpoint(config):
        if config not in paths:
            paths[config] = directory / f'{len(paths)}.pth'
            save_initial_checkpoint(config, str(paths[config]),
                                   scope='mmpretrain')
        return paths[config]

    return checkpoint


def test_there_is_a_config_per_dataset_and_method():
    names = {osp.basename(path)[:-3] for path in CONFIGS}
    assert names == {
        f'{pair}_{method}'
        for pair in ('resnet34_to_resnet18_in1k',
                     'resnet50_to_resnet18_cifar100')
        for method in LOSS_TYPES}


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_and_trains_one_step(path, teachers, tmp_path):
    cfg = Config.fromfile(path)
    method = re.split(r'_(?:in1k|cifar100)_', osp.basename(path)[:-3])[1]
    losses = cfg.model.distill_losses
    assert [loss.type for loss in losses.values()] == [LOSS_TYPES[method]]
    assert cfg.model.teacher.checkpoint.startswith(
        'https://download.openmmlab.com/mmclassification/v0/resnet/')
    assert cfg.default_scope == 'mmpretrain'

    cfg.model.teacher.checkpoint = str(teachers(cfg.model.teacher.config))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        distiller = MODELS.build(
            dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
        loader = cfg.train_dataloader
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset = dict(
            type='CustomDataset', data_root=str(
                write_folder_dataset(tmp_path / 'data')),
            pipeline=loaded(loader.dataset.pipeline))
        batch = next(iter(Runner.build_dataloader(loader)))
    hub = MessageHub.get_instance(f'cls-config-{osp.basename(path)}')
    hub.update_info('iter', 0)  # PCD's progress
    hub.update_info('max_iters', 1000)
    hub.update_info('epoch', 0)  # DKD's warm-up
    distiller.train()
    log_vars = distiller.train_step(
        batch, OptimWrapper(torch.optim.SGD(distiller.parameters(), lr=0.01)))
    assert torch.isfinite(log_vars[f'distill.{next(iter(losses))}'])
    assert torch.isfinite(log_vars['cls.loss'])


# ---- the tools on the CIFAR-100 KD config ----------------------------------


def run_tool(*args):
    result = subprocess.run([sys.executable, *args], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout + result.stderr


@pytest.fixture(scope='module')
def cifar_run(teachers, tmp_path_factory):
    """The CIFAR-100 KD config on a 3-class folder dataset, trained for one
    epoch (3 iterations) by tools/train.py."""
    root = tmp_path_factory.mktemp('cifar_run')
    data = write_folder_dataset(root / 'data', size=(32, 32))
    teacher = teachers('mmpretrain::resnet/resnet50_8xb16_cifar100.py')
    config = root / 'cifar_kd_small.py'
    cfg = Config.fromfile(CIFAR_KD)
    loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
    config.write_text(
        f"_base_ = ['{CIFAR_KD}']\n"
        f"model = dict(teacher=dict(checkpoint='{teacher}'))\n"
        f"train_dataloader = dict(**{loader!r}, dataset=dict(_delete_=True, "
        f"type='CustomDataset', data_root='{data}', "
        f"pipeline={loaded(cfg.train_dataloader.dataset.pipeline)!r}))\n"
        f"val_dataloader = dict(**{loader!r}, dataset=dict(_delete_=True, "
        f"type='CustomDataset', data_root='{data}', "
        f"pipeline={loaded(cfg.val_dataloader.dataset.pipeline)!r}))\n"
        "test_dataloader = val_dataloader\n"
        "train_cfg = dict(max_epochs=1)\n")
    log = run_tool('tools/train.py', str(config), '--work-dir',
                   str(root / 'work'), '--cfg-options',
                   'default_hooks.logger.interval=1')
    return root, config, root / 'work' / 'epoch_1.pth', log


def test_train_tool_distils_a_classifier(cifar_run):
    _, _, checkpoint, log = cifar_run
    assert re.search(r'Epoch\(train\) \[1\]\[3/3\].*cls\.loss: [\d.]+.*'
                     r'distill\.loss_kd: [\d.]+', log)
    assert re.search(r'Epoch\(val\) \[1\]\[3/3\]\s+accuracy/top1: [\d.]+',
                     log)
    state_dict = torch.load(checkpoint, weights_only=True)['state_dict']
    assert state_dict and all(k.startswith('student.') for k in state_dict)


def test_top1_of_the_test_tool_is_the_hand_count(cifar_run, tmp_path):
    root, config, checkpoint, _ = cifar_run
    cfg = Config.fromfile(str(config))
    student = build_model(
        dict(cfg.model.student, data_preprocessor=cfg.data_preprocessor),
        'mmpretrain')
    weights = torch.load(checkpoint, weights_only=True)['state_dict']
    student.load_state_dict({k[len('student.'):]: v
                             for k, v in weights.items()})
    student.eval()
    images = sorted(glob.glob(str(root / 'data' / '*' / '*.png')))
    predicted = []
    for image in images:
        pixels = torch.from_numpy(cv2.imread(image)).permute(2, 0, 1)
        data = student.data_preprocessor(dict(inputs=[pixels]), False)
        with torch.no_grad():
            predicted.append(int(student(data['inputs']).argmax()))
    # label 4 of the 6 images with the student's prediction, 2 with another
    labels = [p if i % 3 else (p + 1) % 100 for i, p in enumerate(predicted)]
    (tmp_path / 'test.txt').write_text(''.join(
        f'{osp.relpath(image, root / "data")} {label}\n'
        for image, label in zip(images, labels)))
    log = run_tool(
        'tools/test.py', str(config), str(checkpoint), '--work-dir',
        str(tmp_path / 'test'), '--cfg-options',
        f'test_dataloader.dataset.ann_file={tmp_path / "test.txt"}')
    assert 'accuracy/top1: 66.67' in log  # 4 of 6


def test_exported_classifier_loads_in_mmpretrain(cifar_run, tmp_path):
    from mmpretrain.apis import get_model

    root, config, checkpoint, _ = cifar_run
    out = tmp_path / 'export' / 'resnet18_cifar100.pth'
    run_tool('tools/export_student.py', str(checkpoint), str(out))
    exported_config = tmp_path / 'export' / 'resnet18_cifar100.py'
    assert 'mmkd' not in exported_config.read_text()
    model = get_model(str(exported_config), pretrained=str(out))
    exported = torch.load(out, weights_only=True)['state_dict']
    assert model.load_state_dict(exported, strict=True).missing_keys == []
    training = torch.load(checkpoint, weights_only=True)['state_dict']
    for key, value in model.state_dict().items():
        assert torch.equal(value, training[f'student.{key}']), key
