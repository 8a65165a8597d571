"""Every distiller config builds with the real PSPNet-R101 teacher and
PSPNet-R18 student and runs one training step (at a 64x128 crop, with a
teacher checkpoint written here)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope, MODELS

from conftest import make_batch
from mmkd.testing import write_model_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'pspnet_*.py')))
LOSS_TYPES = {'kd': 'KDLoss', 'bdd': 'BDDLoss', 'dist': 'DISTLoss',
              'cwd': 'CWDLoss', 'pcd': 'PCDLoss'}


@pytest.fixture(scope='module')
def r101_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('zoo') / 'pspnet_r101.pth'
    write_model_checkpoint(
        'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        str(path))
    return path


def test_there_is_a_config_per_method():
    methods = {osp.basename(c)[len('pspnet_r101_to_r18_'):-3] for c in CONFIGS}
    assert methods == set(LOSS_TYPES)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_and_trains_one_step(path, r101_checkpoint):
    cfg = Config.fromfile(path)
    method = osp.basename(path)[len('pspnet_r101_to_r18_'):-3]
    losses = cfg.model.distill_losses
    assert [loss.type for loss in losses.values()] == [LOSS_TYPES[method]]
    assert cfg.model.teacher.checkpoint.startswith(
        'https://download.openmmlab.com/mmsegmentation/')

    cfg.model.teacher.checkpoint = str(r101_checkpoint)
    cfg.model.student.pretrained = None
    cfg.model.student.data_preprocessor.size = (64, 128)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        distiller = MODELS.build(cfg.model)
    hub = MessageHub.get_instance(f'config-{method}')  # PCD's progress
    hub.update_info('iter', 0)
    hub.update_info('max_iters', cfg.train_cfg.max_iters)
    distiller.train()
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(distiller.parameters(), lr=0.01))
    log_vars = distiller.train_step(
        make_batch(size=(64, 128), num_classes=19), optim_wrapper)
    name = next(iter(losses))
    assert torch.isfinite(log_vars[f'distill.{name}'])
    assert torch.isfinite(log_vars['loss'])
