# KD from the digits teacher (resnet18w16_digits.py, trained first) into the
# student of resnet18w4_digits.py, same data and schedule as the student
# alone. tau 4, weight 1: the usual classification KD setting.
_base_ = ['./resnet18w4_digits.py']

model = dict(
    _delete_=True,
    type='mmkd.ClsDistiller',
    student={{_base_.model}},
    teacher=dict(
        config='mmkd::digits/resnet18w16_digits.py',
        checkpoint='work_dirs/resnet18w16_digits/epoch_12.pth'),
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=4.0, loss_weight=1.0)))

# --resume continues exactly where the run stopped.
custom_hooks = [dict(type='mmkd.ResumeRandomStateHook')]
