# configs/pspnet_r101_to_r18_dkd.py on DigitScapes: DKD per pixel with the
# labels, alpha 1, beta 0.5, tau 1. Teacher, student, data and schedule as in
# pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dkd=dict(
            type='DKDLoss', alpha=1.0, beta=0.5, tau=1.0, loss_weight=1.0)))
