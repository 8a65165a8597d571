# DIST on the decode head's logits alone (beta = gamma = tau = 1, weight 1);
# the authors' setting, deeplabv3_r101_to_r18_dist.py, distils the auxiliary
# head's logits too. Teacher, student, data and schedule as in
# deeplabv3_r101_to_r18_kd.py.
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dist=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=1.0)))
