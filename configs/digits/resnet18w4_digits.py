# The student alone: the DigitScapes backbone (ResNetV1c-18, output stride
# 8) at base width 4, a quarter of the DigitScapes student's channels, on
# the digit patches for 20 epochs; the baseline of the
# resnet18w16_to_resnet18w4_digits_* configs.
_base_ = ['./_base_/digits.py']

width = 4
model = dict(
    type='ImageClassifier',
    backbone=dict(_base_.student_backbone, type='mmseg.ResNetV1c',
                  stem_channels=width, base_channels=width,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=8 * width,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
