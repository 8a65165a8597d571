# KD from the digits teacher (resnet50_digits.py, trained first) into the
# student of resnet18_digits.py, same data and schedule as the student
# alone. tau 4, weight 1: the usual classification KD setting, untuned.
_base_ = ['./resnet18_digits.py']

model = dict(
    _delete_=True,
    type='mmkd.ClsDistiller',
    student={{_base_.model}},
    teacher=dict(
        config='mmkd::digits/resnet50_digits.py',
        checkpoint='work_dirs/resnet50_digits/epoch_20.pth'),
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=4.0, loss_weight=1.0)))

# --resume continues exactly where the run stopped.
custom_hooks = [dict(type='mmkd.ResumeRandomStateHook')]
