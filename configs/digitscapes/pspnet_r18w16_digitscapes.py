# The teacher: a PSPNet on a ResNetV1c-18 of base width 16, its backbone
# pretrained on digit patches (pretrain/pretrain_r18w16_digit_patches.py),
# on the student's schedule. Its checkpoint, where the distill configs look
# for it: work_dirs/pspnet_r18w16_digitscapes/iter_2000.pth
_base_ = ['./pspnet_r18w8_digitscapes.py']

model = dict(
    backbone=dict(
        _base_.teacher_backbone,
        init_cfg=dict(checkpoint=_base_.teacher_pretrained)),
    decode_head=dict(in_channels=_base_.teacher_channels[1]),
    auxiliary_head=dict(in_channels=_base_.teacher_channels[0]))
