# ResNet-18 (CIFAR variant) trained alone on CIFAR-100: the student baseline
# of the resnet50_to_resnet18_cifar100_* configs, which the MMPretrain zoo
# does not have. MMPretrain's resnet50_8xb16_cifar100 config with a depth-18
# backbone.
_base_ = ['mmpretrain::resnet/resnet50_8xb16_cifar100.py']

model = dict(backbone=dict(depth=18), head=dict(in_channels=512))
