# configs/pspnet_r101_to_r18_at.py on DigitScapes: AT on the decode heads'
# bottleneck features (64 channels in both), p 2, weight 10000, beside KD
# (tau 1, weight 1). Teacher, student, data and schedule as in
# pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0),
        loss_at=dict(
            type='ATLoss', p=2.0, loss_weight=10000.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck')))
