# DIST on the decode head's logits and on the auxiliary head's (weight
# 0.4), as pspnet_r101_to_r18_dist_aux.py. Teacher, student, data and
# schedule as in deeplabv3_r101_to_r18_kd.py.
_base_ = ['./deeplabv3_r101_to_r18_dist.py']

model = dict(
    distill_losses=dict(
        loss_aux=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=0.4,
            student='auxiliary_head', teacher='auxiliary_head')))
