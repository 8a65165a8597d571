# Vanilla pixel-wise KD on ADE20K (150 classes), 512x512 crops, batch 4 x 4
# GPUs, 160k iterations.
# Teacher: PSPNet-R101-d8, 44.39 mIoU (OpenMMLab model zoo,
# pspnet_r101-d8_4xb4-160k_ade20k-512x512, single scale).
# Student: PSPNet-R18-d8 of pspnet_r18_ade20k.py, which also gives the data,
# schedule and runtime: MMSegmentation's R101 ADE20K config with an R18
# backbone. No zoo baseline exists for this student (MMSegmentation has no
# R18 ADE20K model); pspnet_r18_ade20k.py trains it alone.
# The loss setting is that of ../pspnet_r101_to_r18_kd.py (Cityscapes): tau 1
# and weight 1 on the per-pixel mean KL, CIRKD's KD baseline (winycg/CIRKD,
# losses/kd.py CriterionKD; train_kd.py --kd-temperature 1, --lambda-kd 1).
_base_ = ['./pspnet_r18_ade20k.py']

model = dict(
    _delete_=True,
    type='mmkd.SegDistiller',
    student={{_base_.model}},
    teacher=dict(
        config='mmseg::pspnet/pspnet_r101-d8_4xb4-160k_ade20k-512x512.py',
        checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/'
        'pspnet/pspnet_r101-d8_512x512_160k_ade20k/'
        'pspnet_r101-d8_512x512_160k_ade20k_20200615_100650-967c316f.pth'),
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
