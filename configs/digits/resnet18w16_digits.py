# The teacher: the DigitScapes teacher's backbone (ResNetV1c-18 of width 16,
# output stride 8) on the digit patches, 12 epochs. Train it first: the
# distill configs read work_dirs/resnet18w16_digits/epoch_12.pth.
_base_ = ['./_base_/digits.py']

max_epochs = 12
model = dict(
    type='ImageClassifier',
    backbone=dict(_base_.teacher_backbone, type='mmseg.ResNetV1c',
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10,
              in_channels=_base_.teacher_channels[1],
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True,
         eta_min=1e-5)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs // 2)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
