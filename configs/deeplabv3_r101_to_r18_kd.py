# Vanilla pixel-wise KD on Cityscapes, 80k iterations, batch 2 x 4 GPUs.
# Teacher: DeepLabV3-R101-d8, 80.20 mIoU (OpenMMLab model zoo).
# Student: DeepLabV3-R18-d8, 76.70 mIoU trained alone (OpenMMLab model zoo);
# the student, data, schedule and runtime are MMSegmentation's own config.
# The distill losses of every deeplabv3_* config are those of the pspnet_*
# config of the same method (tests/test_configs.py checks it).
_base_ = [
    'mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    './_base_/cityscapes_checked_loading.py'
]
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmkd.SegDistiller',
    student={{_base_.model}},
    teacher=dict(
        config='mmseg::deeplabv3/'
        'deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/'
        'deeplabv3/deeplabv3_r101-d8_512x1024_80k_cityscapes/'
        'deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-'
        '9e428899.pth'),
    distill_losses=dict(loss_kd=dict(type='KDLoss', tau=1.0, loss_weight=1.0)),
)

# Evaluate the teacher once before training, to log its mIoU beside the
# student's (one more validation pass):
#   --cfg-options custom_hooks.0.enabled=True
# ResumeRandomStateHook: --resume continues exactly where the run stopped.
custom_hooks = [
    dict(type='mmkd.ValidateTeacherHook', enabled=False),
    dict(type='mmkd.ResumeRandomStateHook'),
]

# Checked loading (configs/_base_/cityscapes_checked_loading.py), otherwise
# MMSegmentation's Cityscapes pipelines.
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.checked_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.checked_test_pipeline}}))
test_dataloader = val_dataloader
