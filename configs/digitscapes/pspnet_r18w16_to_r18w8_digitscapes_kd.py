# KD from the DigitScapes teacher (pspnet_r18w16_digitscapes.py, trained
# first) into the student of pspnet_r18w8_digitscapes.py, same data and
# schedule as the student alone. tau 1, weight 1: the KD baseline of the
# CIRKD and DIST segmentation code.
_base_ = ['./pspnet_r18w8_digitscapes.py']

model = dict(
    _delete_=True,
    type='mmkd.SegDistiller',
    student=_base_.model,
    teacher=dict(
        config='mmkd::digitscapes/pspnet_r18w16_digitscapes.py',
        checkpoint='work_dirs/pspnet_r18w16_digitscapes/iter_2000.pth'),
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0)))

# --resume continues exactly where the run stopped.
custom_hooks = [dict(type='mmkd.ResumeRandomStateHook')]
