"""Every distiller config builds with its real R101 teacher and R18 student
(PSPNet and DeepLabV3) and runs one training step (at a 64x128 crop, with a
teacher checkpoint written here)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope, MODELS

from mmkd.models.builder import save_initial_checkpoint
from mmkd.synthetic import make_seg_batch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ARCHITECTURES = ('pspnet', 'deeplabv3')
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*_r101_to_r18_*.py')))
LOSS_TYPES = {'kd': ['KDLoss'], 'bdd': ['BDDLoss'], 'bdd_pixel': ['BDDLoss'],
              'bdd_tau4': ['BDDLoss'], 'dist_decode': ['DISTLoss'],
              'cwd': ['CWDLoss'], 'pcd': ['PCDLoss'], 'dkd': ['DKDLoss'],
              # logits, then the decode heads' features (the backbones' for
              # MGD, beside CWD on the logits)
              'at': ['KDLoss', 'ATLoss'], 'skd': ['KDLoss', 'SKDLoss'],
              'ifvd': ['KDLoss', 'IFVDLoss'], 'cirkd': ['KDLoss', 'CIRKDLoss'],
              'mgd': ['CWDLoss', 'MGDLoss'],
              # logits, then the auxiliary heads / the bottleneck features
              'dist': ['DISTLoss', 'DISTLoss'],
              'cwd_feat': ['CWDLoss', 'CWDLoss']}


def architecture_and_method(path):
    architecture, method = osp.basename(path)[:-3].split('_r101_to_r18_')
    return architecture, method


@pytest.fixture(scope='module')
def r101_checkpoints(tmp_path_factory):
    """Written on first use: architecture -> R101 teacher checkpoint."""
    directory = tmp_path_factory.mktemp('zoo')
    paths = {}

    def checkpoint(architecture):
        if architecture not in paths:
            paths[architecture] = directory / f'{architecture}_r101.pth'
            save_initial_checkpoint(
                f'mmseg::{architecture}/{architecture}_r101-d8_4xb2-80k_'
                'cityscapes-512x1024.py', str(paths[architecture]))
        return paths[architecture]

    return checkpoint


def test_there_is_a_config_per_architecture_and_method():
    assert {architecture_and_method(path) for path in CONFIGS} == {
        (architecture, method)
        for architecture in ARCHITECTURES for method in LOSS_TYPES}


@pytest.mark.parametrize('method', LOSS_TYPES)
def test_deeplabv3_configs_distil_as_the_pspnet_ones(method):
    pspnet, deeplabv3 = (
        Config.fromfile(osp.join(ROOT, 'configs',
                                 f'{arch}_r101_to_r18_{method}.py'))
        for arch in ARCHITECTURES)
    assert deeplabv3.model.distill_losses == pspnet.model.distill_losses
    assert deeplabv3.model.student.decode_head.type == 'ASPPHead'
    assert deeplabv3.model.student.backbone.depth == 18
    assert deeplabv3.model.teacher.config == (
        'mmseg::deeplabv3/deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py')
    assert deeplabv3.train_dataloader == pspnet.train_dataloader
    assert deeplabv3.train_cfg == pspnet.train_cfg


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_and_trains_one_step(path, r101_checkpoints):
    cfg = Config.fromfile(path)
    architecture, method = architecture_and_method(path)
    losses = cfg.model.distill_losses
    assert [loss.type for loss in losses.values()] == LOSS_TYPES[method]
    assert cfg.model.teacher.checkpoint.startswith(
        'https://download.openmmlab.com/mmsegmentation/v0.5/'
        f'{architecture}/{architecture}_r101-d8_512x1024_80k_cityscapes/')

    cfg.model.teacher.checkpoint = str(r101_checkpoints(architecture))
    cfg.model.student.pretrained = None
    cfg.model.student.data_preprocessor.size = (64, 128)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        distiller = MODELS.build(cfg.model)
    # PCD's progress
    hub = MessageHub.get_instance(f'config-{architecture}-{method}')
    hub.update_info('iter', 0)
    hub.update_info('max_iters', cfg.train_cfg.max_iters)
    distiller.train()
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(distiller.parameters(), lr=0.01))
    log_vars = distiller.train_step(
        make_seg_batch(size=(64, 128), num_classes=19), optim_wrapper)
    for name in losses:
        assert torch.isfinite(log_vars[f'distill.{name}'])
    assert torch.isfinite(log_vars['loss'])


@pytest.mark.parametrize('architecture', ARCHITECTURES)
def test_the_shipped_settings_are_the_documented_ones(architecture):
    """docs/losses.md gives each setting's source; these are they."""
    def losses(method):
        return Config.fromfile(osp.join(
            ROOT, 'configs', f'{architecture}_r101_to_r18_{method}.py')
        ).model.distill_losses.to_dict()

    bdd = losses('bdd')['loss_bdd']
    assert bdd == dict(type='BDDLoss', distribution='spatial',
                       tau_forward=1.0, tau_reverse=1.0, forward_weight=1.0,
                       reverse_weight=1.0, loss_weight=5.0)
    # BDD against CWD: the same setting plus the reverse term
    assert losses('cwd')['loss_cwd'] == dict(type='CWDLoss', tau=1.0,
                                             loss_weight=5.0)
    assert losses('bdd_pixel')['loss_bdd']['distribution'] == 'class'
    assert losses('bdd_pixel')['loss_bdd']['reverse_weight'] == 0.3
    assert losses('bdd_tau4')['loss_bdd'] == dict(
        bdd, tau_forward=4.0, tau_reverse=4.0, loss_weight=3.0)
    dist = losses('dist')
    assert (dist['loss_dist']['loss_weight'], dist['loss_aux']['loss_weight'],
            dist['loss_aux']['student']) == (1.0, 0.4, 'auxiliary_head')
    assert list(losses('dist_decode')) == ['loss_dist']
    feature = losses('cwd_feat')['loss_feat']
    assert (feature['tau'], feature['loss_weight']) == (4.0, 50.0)
    assert losses('kd')['loss_kd'] == dict(type='KDLoss', tau=1.0,
                                           loss_weight=1.0)
