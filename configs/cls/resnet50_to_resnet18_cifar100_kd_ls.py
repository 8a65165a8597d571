# KD on standardised logits (Sun et al., CVPR 2024), CIFAR-100, ResNet-50
# into ResNet-18: tau 2, weight 9, the authors' CIFAR-100 command
# (--logit-stand --base-temp 2 --kd-weight 9). Teacher, student, data and
# schedule as in resnet50_to_resnet18_cifar100_kd.py.
_base_ = ['./resnet50_to_resnet18_cifar100_kd.py']

model = dict(
    distill_losses=dict(
        _delete_=True,
        loss_kd=dict(type='KDLoss', tau=2.0, standardize=True,
                     loss_weight=9.0)))
