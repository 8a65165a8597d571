# DIST on the decode head's logits and on the auxiliary head's, at weight
# 0.4 for the latter, as the DIST authors' segmentation code does
# (hunto/DIST_KD, segmentation/train_kd.py). Teacher, student, data and
# schedule as in pspnet_r101_to_r18_kd.py. The teacher's auxiliary head
# runs only because loss_aux reads it.
_base_ = ['./pspnet_r101_to_r18_dist.py']

model = dict(
    distill_losses=dict(
        loss_aux=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=0.4,
            student='auxiliary_head', teacher='auxiliary_head')))
