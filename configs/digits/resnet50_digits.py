# The teacher: a CIFAR-style ResNet-50 (3x3 stem) of width 16 on the 16x16
# digits, 20 epochs (99.72 top-1, 1.5 min on 2 CPU cores). Train it first:
# the distill configs read work_dirs/resnet50_digits/epoch_20.pth.
_base_ = ['./_base_/digits.py']

width = 16
max_epochs = 20
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=50, in_channels=1,
                  stem_channels=width, base_channels=width),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={{_base_.num_classes}},
              in_channels=8 * 4 * width,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True,
         eta_min=1e-5)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
