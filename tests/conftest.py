"""Small segmentors and batches: the distiller's logic on models that run in
milliseconds. The real PSPNet configs are exercised by test_tools.py."""
import copy

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmkd.testing import write_model_checkpoint

NUM_CLASSES = 4
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


def distiller_cfg(teacher_checkpoint, teacher=None, student=None, **kwargs):
    return dict(
        type='mmkd.SegDistiller',
        student=student or segmentor_cfg(width=8),
        teacher=dict(config=teacher or segmentor_cfg(width=16),
                     checkpoint=str(teacher_checkpoint)),
        distill_losses=dict(loss_kd=dict(type='KDLoss', tau=2.0,
                                         loss_weight=3.0)),
        **kwargs)


@pytest.fixture
def teacher_checkpoint(tmp_path):
    """A checkpoint of the default teacher, ``segmentor_cfg(width=16)``."""
    path = tmp_path / 'teacher.pth'
    write_model_checkpoint(segmentor_cfg(width=16), str(path), seed=1)
    return path


def make_batch(num_images=2, size=(32, 32), num_classes=NUM_CLASSES, seed=0):
    """A batch as mmseg's dataloader gives it to the data preprocessor."""
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(num_images):
        inputs.append(torch.randint(0, 256, (3, *size), generator=generator,
                                    dtype=torch.uint8))
        label = torch.randint(0, num_classes, (1, *size), generator=generator)
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=size, ori_shape=size,
                                 pad_shape=size))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
