"""Small segmentors, classifiers and batches: the distillers' logic on
models that run in milliseconds. The real configs are exercised by
test_configs.py, test_cls_configs.py and test_tools.py."""
import copy
import os.path as osp
import zipfile
from dataclasses import dataclass
from typing import Callable, Set

import numpy as np
import pytest
from mmengine.config import ConfigDict

from mmkd.models.builder import save_initial_checkpoint
from mmkd.synthetic import make_cls_batch, make_seg_batch

NUM_CLASSES = 4


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'cuda: needs a CUDA GPU; skipped without one '
        '(tools/gpu_check.py runs them)')


DATA_PREPROCESSOR = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(32, 32))


def segmentor_cfg(width=8, num_classes=NUM_CLASSES, strides=(1, 2, 1, 1),
                  dilations=(1, 1, 2, 4)):
    """A PSPNet on a ResNetV1c-18 of base width ``width`` (64 for the real
    one), with an FCN auxiliary head, as mmseg's PSPNet configs."""
    norm_cfg = dict(type='BN', requires_grad=True)
    # ConfigDict, as configs read from files give: mmseg reads test_cfg.mode
    return ConfigDict(
        type='EncoderDecoder',
        data_preprocessor=copy.deepcopy(DATA_PREPROCESSOR),
        backbone=dict(
            type='ResNetV1c',
            depth=18,
            stem_channels=width,
            base_channels=width,
            out_indices=(0, 1, 2, 3),
            strides=strides,
            dilations=dilations,
            norm_cfg=norm_cfg,
            contract_dilation=True),
        decode_head=dict(
            type='PSPHead',
            in_channels=8 * width,
            in_index=3,
            channels=2 * width,
            pool_scales=(1, 2),
            dropout_ratio=0.1,
            num_classes=num_classes,
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        auxiliary_head=dict(
            type='FCNHead',
            in_channels=4 * width,
            in_index=2,
            channels=width,
            num_convs=1,
            concat_input=False,
            num_classes=num_classes,
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


CLS_DATA_PREPROCESSOR = dict(
    type='ClsDataPreprocessor',
    num_classes=NUM_CLASSES,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)


def classifier_cfg(width=8, num_classes=NUM_CLASSES):
    """A ResNet-18 for 32x32 images of base width ``width`` (64 for the
    real one) with a linear head, as mmpretrain's CIFAR configs."""
    return ConfigDict(
        type='ImageClassifier',
        data_preprocessor=dict(CLS_DATA_PREPROCESSOR,
                               num_classes=num_classes),
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=width,
                      base_channels=width, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=8 * width,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))


def distiller_cfg(teacher_checkpoint, teacher=None, student=None,
                  task=None, **kwargs):
    """A distiller of the seg task's (or ``task``'s) width-8 student and
    width-16 teacher, with ``KDLoss(tau=2, loss_weight=3)``."""
    task = task or SEG
    return dict(
        type=task.distiller_type,
        student=student or task.model_cfg(width=8),
        teacher=dict(config=teacher or task.model_cfg(width=16),
                     checkpoint=str(teacher_checkpoint)),
        distill_losses=dict(loss_kd=dict(type='KDLoss', tau=2.0,
                                         loss_weight=3.0)),
        **kwargs)


@pytest.fixture
def teacher_checkpoint(tmp_path):
    """A checkpoint of the default teacher, ``segmentor_cfg(width=16)``."""
    path = tmp_path / 'teacher.pth'
    save_initial_checkpoint(segmentor_cfg(width=16), str(path), seed=1)
    return path


@dataclass(frozen=True)
class Task:
    """What the distiller tests need to know of a task library."""
    name: str
    scope: str  # the task library's registry scope
    distiller_type: str
    model_cfg: Callable  # (width=, num_classes=) -> model config
    make_batch: Callable  # (seed=) -> a batch for the data preprocessor
    head: str  # the last layer, whose weight and bias name the classes
    head_prefix: str  # the head module's state dict prefix
    own_losses: Set[str]  # the student's own loss keys in the log
    prediction: Callable  # a predicted data sample -> its prediction tensor


SEG = Task('seg', 'mmseg', 'mmkd.SegDistiller', segmentor_cfg,
           make_seg_batch,
           'decode_head.conv_seg', 'decode_head.',
           {'decode.loss_ce', 'aux.loss_ce'},
           lambda sample: sample.pred_sem_seg.data)
CLS = Task('cls', 'mmpretrain', 'mmkd.ClsDistiller', classifier_cfg,
           make_cls_batch, 'head.fc', 'head.', {'cls.loss'},
           lambda sample: sample.pred_score)


@pytest.fixture(params=[SEG, CLS], ids=lambda task: task.name)
def task(request):
    """Each task library: tests taking it run for both distillers."""
    return request.param


@pytest.fixture
def task_checkpoint(tmp_path, task):
    """A checkpoint of ``task``'s default teacher (width 16)."""
    path = tmp_path / f'{task.name}_teacher.pth'
    save_initial_checkpoint(task.model_cfg(width=16), str(path), seed=1,
                           scope=task.scope)
    return path


@pytest.fixture
def cls_teacher_checkpoint(tmp_path):
    """A checkpoint of the default classifier teacher, width 16."""
    path = tmp_path / 'cls_teacher.pth'
    save_initial_checkpoint(classifier_cfg(width=16), str(path), seed=1,
                           scope='mmpretrain')
    return path


def flip_tensor_bytes(path, count=64):
    """Invert ``count`` bytes in the middle of the largest tensor of a
    checkpoint file: the damage a bad disk or copy does, which torch's
    loader does not notice."""
    with zipfile.ZipFile(path) as archive:
        record = max((info for info in archive.infolist()
                      if '/data/' in info.filename),
                     key=lambda info: info.file_size)
    with open(path, 'r+b') as file:
        file.seek(record.header_offset + 26)
        name_length, extra_length = np.frombuffer(file.read(4), '<u2')
        start = record.header_offset + 30 + int(name_length) + int(
            extra_length) + record.file_size // 2
        file.seek(start)
        data = bytes(255 - byte for byte in file.read(count))
        file.seek(start)
        file.write(data)


def truncate(path):
    with open(path, 'r+b') as file:
        file.truncate(osp.getsize(path) // 2)
