# Pretrains the DigitScapes student's backbone (ResNetV1c-18, width 8) by
# classifying digit patches; pspnet_r18w8_digitscapes.py starts from it.
_base_ = ['../_base_/patches.py', '../_base_/backbones.py']

model = dict(
    type='ImageClassifier',
    # mmseg's ResNetV1c, the very module the segmentor uses
    backbone=dict(_base_.student_backbone, type='mmseg.ResNetV1c',
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10,
              in_channels=_base_.student_channels[1],
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
