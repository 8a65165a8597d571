# Channel-wise distillation on the decode head's logits, on ADE20K. tau 1
# and weight 5: the setting of ../pspnet_r101_to_r18_cwd.py, MMRazor's for
# this pair on Cityscapes
# (cwd_logits_pspnet_r101_d8_pspnet_r18_d8_512x1024_cityscapes_80k.py); not
# tuned on ADE20K.
# Teacher, student, data and schedule as in pspnet_r101_to_r18_ade20k_kd.py.
_base_ = ['./pspnet_r101_to_r18_ade20k_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_cwd=dict(type='CWDLoss', tau=1.0, loss_weight=5.0)))
