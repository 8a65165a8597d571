# Bring your own teacher and student: a config written from scratch for a
# pair that no shipped config has, the example of docs/own_models.md.
# Teacher: the DigitScapes PSPNet-R18 (width 16) that `make demo` trains
# (any trained MMSegmentation model works: its config and checkpoint).
# Student: an FCN on a MobileNetV2 of width 0.5 at output stride 8, from
# random weights. Losses: DIST on the logits (its authors' setting) and CWD
# on the heads' features before their classifiers (tau 4, weight 50, the
# feature setting of configs/pspnet_r101_to_r18_cwd_feat.py); the student's
# 32 feature channels are mapped to the teacher's 64 by a connector.
_base_ = ['../digitscapes/_base_/digitscapes.py']

norm_cfg = dict(type='BN', requires_grad=True)
student = dict(
    type='EncoderDecoder',
    # the teacher's normalisation: one preprocessed batch feeds both
    data_preprocessor=_base_.data_preprocessor,
    backbone=dict(
        type='MobileNetV2',
        widen_factor=0.5,
        strides=(1, 2, 2, 1, 1, 1, 1),
        dilations=(1, 1, 1, 2, 2, 4, 4),
        out_indices=(1, 2, 4, 6),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='FCNHead',
        in_channels=160,  # MobileNetV2's last stage at width 0.5
        in_index=3,
        channels=32,
        num_convs=2,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=_base_.num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

model = dict(
    type='mmkd.SegDistiller',
    student=student,
    teacher=dict(
        config='mmkd::digitscapes/pspnet_r18w16_digitscapes.py',
        checkpoint='work_dirs/pspnet_r18w16_digitscapes/iter_2000.pth'),
    distill_losses=dict(
        loss_dist=dict(type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0,
                       loss_weight=1.0),
        loss_feat=dict(
            type='CWDLoss', tau=4.0, loss_weight=50.0,
            # FCNHead's convolutions before its classifier, and PSPHead's
            student='decode_head.convs', teacher='decode_head.bottleneck',
            connector=dict(type='mmkd.ConvConnector', in_channels=32,
                           out_channels=64))))
custom_hooks = [dict(type='mmkd.ResumeRandomStateHook')]
