# The student trained alone on DigitScapes: a PSPNet on a ResNetV1c-18 of
# base width 8, its backbone pretrained on digit patches
# (pretrain/pretrain_r18w8_digit_patches.py), 2000 iterations of batch 8.
_base_ = ['./_base_/digitscapes.py', './_base_/backbones.py']

model = dict(
    type='EncoderDecoder',
    data_preprocessor=_base_.data_preprocessor,
    backbone=dict(
        _base_.student_backbone,
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint=_base_.student_pretrained)),
    decode_head=dict(
        type='PSPHead',
        in_channels=_base_.student_channels[1],
        in_index=3,
        channels=_base_.head_channels,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=_base_.num_classes,
        norm_cfg=_base_.norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=_base_.student_channels[0],
        in_index=2,
        channels=_base_.auxiliary_channels,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=_base_.num_classes,
        norm_cfg=_base_.norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
