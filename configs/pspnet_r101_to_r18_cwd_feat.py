# Channel-wise distillation of features as well as logits: CWD on the decode
# heads' logits (tau 1, weight 5, as pspnet_r101_to_r18_cwd.py) and on the
# output of the decode heads' bottleneck, the 3x3 convolution that fuses the
# pyramid-pooled (or ASPP) features, at tau 4 and weight 50: the feature
# setting of the CWD paper as CIRKD's code runs it (winycg/CIRKD,
# scripts/train_kd/train_cwd.sh: --lambda-cwd-fea 50, CriterionCWD
# temperature 4). The student's bottleneck has 128 channels, the teacher's
# 512: a 1x1 convolution with batch norm maps one to the other, trained with
# the student and left out of the exported student. Teacher, student, data
# and schedule as in pspnet_r101_to_r18_kd.py.
_base_ = ['./pspnet_r101_to_r18_cwd.py']

model = dict(
    distill_losses=dict(
        loss_feat=dict(
            type='CWDLoss', tau=4.0, loss_weight=50.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck',
            connector=dict(type='mmkd.ConvConnector', in_channels=128,
                           out_channels=512))))
