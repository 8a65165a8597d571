"""Teachers and students beyond the R101 -> R18 pairs: a transformer
(SegFormer) teacher on logits and on its token sequences, and the shipped
SegFormer-B5 and MobileNetV2 configs."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope, MODELS
from mmseg.models.utils import nlc_to_nchw

import mmkd  # noqa: F401  (registers the distillers and losses)
from mmkd.models.builder import config_path, save_initial_checkpoint
from mmkd.models.connectors import TokensToMapConnector, token_grid
from mmkd.models.settings import DistillerConfigError, SettingError
from mmkd.synthetic import make_seg_batch

from conftest import DATA_PREPROCESSOR, NUM_CLASSES, segmentor_cfg

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEGFORMER_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs',
                                              'segformer_b5_to_*.py')))
MOBILENET_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs',
                                              '*_r101_to_mobilenetv2_*.py')))
SIZE = (32, 64)


def segformer_cfg(num_classes=NUM_CLASSES):
    """A SegFormer (MiT backbone, 8 channels a stage, one block each) as
    mmseg's segformer_mit-b0 config lays it out."""
    norm_cfg = dict(type='BN', requires_grad=True)
    return ConfigDict(
        type='EncoderDecoder',
        data_preprocessor=copy.deepcopy(DATA_PREPROCESSOR),
        backbone=dict(
            type='MixVisionTransformer', in_channels=3, embed_dims=8,
            num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
            patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
            out_indices=(0, 1, 2, 3), mlp_ratio=2, qkv_bias=True),
        decode_head=dict(
            type='SegformerHead', in_channels=[8, 8, 8, 8],
            in_index=[0, 1, 2, 3], channels=16, dropout_ratio=0.1,
            num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


@pytest.fixture(scope='module')
def segformer_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('segformer') / 'segformer.pth'
    save_initial_checkpoint(segformer_cfg(), str(path), seed=1)
    return path


def distiller(checkpoint, distill_losses, **kwargs):
    student = segmentor_cfg(width=8)
    student.data_preprocessor.size = SIZE
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(dict(
            type='mmkd.SegDistiller', student=student,
            teacher=dict(config=segformer_cfg(), checkpoint=str(checkpoint)),
            distill_losses=distill_losses, **kwargs))


def train(model, steps=3):
    """``steps`` SGD steps; the logs, and whether the student and the
    connectors moved and the teacher did not."""
    model.train()
    student = copy.deepcopy(model.student.state_dict())
    teacher = copy.deepcopy(model.teacher.state_dict())
    connectors = copy.deepcopy(model.connectors.state_dict())
    wrapper = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.05))
    logs = [model.train_step(make_seg_batch(2, SIZE, NUM_CLASSES, seed=s),
                             wrapper) for s in range(steps)]

    def moved(before, now):
        return any(not torch.equal(before[k], now[k]) for k in before
                   if before[k].is_floating_point())

    return logs, dict(
        student=moved(student, model.student.state_dict()),
        teacher=moved(teacher, model.teacher.state_dict()),
        connectors=moved(connectors, model.connectors.state_dict()))


# --- tokens to maps ------------------------------------------------------

@pytest.mark.parametrize('input_size, tokens, grid', [
    ((32, 64), 128, (8, 16)),    # MiT stage 1: stride 4
    ((33, 65), 18, (3, 6)),      # MiT pads: ceil(33/16), ceil(65/16)
    ((512, 1024), 512, (16, 32)),  # MiT-B5 stage 4 at Cityscapes crops
    ((224, 224), 196, (14, 14)),  # ViT-B/16
    ((230, 230), 196, (14, 14)),  # ViT does not pad: floor(230/16)
])
def test_token_grid_finds_the_patch_layout(input_size, tokens, grid):
    assert token_grid(tokens, input_size) == grid


def test_token_grid_names_a_count_that_is_no_grid():
    with pytest.raises(ValueError, match='197 tokens.*224x224.*extra'):
        token_grid(197, (224, 224))


def test_tokens_to_map_lays_out_tokens_as_mmseg_does():
    tokens = torch.randn(2, 8 * 16, 5)
    out = TokensToMapConnector()(tokens, (32, 64))
    assert torch.equal(out, nlc_to_nchw(tokens, (8, 16)))
    # a class token in front is dropped
    with_cls = torch.cat([torch.randn(2, 1, 5), tokens], dim=1)
    out = TokensToMapConnector(num_extra_tokens=1)(with_cls, (32, 64))
    assert torch.equal(out, nlc_to_nchw(tokens, (8, 16)))
    assert list(TokensToMapConnector().parameters()) == []


def test_tokens_to_map_with_channels_is_a_trained_connector():
    connector = TokensToMapConnector(in_channels=5, out_channels=7)
    out = connector(torch.randn(2, 128, 5), (32, 64))
    assert out.shape == (2, 7, 8, 16)
    out.sum().backward()
    assert connector.conv[0].weight.grad is not None
    with pytest.raises(SettingError, match='together'):
        TokensToMapConnector(in_channels=5)
    with pytest.raises(ValueError, match=r'\[N, L, C\].*\(2, 5, 8, 16\)'):
        TokensToMapConnector()(torch.randn(2, 5, 8, 16), (32, 64))


# --- a transformer teacher, a CNN student --------------------------------

@pytest.mark.parametrize('distill_size', ['student', 'finer'])
def test_segformer_teacher_distils_its_logits(segformer_checkpoint,
                                              distill_size):
    model = distiller(segformer_checkpoint,
                      dict(loss_kd=dict(type='KDLoss', tau=1.0)),
                      distill_size=distill_size)
    data = model.data_preprocessor(make_seg_batch(2, SIZE, NUM_CLASSES),
                                   True)
    outputs = model.forward_step(**data)
    # the SegFormer head predicts at 1/4, the R18 student at 1/8
    assert outputs.teacher_logits.shape[2:] == (8, 16)
    assert outputs.student_logits.shape[2:] == (4, 8)
    student, teacher = model.distill_pairs(outputs)['loss_kd']
    expected = (8, 16) if distill_size == 'finer' else (4, 8)
    assert student.shape[2:] == teacher.shape[2:] == expected
    logs, moved = train(model)
    assert all(torch.isfinite(log['distill.loss_kd']) for log in logs)
    assert moved['student'] and not moved['teacher']


def token_pair(**loss):
    """MSE between the student's last stage and the teacher's last-stage
    tokens (MiT stage 4's norm: [N, L, 8] at 1/32)."""
    return dict(type='MSELoss', student='backbone.layer4',
                teacher='backbone.layers.3.2', **loss)


def test_token_teacher_trains_through_connectors(segformer_checkpoint):
    model = distiller(segformer_checkpoint, dict(
        loss_kd=dict(type='KDLoss', tau=1.0),
        loss_tokens=token_pair(
            connector=dict(type='mmkd.ConvConnector', in_channels=64,
                           out_channels=8),
            teacher_connector=dict(type='mmkd.TokensToMapConnector'))))
    data = model.data_preprocessor(make_seg_batch(2, SIZE, NUM_CLASSES),
                                   True)
    outputs = model.forward_step(**data)
    assert outputs.teacher_outputs['backbone.layers.3.2'].shape == (2, 2, 8)
    student, teacher = model.distill_pairs(outputs)['loss_tokens']
    # the teacher's 1x2 map resized to the student's 4x8 one
    assert student.shape == teacher.shape == (2, 8, 4, 8)
    logs, moved = train(model)
    assert all(torch.isfinite(log['distill.loss_tokens']) for log in logs)
    assert moved['student'] and moved['connectors'] and not moved['teacher']
    # the exported student holds no connector
    assert not any('connector' in key for key in model.student.state_dict())


def test_tokens_without_a_connector_name_both_modules_and_shapes(
        segformer_checkpoint):
    model = distiller(segformer_checkpoint, dict(loss_tokens=token_pair(
        connector=dict(type='mmkd.ConvConnector', in_channels=64,
                       out_channels=8))))
    with pytest.raises(DistillerConfigError) as error:
        model.train_step(make_seg_batch(2, SIZE, NUM_CLASSES),
                         OptimWrapper(torch.optim.SGD(
                             model.student.parameters(), lr=0.01)))
    message = str(error.value)
    assert '\n' not in message
    for part in ("'backbone.layer4'", "'backbone.layers.3.2'",
                 '(2, 8, 4, 8)', '(2, 2, 8)', 'TokensToMapConnector'):
        assert part in message


def test_a_teacher_connector_with_parameters_is_refused(
        segformer_checkpoint):
    with pytest.raises(DistillerConfigError, match='teacher is frozen'):
        distiller(segformer_checkpoint, dict(loss_tokens=token_pair(
            teacher_connector=dict(type='mmkd.TokensToMapConnector',
                                   in_channels=8, out_channels=64))))


# --- the shipped configs -------------------------------------------------

@pytest.fixture(scope='module')
def zoo(tmp_path_factory):
    """Written on first use: teacher config -> a checkpoint of it."""
    directory = tmp_path_factory.mktemp('zoo')
    paths = {}

    def checkpoint(config):
        if config not in paths:
            paths[config] = directory / f'{len(paths)}.pth'
            save_initial_checkpoint(config, str(paths[config]))
        return paths[config]

    return checkpoint


def test_there_are_segformer_and_mobilenetv2_configs():
    names = {osp.basename(path) for path in
             SEGFORMER_CONFIGS + MOBILENET_CONFIGS}
    assert names == {
        f'segformer_b5_to_{arch}_r18_{method}.py'
        for arch in ('pspnet', 'deeplabv3')
        for method in ('kd', 'cwd', 'cwd_feat')} | {
        f'{arch}_r101_to_mobilenetv2_{method}.py'
        for arch in ('pspnet', 'deeplabv3')
        for method in ('kd', 'bdd', 'dist', 'cwd')}


@pytest.mark.parametrize('path', MOBILENET_CONFIGS, ids=osp.basename)
def test_mobilenetv2_configs_distil_as_the_r18_ones(path):
    cfg = Config.fromfile(path)
    r18 = Config.fromfile(path.replace('mobilenetv2', 'r18'))
    assert cfg.model.distill_losses == r18.model.distill_losses
    assert cfg.model.teacher == r18.model.teacher
    assert cfg.train_dataloader == r18.train_dataloader
    zoo_student = Config.fromfile(config_path(
        'mmseg::mobilenet_v2/mobilenet-v2-d8_{}_4xb2-80k_cityscapes-'
        '512x1024.py'.format(osp.basename(path).split('_')[0]))).model
    for key in ('backbone', 'decode_head', 'auxiliary_head', 'pretrained'):
        assert cfg.model.student[key] == zoo_student[key], key


@pytest.mark.parametrize('path', SEGFORMER_CONFIGS + MOBILENET_CONFIGS,
                         ids=osp.basename)
def test_config_builds_and_trains_one_step(path, zoo):
    cfg = Config.fromfile(path)
    cfg.model.teacher.checkpoint = str(zoo(cfg.model.teacher.config))
    cfg.model.student.pretrained = None
    cfg.model.student.data_preprocessor.size = (64, 128)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    MessageHub.get_current_instance().update_info('iter', 0)
    model.train()
    log = model.train_step(make_seg_batch(size=(64, 128), num_classes=19),
                           OptimWrapper(torch.optim.SGD(
                               model.parameters(), lr=0.01)))
    for name in cfg.model.distill_losses:
        assert torch.isfinite(log[f'distill.{name}']), name
    assert torch.isfinite(log['loss'])
