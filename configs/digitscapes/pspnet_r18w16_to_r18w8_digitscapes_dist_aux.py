# DIST on the decode heads' logits and on the auxiliary heads' at weight
# 0.4, as configs/pspnet_r101_to_r18_dist_aux.py. Teacher, student, data
# and schedule as in pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_dist.py']

model = dict(
    distill_losses=dict(
        loss_aux=dict(
            type='DISTLoss', beta=1.0, gamma=1.0, tau=1.0, loss_weight=0.4,
            student='auxiliary_head', teacher='auxiliary_head')))
