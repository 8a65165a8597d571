# Vanilla KD on ImageNet-1k: ResNet-34 teacher, ResNet-18 student.
# Teacher: 73.62 top-1 (MMPretrain model zoo); student alone: 69.90.
# Student, data (batch 32 x 8 GPUs), 100-epoch schedule and runtime are
# MMPretrain's own resnet18_8xb32_in1k config.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmkd.ClsDistiller',
    student={{_base_.model}},
    teacher=dict(
        config='mmpretrain::resnet/resnet34_8xb32_in1k.py',
        checkpoint='https://download.openmmlab.com/mmclassification/v0/'
        'resnet/resnet34_8xb32_in1k_20210831-f257d4e6.pth'),
    # tau 4: the KD baseline of the DIST paper's ImageNet table (T=4)
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=4.0, loss_weight=1.0)),
)

# --resume continues exactly where the run stopped.
custom_hooks = [dict(type='mmkd.ResumeRandomStateHook')]
