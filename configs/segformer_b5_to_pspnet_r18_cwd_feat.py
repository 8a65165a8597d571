# CWD on the logits (as segformer_b5_to_pspnet_r18_cwd.py) and on the decode
# heads' features before their classifiers, at the feature setting of
# pspnet_r101_to_r18_cwd_feat.py (tau 4, weight 50; CIRKD's code). The
# teacher's are the SegFormer head's fused features (decode_head.fusion_conv,
# 256 channels at 1/4 of the input), the student's its bottleneck's (128
# channels at 1/8): a 1x1 convolution with batch norm maps 128 channels to
# 256, and with distill_size='finer' the student's map is upsampled to the
# teacher's.
_base_ = ['./segformer_b5_to_pspnet_r18_cwd.py']

model = dict(
    distill_losses=dict(
        loss_feat=dict(
            type='CWDLoss', tau=4.0, loss_weight=50.0,
            student='decode_head.bottleneck',
            teacher='decode_head.fusion_conv',
            connector=dict(type='mmkd.ConvConnector', in_channels=128,
                           out_channels=256))))
