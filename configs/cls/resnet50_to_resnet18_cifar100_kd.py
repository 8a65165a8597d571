# Vanilla KD on CIFAR-100: ResNet-50 teacher, ResNet-18 student (the CIFAR
# ResNets of MMPretrain, 3x3 stem). Teacher: 79.90 top-1 (MMPretrain model
# zoo). The zoo has no ResNet-18 for CIFAR-100: train the student alone with
#   python tools/train.py configs/cls/resnet18_cifar100.py
# for the baseline. Data (batch 16 x 8 GPUs), 200-epoch schedule and runtime
# are MMPretrain's resnet50_8xb16_cifar100 config.
_base_ = ['./resnet18_cifar100.py']
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmkd.ClsDistiller',
    student={{_base_.model}},
    teacher=dict(
        config='mmpretrain::resnet/resnet50_8xb16_cifar100.py',
        checkpoint='https://download.openmmlab.com/mmclassification/v0/'
        'resnet/resnet50_b16x8_cifar100_20210528-67b58a1b.pth'),
    # tau 4 and weight 1: the usual CIFAR-100 KD setting (tau 4), untuned
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=4.0, loss_weight=1.0)),
)

# --resume continues exactly where the run stopped.
custom_hooks = [dict(type='mmkd.ResumeRandomStateHook')]
