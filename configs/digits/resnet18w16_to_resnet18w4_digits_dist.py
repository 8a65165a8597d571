# DIST: inter-class plus intra-class Pearson correlation of the softmaxes.
# Teacher, student, data and schedule as in
# resnet18w16_to_resnet18w4_digits_kd.py.
# beta = gamma = tau = 1, weight 1: the DIST paper's ImageNet setting.
_base_ = ['./resnet18w16_to_resnet18w4_digits_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dist=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=1.0)))
