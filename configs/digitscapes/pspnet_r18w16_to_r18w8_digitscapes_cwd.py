# Channel-wise distillation; tau 1 and weight 5 as the Cityscapes config
# (MMRazor's setting). Teacher, student, data and schedule as in
# pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_cwd=dict(type='CWDLoss', tau=1.0, loss_weight=5.0)))
