# Decoupled KD (Zhao et al., CVPR 2022) on CIFAR-100, ResNet-50 into
# ResNet-18: alpha 1, beta 8, tau 4, a 20-epoch warm-up, mdistiller's
# CIFAR-100 setting (mdistiller/engine/cfg.py). Teacher, student, data and
# schedule as in resnet50_to_resnet18_cifar100_kd.py.
_base_ = ['./resnet50_to_resnet18_cifar100_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dkd=dict(type='DKDLoss', alpha=1.0, beta=8.0, tau=4.0,
                      warmup_epochs=20, loss_weight=1.0)))
