# Vanilla pixel-wise KD on Cityscapes, 80k iterations, batch 2 x 4 GPUs.
# Teacher: PSPNet-R101-d8, 79.76 mIoU (OpenMMLab model zoo).
# Student: PSPNet-R18-d8, 74.87 mIoU trained alone (OpenMMLab model zoo);
# the student, data, schedule and runtime are MMSegmentation's own config.
_base_ = [
    'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    './_base_/cityscapes_checked_loading.py'
]
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmkd.SegDistiller',
    student={{_base_.model}},
    teacher=dict(
        config='mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/'
        'pspnet/pspnet_r101-d8_512x1024_80k_cityscapes/'
        'pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth'),
    # tau 1 and weight 1 on the per-pixel mean KL: CIRKD's KD baseline
    # (winycg/CIRKD, losses/kd.py CriterionKD; train_kd.py
    # --kd-temperature 1, --lambda-kd 1).
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
