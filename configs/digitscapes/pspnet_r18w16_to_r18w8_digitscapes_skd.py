# configs/pspnet_r101_to_r18_skd.py on DigitScapes: the pair-wise SKD term on
# the decode heads' bottleneck features, 2x2 patches, weight 10, beside KD
# (tau 1, weight 1). Teacher, student, data and schedule as in
# pspnet_r18w16_to_r18w8_digitscapes_kd.py.
_base_ = ['./pspnet_r18w16_to_r18w8_digitscapes_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0),
        loss_skd=dict(
            type='SKDLoss', patch_size=2, loss_weight=10.0,
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck')))
