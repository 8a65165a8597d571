# Decoupled KD (Zhao et al., CVPR 2022) on ImageNet-1k, ResNet-34 into
# ResNet-18: alpha 1, beta 0.5, tau 1, a 1-epoch warm-up, mdistiller's
# setting for this pair (configs/imagenet/r34_r18/dkd.yaml). Teacher,
# student, data and schedule as in resnet34_to_resnet18_in1k_kd.py.
_base_ = ['./resnet34_to_resnet18_in1k_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_dkd=dict(type='DKDLoss', alpha=1.0, beta=0.5, tau=1.0,
                      warmup_epochs=1, loss_weight=1.0)))
