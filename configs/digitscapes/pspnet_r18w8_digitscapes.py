# The student trained alone on DigitScapes: a PSPNet on a ResNetV1c-18 of
# base width 16 (1/4 of the usual), 1000 iterations of batch 8.
_base_ = ['./_base_/digitscapes.py']

width = 16
model = dict(
    type='EncoderDecoder',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=width,
        base_channels=width,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg={{_base_.norm_cfg}},
        contract_dilation=True),
    decode_head=dict(
        type='PSPHead',
        in_channels=8 * width,
        in_index=3,
        channels=2 * width,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes={{_base_.num_classes}},
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=4 * width,
        in_index=2,
        channels=width,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes={{_base_.num_classes}},
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
