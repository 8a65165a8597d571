# Channel-wise distillation of features as well as logits: CWD on the
# decode heads' logits (tau 1, weight 5, as pspnet_r101_to_r18_cwd.py) and
# on the output of their bottleneck, the 3x3 convolution that fuses the
# pyramid-pooled features (the CWD paper distils this "feature map" too;
# tau 4 and weight 3 are ours, untuned on Cityscapes). The student's
# bottleneck has 128 channels, the teacher's 512: a 1x1 convolution with
# batch norm maps one to the other, trained with the student and left out
# of the exported student.
_base_ = ['./pspnet_r101_to_r18_cwd.py']

model = dict(
    distill_losses=dict(
        loss_feat=dict(
            type='CWDLoss', tau=4.0, loss_weight=3.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck',
            connector=dict(type='mmkd.ConvConnector', in_channels=128,
                           out_channels=512))))
