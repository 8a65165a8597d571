# The student alone: a CIFAR-style ResNet-18 (3x3 stem) of width 8 on the
# 16x16 digits, 10 epochs; the baseline of the resnet50_to_resnet18_digits_*
# configs.
_base_ = ['./_base_/digits.py']

width = 8
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1,
                  stem_channels=width, base_channels=width),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={{_base_.num_classes}},
              in_channels=8 * width,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
