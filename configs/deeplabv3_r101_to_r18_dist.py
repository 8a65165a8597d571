# DIST (Huang et al., NeurIPS 2022): inter-class plus intra-class Pearson
# correlation of the softmaxes, on the decode head's logits (weight 1) and
# on the auxiliary head's (weight 0.4), beta = gamma = tau = 1: the authors'
# segmentation setting (hunto/DIST_KD, segmentation/train_kd.py: DIST() and
# kd = DIST(decode) + 0.4 DIST(aux)). The teacher's auxiliary head runs only
# because loss_aux reads it. deeplabv3_r101_to_r18_dist_decode.py distils the
# decode head's logits alone.
# Teacher, student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dist=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=1.0),
        loss_aux=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=0.4,
            student='auxiliary_head', teacher='auxiliary_head')))
