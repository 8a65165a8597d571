"""The CUDA path: AMP training steps of the real Cityscapes pairs at
512x1024 for every loss, a bfloat16 teacher, channels_last, a classifier
pair, and a one-GPU NCCL run of tools/dist_train.sh then tools/test.py.
Marked ``cuda`` and skipped without a GPU; ``tools/gpu_check.py`` runs
them (``python -m pytest -m cuda tests/test_cuda.py``). The networks have
random weights: these tests check the path, not accuracy."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import MODELS

import mmkd  # noqa: F401  (registers the distillers and losses)
from mmkd.models.builder import save_initial_checkpoint
from mmkd.synthetic import (make_cls_batch, make_seg_batch,
                            write_cityscapes_layout)

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='needs a CUDA GPU'),
]

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEG_CONFIG = osp.join(ROOT, 'configs', 'pspnet_r101_to_r18_{}.py')
CLS_CONFIG = osp.join(ROOT, 'configs', 'cls',
                      'resnet34_to_resnet18_in1k_kd.py')
TINY_CONFIG = osp.join(ROOT, 'configs', 'demo',
                       'pspnet_r101_to_r18_kd_tiny.py')
METHODS = ('kd', 'bdd', 'dist', 'cwd', 'pcd')
CROP = (512, 1024)


def config(path, teacher_checkpoint, **model):
    """The model config of ``path`` as mmengine's runner hands it over."""
    cfg = Config.fromfile(path)
    if 'data_preprocessor' in cfg:
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    cfg.model.teacher.checkpoint = str(teacher_checkpoint)
    cfg.model.student.pop('pretrained', None)  # no ImageNet download
    cfg.model.update(model)
    return cfg


@pytest.fixture(scope='module')
def seg_teacher(tmp_path_factory):
    """A checkpoint of the Cityscapes teacher (PSPNet-R101), random."""
    path = tmp_path_factory.mktemp('teacher') / 'pspnet_r101.pth'
    cfg = Config.fromfile(SEG_CONFIG.format('kd'))
    save_initial_checkpoint(cfg.model.teacher.config, str(path))
    return path


def seg_distiller(teacher_checkpoint, **model):
    cfg = config(SEG_CONFIG.format('kd'), teacher_checkpoint, **model)
    cfg.model.data_preprocessor.size = CROP  # pad to the batch's size
    return MODELS.build(cfg.model).cuda().train()


def amp_step(distiller, batch):
    """One AMP training step; returns its log and the dtypes of the
    decode heads' logits in it (student, teacher)."""
    dtypes = {}

    def record(name):
        def hook(module, args, output):
            dtypes[name] = output.dtype
        return hook

    hooks = [getattr(distiller, name).decode_head.conv_seg
             .register_forward_hook(record(name))
             for name in ('student', 'teacher')]
    optim_wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(
        distiller.student.parameters(), lr=0.01, momentum=0.9))
    log = distiller.train_step(batch, optim_wrapper)
    for hook in hooks:
        hook.remove()
    return log, dtypes


def check_step(distiller, log, before):
    assert log, 'an empty log'
    for key, value in log.items():
        assert torch.isfinite(torch.as_tensor(value)), key
    assert any(key.startswith('distill.') for key in log)
    assert all(p.grad is None and not p.requires_grad
               for p in distiller.teacher.parameters())
    # the master weights stay float32 under AMP, and the step moved them
    assert all(p.dtype == torch.float32
               for p in distiller.student.parameters())
    after = distiller.student.decode_head.conv_seg.weight
    assert not torch.equal(after, before)


@pytest.fixture(scope='module')
def seg_batch():
    return make_seg_batch(2, CROP, 19)


def test_amp_step_for_every_loss(seg_teacher, seg_batch):
    # PCD's progressive schedule reads the iteration, as the runner sets it
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    hub.update_info('max_iters', 1000)
    for method in METHODS:
        losses = Config.fromfile(SEG_CONFIG.format(method)).model
        distiller = seg_distiller(seg_teacher,
                                  distill_losses=losses.distill_losses)
        before = distiller.student.decode_head.conv_seg.weight.clone()
        log, dtypes = amp_step(distiller, seg_batch)
        check_step(distiller, log, before)
        # both networks ran under float16 autocast
        assert dtypes == dict(student=torch.float16, teacher=torch.float16)
        assert {f'distill.{name}' for name in losses.distill_losses} <= \
            set(log), method


def test_bfloat16_teacher_with_a_float16_student(seg_teacher, seg_batch):
    distiller = seg_distiller(seg_teacher, teacher_dtype='bfloat16')
    before = distiller.student.decode_head.conv_seg.weight.clone()
    log, dtypes = amp_step(distiller, seg_batch)
    check_step(distiller, log, before)
    assert dtypes == dict(student=torch.float16, teacher=torch.bfloat16)


def test_channels_last_keeps_its_layout_through_a_step(
        seg_teacher, seg_batch):
    distiller = seg_distiller(seg_teacher, channels_last=True)
    before = distiller.student.decode_head.conv_seg.weight.clone()
    log, _ = amp_step(distiller, seg_batch)
    check_step(distiller, log, before)
    for network in (distiller.student, distiller.teacher):
        weights = [p for p in network.parameters() if p.dim() == 4]
        assert weights and all(
            w.is_contiguous(memory_format=torch.channels_last)
            for w in weights)


def test_classifier_amp_step(tmp_path):
    cfg = Config.fromfile(CLS_CONFIG)
    teacher = tmp_path / 'teacher.pth'
    save_initial_checkpoint(cfg.model.teacher.config, str(teacher),
                           scope='mmpretrain')
    cfg = config(CLS_CONFIG, teacher)
    distiller = MODELS.build(cfg.model).cuda().train()
    before = distiller.student.head.fc.weight.clone()
    optim_wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(
        distiller.student.parameters(), lr=0.01))
    log = distiller.train_step(make_cls_batch(8, (224, 224), 1000),
                               optim_wrapper)
    assert {'cls.loss', 'distill.loss_kd'} <= set(log)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log.values())
    assert all(p.dtype == torch.float32
               for p in distiller.student.parameters())
    assert not torch.equal(distiller.student.head.fc.weight, before)
    assert all(p.grad is None for p in distiller.teacher.parameters())


def test_one_gpu_nccl_training_then_testing(seg_teacher, tmp_path):
    root = tmp_path / 'cityscapes'
    write_cityscapes_layout(str(root), images_per_city=2)
    options = [f'{loader}.dataset.data_root={root}'
               for loader in ('train_dataloader', 'val_dataloader',
                              'test_dataloader')]
    options.append(f'model.teacher.checkpoint={seg_teacher}')
    env = dict(os.environ, PORT='29741', PATH=osp.dirname(sys.executable) +
               os.pathsep + os.environ['PATH'])
    work_dir = tmp_path / 'work'
    train = subprocess.run(
        ['bash', 'tools/dist_train.sh', TINY_CONFIG, '1', '--work-dir',
         str(work_dir), '--cfg-options', *options, 'train_cfg.max_iters=4',
         'train_cfg.val_interval=4', 'default_hooks.logger.interval=2'],
        cwd=ROOT, env=env, capture_output=True, text=True)
    log = train.stdout + train.stderr
    assert train.returncode == 0, log[-6000:]
    assert 'Distributed training: True' in log
    assert "backend='nccl'" in log or '"backend": "nccl"' in log or \
        "'backend': 'nccl'" in log
    assert 'Iter(train) [4/4]' in log
    test = subprocess.run(
        [sys.executable, 'tools/test.py', TINY_CONFIG,
         str(work_dir / 'iter_4.pth'), '--work-dir', str(tmp_path / 'test'),
         '--cfg-options', *options],
        cwd=ROOT, env=env, capture_output=True, text=True)
    log = test.stdout + test.stderr
    assert test.returncode == 0, log[-6000:]
    assert re.search(r'Iter\(test\) \[2/2\].*mIoU: [\d.]+', log), log[-3000:]
