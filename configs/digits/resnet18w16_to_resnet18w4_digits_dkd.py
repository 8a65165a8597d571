# DKD on the digit patches: alpha 1, beta 8, tau 4 (mdistiller's CIFAR-100
# setting), without its warm-up on this 20-epoch schedule. Teacher, student,
# data and schedule as in resnet18w16_to_resnet18w4_digits_kd.py.
_base_ = ['./resnet18w16_to_resnet18w4_digits_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dkd=dict(type='DKDLoss', alpha=1.0, beta=8.0, tau=4.0,
                      loss_weight=1.0)))
