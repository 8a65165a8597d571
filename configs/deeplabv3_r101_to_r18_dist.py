# DIST: inter-class plus intra-class Pearson correlation of the softmaxes.
# Teacher, student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
# beta = gamma = tau = 1 and weight 1 are the authors' segmentation setting
# (hunto/DIST_KD, segmentation/train_kd.py); there the aux head's logits
# are distilled too (weight 0.4): that is deeplabv3_r101_to_r18_dist_aux.py.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dist=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=1.0)))
