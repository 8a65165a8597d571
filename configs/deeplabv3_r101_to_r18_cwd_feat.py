# CWD on the decode heads' logits and on the output of their ASPP
# bottleneck (the 3x3 convolution that fuses the atrous branches), as
# pspnet_r101_to_r18_cwd_feat.py: the student's 128 channels reach the
# teacher's 512 through a 1x1 convolution with batch norm. Teacher,
# student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
_base_ = ['./deeplabv3_r101_to_r18_cwd.py']

model = dict(
    distill_losses=dict(
        loss_feat=dict(
            type='CWDLoss', tau=4.0, loss_weight=3.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck',
            connector=dict(type='mmkd.ConvConnector', in_channels=128,
                           out_channels=512))))
