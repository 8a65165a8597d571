# Channel-wise distillation on the decode head's logits.
# Teacher, student, data and schedule as in deeplabv3_r101_to_r18_kd.py.
# tau = 1 and weight 5 are MMRazor's setting for the PSPNet pair
# (cwd_logits_pspnet_r101_d8_pspnet_r18_d8_512x1024_cityscapes_80k.py).
_base_ = ['./deeplabv3_r101_to_r18_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_cwd=dict(type='CWDLoss', tau=1.0, loss_weight=5.0)))
