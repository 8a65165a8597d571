# The MobileNetV2-d8 student of MMSegmentation's mobilenet_v2 configs
# (mmseg::mobilenet_v2/mobilenet-v2-d8_{pspnet,deeplabv3}_4xb2-80k_
# cityscapes-512x1024.py): ImageNet-pretrained MobileNetV2 at output
# stride 8, its decode head on the 320-channel last stage and its auxiliary
# head on the 96-channel one, the heads' widths of the R101 configs those
# inherit (512 and 256). A config lists this file among its bases after an
# R18 distiller config and replaces that student's backbone and head inputs
# with these: model = dict(student={{_base_.mobilenetv2_student}}).
mobilenetv2_student = dict(
    pretrained='mmcls://mobilenet_v2',
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.,
        strides=(1, 2, 2, 1, 1, 1, 1),
        dilations=(1, 1, 1, 2, 2, 4, 4),
        out_indices=(1, 2, 4, 6),
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
    decode_head=dict(in_channels=320, channels=512),
    auxiliary_head=dict(in_channels=96, channels=256))
