# Pretrains the DigitScapes teacher's backbone (ResNetV1c-18, width 16) by
# classifying digit patches; pspnet_r18w16_digitscapes.py starts from it.
_base_ = ['./pretrain_r18w8_digit_patches.py']

model = dict(
    backbone=dict(_base_.teacher_backbone, type='mmseg.ResNetV1c',
                  out_indices=(3, )),
    head=dict(in_channels=_base_.teacher_channels[1]))
