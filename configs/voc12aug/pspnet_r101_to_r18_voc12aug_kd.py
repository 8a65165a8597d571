# Vanilla pixel-wise KD on Pascal VOC 2012 + SBD (21 classes), 512x512 crops,
# batch 4 x 4 GPUs, 40k iterations.
# Teacher: PSPNet-R101-d8, 78.52 mIoU (OpenMMLab model zoo,
# pspnet_r101-d8_4xb4-40k_voc12aug-512x512, single scale; the 20k schedule's
# model has 78.47).
# Student: PSPNet-R18-d8 of pspnet_r18_voc12aug.py, which also gives the
# data, schedule and runtime: MMSegmentation's R101 VOC-aug config with an
# R18 backbone. No zoo baseline exists for this student (MMSegmentation has
# no R18 VOC model); pspnet_r18_voc12aug.py trains it alone.
# The loss setting is that of ../pspnet_r101_to_r18_kd.py (Cityscapes): tau 1
# and weight 1 on the per-pixel mean KL, CIRKD's KD baseline (winycg/CIRKD,
# losses/kd.py CriterionKD; train_kd.py --kd-temperature 1, --lambda-kd 1).
_base_ = ['./pspnet_r18_voc12aug.py']

model = dict(
    _delete_=True,
    type='mmkd.SegDistiller',
    student={{_base_.model}},
    teacher=dict(
        config='mmseg::pspnet/pspnet_r101-d8_4xb4-40k_voc12aug-512x512.py',
        checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/'
        'pspnet/pspnet_r101-d8_512x512_40k_voc12aug/'
        'pspnet_r101-d8_512x512_40k_voc12aug_20200613_161222-bc933b18.pth'),
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
