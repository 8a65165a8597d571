# DIST, the authors' segmentation setting as the Cityscapes config
# (beta = gamma = tau = 1, weight 1). Teacher, student, data and schedule as
# in pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dist=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=1.0)))
