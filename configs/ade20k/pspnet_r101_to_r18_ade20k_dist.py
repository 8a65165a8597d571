# DIST (Huang et al., NeurIPS 2022) on ADE20K: inter-class plus intra-class
# Pearson correlation of the softmaxes, on the decode head's logits (weight
# 1) and on the auxiliary head's (weight 0.4), beta = gamma = tau = 1: the
# setting of ../pspnet_r101_to_r18_dist.py, the authors' segmentation
# setting (hunto/DIST_KD, segmentation/train_kd.py). The teacher's auxiliary
# head runs only because loss_aux reads it.
# Teacher, student, data and schedule as in pspnet_r101_to_r18_ade20k_kd.py.
_base_ = ['./pspnet_r101_to_r18_ade20k_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dist=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=1.0),
        loss_aux=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=0.4,
            student='auxiliary_head', teacher='auxiliary_head')))
