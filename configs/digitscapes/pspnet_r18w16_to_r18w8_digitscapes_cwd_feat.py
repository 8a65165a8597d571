# CWD on the decode heads' logits and on their bottleneck features, as
# configs/pspnet_r101_to_r18_cwd_feat.py, through a 1x1 convolution with
# batch norm: both bottlenecks have 64 channels here, and the connector is
# still the trained map that FitNets and CWD put between the two. Teacher,
# student, data and schedule as in pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_cwd.py']

model = dict(
    distill_losses=dict(
        loss_feat=dict(
            type='CWDLoss', tau=4.0, loss_weight=3.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck',
            connector=dict(type='mmkd.ConvConnector', in_channels=64,
                           out_channels=64))))
